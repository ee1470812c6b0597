//! Conformance for Directory Sync: SCIM users and groups, filters evaluated by the
//! database, memberships, events and isolation, run on SQLite and PostgreSQL.

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vestibule_core::directory_sync::scim::parse_filter;
use vestibule_core::directory_sync::{DirectoryCredentials, DirectoryFilter, DirectoryMemberFilter};
use vestibule_core::environments::EnvironmentKind;
use vestibule_core::events::EventFilter;
use vestibule_core::kernel::pagination::PageRequest;
use vestibule_core::{CoreError, Store, Vestibule};
use vestibule_test_support::app;

struct Setup {
    app: Vestibule,
    env: String,
    creds: DirectoryCredentials,
    token: String,
}

async fn setup(store: Arc<dyn Store>) -> Setup {
    let app = app(store);
    let env = app.create_environment("A", EnvironmentKind::Test, None).await.unwrap().id;
    let org = app.create_organization(&env, &json!({"name": "Acme"})).await.unwrap();
    let d = app
        .create_directory(&env, &json!({"organization_id": org.id, "name": "Okta", "type": "okta scim v2.0"}))
        .await
        .unwrap();
    assert_eq!(d.directory.state, "unlinked");
    let token = d.scim.bearer_token.clone();
    let creds = app.authenticate_scim(&d.directory.external_key, &token).await.unwrap().expect("token accepted");
    assert_eq!(creds.directory.state, "linked");
    Setup { app, env, creds, token }
}

/// The `dsync.*` events of the environment, oldest first.
async fn event_names(app: &Vestibule, env: &str) -> Vec<String> {
    let all = app.list_events(env, EventFilter { limit: 100, ..Default::default() }).await.unwrap();
    all.into_iter().map(|e| e.event).filter(|e| e.starts_with("dsync.")).collect()
}

async fn user_names(s: &Setup, filter: &str) -> Vec<String> {
    let cond = parse_filter(Some(filter), false).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let list = s.app.scim_list_users(&s.creds, &cond, 1, 100).await.unwrap();
    let mut names: Vec<String> =
        list["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(list["totalResults"], json!(names.len()), "{filter}");
    names
}

fn user(name: &str, given: &str, work: &str, active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name, "externalId": format!("ext-{given}"), "active": active,
        "name": {"givenName": given, "familyName": "Tester"},
        "emails": [{"type": "work", "value": work, "primary": true}, {"type": "home", "value": format!("{given}@home.example")}],
    })
}

async fn filters_run_in_the_database(store: Arc<dyn Store>) {
    let s = setup(store).await;
    for (n, g, w, a) in [
        ("ada@acme.com", "Ada", "ada@acme.com", true),
        ("Bob@Acme.com", "Bob", "bob@work.example", true),
        ("carol", "Carol", "carol_x@acme.com", false),
    ] {
        s.app.scim_create_user(&s.creds, &user(n, g, w, a)).await.unwrap();
    }
    assert_eq!(user_names(&s, r#"userName eq "BOB@acme.COM""#).await, ["Bob@Acme.com"]);
    assert_eq!(user_names(&s, r#"userName sw "a" or name.givenName eq "carol""#).await, ["ada@acme.com", "carol"]);
    assert_eq!(user_names(&s, r#"emails[type eq "work" and value ew "@acme.com"]"#).await, ["ada@acme.com", "carol"]);
    assert_eq!(user_names(&s, r#"emails[type eq "home" and value co "bob"]"#).await, ["Bob@Acme.com"]);
    assert_eq!(user_names(&s, r#"emails.value eq "carol_x@acme.com""#).await, ["carol"]);
    // `_` is a literal in a pattern, not a wildcard.
    assert_eq!(user_names(&s, r#"emails co "l_x""#).await, ["carol"]);
    assert_eq!(user_names(&s, r#"emails co "lax""#).await, Vec::<String>::new());
    assert_eq!(user_names(&s, "active eq false").await, ["carol"]);
    assert_eq!(
        user_names(&s, r#"not (active eq false) and (externalId eq "ext-Ada" or externalId eq "ext-bob")"#).await,
        ["ada@acme.com"]
    );
    assert_eq!(user_names(&s, r#"meta.created gt "2000-01-01T00:00:00Z""#).await.len(), 3);
    assert_eq!(user_names(&s, r#"userName ne "carol""#).await, ["Bob@Acme.com", "ada@acme.com"]);
    // Pages: startIndex is 1-based, totalResults counts every match.
    let page = s.app.scim_list_users(&s.creds, &parse_filter(None, false).unwrap(), 2, 1).await.unwrap();
    assert_eq!(
        (page["totalResults"].clone(), page["itemsPerPage"].clone(), page["startIndex"].clone()),
        (json!(3), json!(1), json!(2))
    );
}

async fn usernames_are_unique_per_directory_case_insensitively(store: Arc<dyn Store>) {
    let s = setup(store).await;
    s.app.scim_create_user(&s.creds, &user("dup@acme.com", "D", "dup@acme.com", true)).await.unwrap();
    let before = event_names(&s.app, &s.env).await;
    let err = s.app.scim_create_user(&s.creds, &user("DUP@acme.com", "E", "e@acme.com", true)).await.unwrap_err();
    match err {
        CoreError::Scim(e) => assert_eq!((e.status, e.scim_type), (409, Some("uniqueness"))),
        e => panic!("{e:?}"),
    }
    assert_eq!(event_names(&s.app, &s.env).await, before, "nothing recorded");
    assert_eq!(user_names(&s, "userName pr").await, ["dup@acme.com"]);
    // Another directory of the same environment may reuse the name.
    let org = s.app.create_organization(&s.env, &json!({"name": "Other"})).await.unwrap();
    let d2 = s
        .app
        .create_directory(&s.env, &json!({"organization_id": org.id, "name": "Entra", "type": "azure scim v2.0"}))
        .await
        .unwrap();
    let c2 = s.app.authenticate_scim(&d2.directory.external_key, &d2.scim.bearer_token).await.unwrap().unwrap();
    s.app.scim_create_user(&c2, &user("dup@acme.com", "D", "dup@acme.com", true)).await.unwrap();
}

async fn updates_emit_only_real_changes(store: Arc<dyn Store>) {
    let s = setup(store).await;
    let created = s.app.scim_create_user(&s.creds, &user("ada@acme.com", "Ada", "ada@acme.com", true)).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    // A PUT of the same resource changes nothing and records nothing.
    s.app.scim_replace_user(&s.creds, &id, &user("ada@acme.com", "Ada", "ada@acme.com", true)).await.unwrap();
    assert_eq!(event_names(&s.app, &s.env).await, ["dsync.activated", "dsync.user.created"]);
    // Entra's deactivation: a capitalised op and a boolean as a string.
    let patched = s
        .app
        .scim_patch_user(&s.creds, &id, &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}))
        .await
        .unwrap();
    assert_eq!(patched["active"], json!(false));
    let events = s.app.list_events(&s.env, EventFilter { limit: 100, ..Default::default() }).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.event, "dsync.user.updated");
    assert_eq!(last.data["state"], json!("inactive"));
    assert_eq!(last.data["previous_attributes"], json!({"active": true}));
    let workos = s.app.get_directory_user(&s.env, &id).await.unwrap();
    assert_eq!(
        (workos["state"].clone(), workos["first_name"].clone(), workos["email"].clone()),
        (json!("inactive"), json!("Ada"), json!("ada@acme.com"))
    );
    let page = PageRequest { limit: 10, ..Default::default() };
    let dir = Some(s.creds.directory.id.clone());
    for (idp, email, found) in [
        (Some("ext-Ada"), None, 1),
        (Some("ext-ada"), None, 0),
        (None, Some("ADA@acme.com"), 1),
        (None, Some("Ada@home.example"), 0),
    ] {
        let f = DirectoryMemberFilter {
            directory_id: dir.clone(),
            idp_id: idp.map(str::to_owned),
            email: email.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(
            s.app.list_directory_users(&s.env, f, page.clone()).await.unwrap().data.len(),
            found,
            "{idp:?} {email:?}"
        );
    }
    // Unknown attributes stay in raw_attributes.
    let mut extra = user("ada@acme.com", "Ada", "ada@acme.com", false);
    extra["urn:example:custom:1.0:User"] = json!({"badge": "42"});
    s.app.scim_replace_user(&s.creds, &id, &extra).await.unwrap();
    let workos = s.app.get_directory_user(&s.env, &id).await.unwrap();
    assert_eq!(workos["raw_attributes"]["urn:example:custom:1.0:User"], json!({"badge": "42"}));
    assert_eq!(workos["custom_attributes"]["username"], json!("ada@acme.com"));
    // A directory's own mapping adds custom attributes from any SCIM attribute.
    let org = s.app.create_organization(&s.env, &json!({"name": "Mapped"})).await.unwrap();
    let bad = s
        .app
        .create_directory(
            &s.env,
            &json!({"organization_id": org.id, "name": "M", "custom_attributes": {"x": "not a path!"}}),
        )
        .await;
    assert!(matches!(bad, Err(CoreError::Invalid(_))), "{bad:?}");
    let mapping =
        json!({"badge": "urn:example:custom:1.0:User:badge", "given": "name.givenName", "missing": "nickName"});
    let d = s
        .app
        .create_directory(&s.env, &json!({"organization_id": org.id, "name": "M", "custom_attributes": mapping}))
        .await
        .unwrap();
    let c = s.app.authenticate_scim(&d.directory.external_key, &d.scim.bearer_token).await.unwrap().unwrap();
    let mapped = s.app.scim_create_user(&c, &extra).await.unwrap();
    let workos = s.app.get_directory_user(&s.env, mapped["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        (workos["custom_attributes"]["badge"].clone(), workos["custom_attributes"]["given"].clone()),
        (json!("42"), json!("Ada"))
    );
    assert!(workos["custom_attributes"].get("missing").is_none());
    // A bad path changes nothing.
    let before = event_names(&s.app, &s.env).await;
    let err = s
        .app
        .scim_patch_user(&s.creds, &id, &json!({"Operations": [{"op": "replace", "path": "name.givenName", "value": "X"}, {"op": "replace", "path": "bogus", "value": 1}]}))
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::Scim(ref e) if e.scim_type == Some("invalidPath")), "{err:?}");
    assert_eq!(event_names(&s.app, &s.env).await, before);
    assert_eq!(s.app.get_directory_user(&s.env, &id).await.unwrap()["first_name"], json!("Ada"));
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn memberships_are_idempotent_and_evented_once(store: Arc<dyn Store>) {
    let s = setup(store).await;
    let mut ids = Vec::new();
    for n in ["a", "b", "c"] {
        let u = s.app.scim_create_user(&s.creds, &json!({"userName": n})).await.unwrap();
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let g = s
        .app
        .scim_create_group(&s.creds, &json!({"displayName": "Eng", "members": [{"value": ids[0]}]}))
        .await
        .unwrap();
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    for _ in 0..2 {
        s.app
            .scim_patch_group(
                &s.creds,
                &gid,
                &patch(json!([{"op": "Add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[0]}]}])),
            )
            .await
            .unwrap();
    }
    for _ in 0..2 {
        s.app
            .scim_patch_group(
                &s.creds,
                &gid,
                &patch(json!([{"op": "Remove", "path": format!("members[value eq \"{}\"]", ids[0])}])),
            )
            .await
            .unwrap();
    }
    let names = event_names(&s.app, &s.env).await;
    let count = |n: &str| names.iter().filter(|e| *e == n).count();
    assert_eq!((count("dsync.group.user_added"), count("dsync.group.user_removed")), (2, 1), "{names:?}");
    // Replace sets the member list; a rename is a group update.
    let out = s
        .app
        .scim_patch_group(
            &s.creds,
            &gid,
            &patch(json!([{"op": "replace", "path": "members", "value": [{"value": ids[2]}]}, {"op": "replace", "value": {"displayName": "Engineering"}}])),
        )
        .await
        .unwrap();
    assert_eq!(out["displayName"], json!("Engineering"));
    let members: Vec<&str> = out["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [ids[2].as_str()]);
    // The WorkOS API sees the same.
    let page = PageRequest { limit: 10, ..Default::default() };
    let by_group = s
        .app
        .list_directory_users(
            &s.env,
            DirectoryMemberFilter { related_id: Some(gid.clone()), ..Default::default() },
            page.clone(),
        )
        .await
        .unwrap();
    assert_eq!(by_group.data.iter().map(|u| u["id"].as_str().unwrap()).collect::<Vec<_>>(), [ids[2].as_str()]);
    assert_eq!(by_group.data[0]["groups"][0]["name"], json!("Engineering"));
    let groups = s
        .app
        .list_directory_groups(
            &s.env,
            DirectoryMemberFilter {
                directory_id: Some(s.creds.directory.id.clone()),
                related_id: Some(ids[2].clone()),
                ..Default::default()
            },
            page.clone(),
        )
        .await
        .unwrap();
    assert_eq!(groups.data.len(), 1);
    // Unknown members are refused and change nothing.
    let before = event_names(&s.app, &s.env).await;
    let err = s.app.scim_patch_group(&s.creds, &gid, &patch(json!([{"op": "add", "path": "members", "value": [{"value": "directory_user_01NOPE000000000000000000000"}]}]))).await;
    assert!(matches!(err, Err(CoreError::Scim(ref e)) if e.scim_type == Some("invalidValue")), "{err:?}");
    assert_eq!(event_names(&s.app, &s.env).await, before);
    // Filters on members run in the database too.
    let cond = parse_filter(Some(&format!("members[value eq \"{}\"]", ids[2])), true).unwrap();
    assert_eq!(s.app.scim_list_groups(&s.creds, &cond, 1, 10, true).await.unwrap()["totalResults"], json!(1));
    // Deleting a user removes its memberships.
    s.app.scim_delete_user(&s.creds, &ids[2]).await.unwrap();
    assert_eq!(s.app.scim_get_group(&s.creds, &gid).await.unwrap().get("members"), None);
}

async fn directories_are_isolated_and_deleted_whole(store: Arc<dyn Store>) {
    let s = setup(store.clone()).await;
    // A second environment's directory: neither token opens the other's endpoint.
    let env2 = s.app.create_environment("B", EnvironmentKind::Test, None).await.unwrap().id;
    let org2 = s.app.create_organization(&env2, &json!({"name": "Beta"})).await.unwrap();
    let d2 = s
        .app
        .create_directory(&env2, &json!({"organization_id": org2.id, "name": "Other", "type": "generic scim v2.0"}))
        .await
        .unwrap();
    assert!(s.app.authenticate_scim(&d2.directory.external_key, &s.token).await.unwrap().is_none());
    assert!(s.app.authenticate_scim(&s.creds.directory.external_key, &d2.scim.bearer_token).await.unwrap().is_none());
    assert!(s.app.get_directory(&env2, &s.creds.directory.id).await.is_err());
    let u = s.app.scim_create_user(&s.creds, &json!({"userName": "x"})).await.unwrap();
    assert!(s.app.get_directory_user(&env2, u["id"].as_str().unwrap()).await.is_err());
    // Rotating the token retires the old one.
    let rotated = s.app.rotate_directory_token(&s.env, &s.creds.directory.id).await.unwrap();
    assert!(s.app.authenticate_scim(&s.creds.directory.external_key, &s.token).await.unwrap().is_none());
    assert!(
        s.app.authenticate_scim(&s.creds.directory.external_key, &rotated.scim.bearer_token).await.unwrap().is_some()
    );
    // Activation happened once.
    assert_eq!(event_names(&s.app, &s.env).await.iter().filter(|e| *e == "dsync.activated").count(), 1);
    let page = PageRequest { limit: 10, ..Default::default() };
    let found = s
        .app
        .list_directories(&s.env, DirectoryFilter { search: Some("OKT".into()), ..Default::default() }, page.clone())
        .await
        .unwrap();
    assert_eq!(found.data.len(), 1);
    s.app.scim_create_group(&s.creds, &json!({"displayName": "G", "members": [{"value": u["id"]}]})).await.unwrap();
    s.app.delete_directory(&s.env, &s.creds.directory.id).await.unwrap();
    assert_eq!(event_names(&s.app, &s.env).await.last().map(String::as_str), Some("dsync.deleted"));
    let users = s.app.list_directory_users(&s.env, DirectoryMemberFilter::default(), page.clone()).await.unwrap();
    let groups = s.app.list_directory_groups(&s.env, DirectoryMemberFilter::default(), page).await.unwrap();
    assert!(users.data.is_empty() && groups.data.is_empty());
    assert!(
        s.app.authenticate_scim(&s.creds.directory.external_key, &rotated.scim.bearer_token).await.unwrap().is_none()
    );
}

/// Polls `check` until it holds, failing after `limit`: for effects promised "within" a time.
async fn within(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::task::yield_now().await;
    }
}

async fn token_changes_reach_other_instances_within_a_second(store: Arc<dyn Store>) {
    let s = setup(store.clone()).await;
    let key = s.creds.directory.external_key.clone();
    // A second instance on the same database, with its own memory.
    let other = app(store);
    assert!(other.authenticate_scim(&key, &s.token).await.unwrap().is_some());
    // This instance rotates: here the old token stops at once, the new one works at once …
    let rotated = s.app.rotate_directory_token(&s.env, &s.creds.directory.id).await.unwrap();
    assert!(s.app.authenticate_scim(&key, &s.token).await.unwrap().is_none());
    assert!(s.app.authenticate_scim(&key, &rotated.scim.bearer_token).await.unwrap().is_some());
    // … and on the other instance, which remembers the old one, it stops within the
    // cache's lifetime, while the new one works at once (a token that does not match what
    // is remembered is always looked up).
    let took = within(Duration::from_millis(1500), "old token refused elsewhere", async || {
        other.authenticate_scim(&key, &s.token).await.unwrap().is_none()
    })
    .await;
    assert!(took <= vestibule_core::directory_sync::SCIM_AUTH_TTL + Duration::from_millis(300), "{took:?}");
    assert!(other.authenticate_scim(&key, &rotated.scim.bearer_token).await.unwrap().is_some());
    // A wrong token is never accepted, cached or not.
    assert!(other.authenticate_scim(&key, "not-the-token").await.unwrap().is_none());
    // Deleting the directory closes its endpoint here at once and elsewhere within a second.
    assert!(other.authenticate_scim(&key, &rotated.scim.bearer_token).await.unwrap().is_some());
    s.app.delete_directory(&s.env, &s.creds.directory.id).await.unwrap();
    assert!(s.app.authenticate_scim(&key, &rotated.scim.bearer_token).await.unwrap().is_none());
    within(Duration::from_millis(1500), "deleted directory refused elsewhere", async || {
        other.authenticate_scim(&key, &rotated.scim.bearer_token).await.unwrap().is_none()
    })
    .await;
}

async fn custom_attribute_mappings_are_editable(store: Arc<dyn Store>) {
    let s = setup(store).await;
    let mut body = user("ada@acme.com", "Ada", "ada@acme.com", true);
    body["urn:example:custom:1.0:User"] = json!({"badge": "42"});
    body["title"] = json!("Engineer");
    let created = s.app.scim_create_user(&s.creds, &body).await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let dir_id = s.creds.directory.id.clone();
    assert!(s.app.get_directory_user(&s.env, &id).await.unwrap()["custom_attributes"].get("badge").is_none());
    let events_before = event_names(&s.app, &s.env).await;

    // Bad mappings are refused whole, naming each bad entry, and change nothing.
    for (bad, field) in [
        (
            json!({"custom_attribute_mapping": {"badge": "not a path!", "ok": "title"}}),
            "custom_attribute_mapping.badge",
        ),
        (json!({"custom_attribute_mapping": {"badge": 5}}), "custom_attribute_mapping.badge"),
        (json!({"custom_attribute_mapping": {"": "title"}}), "custom_attribute_mapping."),
        (json!({"custom_attribute_mapping": ["title"]}), "custom_attribute_mapping"),
        (
            json!({"custom_attribute_mapping": (0..51).map(|i| (format!("k{i}"), json!("title"))).collect::<serde_json::Map<_, _>>()}),
            "custom_attribute_mapping",
        ),
        (json!({"name": ""}), "name"),
    ] {
        match s.app.update_directory(&s.env, &dir_id, &bad).await {
            Err(CoreError::Invalid(errors)) => assert!(errors.iter().any(|e| e.field == field), "{bad}: {errors:?}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let d = s.app.get_directory(&s.env, &dir_id).await.unwrap();
    assert!(d.custom_attribute_mapping.is_empty());
    assert_eq!(d.name, "Okta");

    // A new mapping applies to the users already there and to every later write.
    let mapping = json!({"badge": "urn:example:custom:1.0:User:badge", "given": "name.givenName"});
    let d = s.app.update_directory(&s.env, &dir_id, &json!({"custom_attribute_mapping": mapping})).await.unwrap();
    assert_eq!(serde_json::to_value(&d).unwrap()["custom_attribute_mapping"], mapping);
    let attrs = s.app.get_directory_user(&s.env, &id).await.unwrap()["custom_attributes"].clone();
    assert_eq!(
        (attrs["badge"].clone(), attrs["given"].clone(), attrs["job_title"].clone()),
        (json!("42"), json!("Ada"), json!("Engineer"))
    );
    assert_eq!(event_names(&s.app, &s.env).await, events_before, "the identity provider changed nothing: no event");
    // The SCIM endpoint uses the new mapping at once, with the credentials it resolves now.
    let creds = s.app.authenticate_scim(&s.creds.directory.external_key, &s.token).await.unwrap().unwrap();
    let mut second = user("bob@acme.com", "Bob", "bob@acme.com", true);
    second["urn:example:custom:1.0:User"] = json!({"badge": "7"});
    let bob = s.app.scim_create_user(&creds, &second).await.unwrap();
    let attrs =
        s.app.get_directory_user(&s.env, bob["id"].as_str().unwrap()).await.unwrap()["custom_attributes"].clone();
    assert_eq!((attrs["badge"].clone(), attrs["given"].clone()), (json!("7"), json!("Bob")));
    // Renaming leaves the mapping; null removes it, and the mapped values go with it.
    let d = s.app.update_directory(&s.env, &dir_id, &json!({"name": "Okta (prod)"})).await.unwrap();
    assert_eq!((d.name.as_str(), d.custom_attribute_mapping.len()), ("Okta (prod)", 2));
    let d = s.app.update_directory(&s.env, &dir_id, &json!({"custom_attribute_mapping": null})).await.unwrap();
    assert!(
        d.custom_attribute_mapping.is_empty()
            && serde_json::to_value(&d).unwrap().get("custom_attribute_mapping").is_none()
    );
    let attrs = s.app.get_directory_user(&s.env, &id).await.unwrap()["custom_attributes"].clone();
    assert!(attrs.get("badge").is_none() && attrs.get("given").is_none(), "{attrs}");
    assert_eq!(attrs["username"], json!("ada@acme.com"), "the standard ones stay");
    // Another environment cannot see or edit it.
    let env2 = s.app.create_environment("B", EnvironmentKind::Test, None).await.unwrap().id;
    assert!(matches!(
        s.app.update_directory(&env2, &dir_id, &json!({"name": "x"})).await,
        Err(CoreError::NotFound { .. })
    ));
}

vestibule_test_support::conformance!(
    filters_run_in_the_database,
    usernames_are_unique_per_directory_case_insensitively,
    updates_emit_only_real_changes,
    memberships_are_idempotent_and_evented_once,
    directories_are_isolated_and_deleted_whole,
    token_changes_reach_other_instances_within_a_second,
    custom_attribute_mappings_are_editable,
);
