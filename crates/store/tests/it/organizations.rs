//! One store conformance suite, run against SQLite and PostgreSQL. Every case is a
//! plain async function over `Arc<dyn Store>`; the macro at the bottom instantiates it
//! once per backend, so both implementations are held to the same behaviour.

use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use vestibule_core::environments::{Environment, EnvironmentKind};
use vestibule_core::events::EventFilter;
use vestibule_core::kernel::idempotency::Claim;
use vestibule_core::kernel::pagination::{Order, PageRequest};
use vestibule_core::organizations::OrganizationFilter;
use vestibule_core::{CoreError, Store, StoreError, Timestamp, Vestibule};
use vestibule_test_support::app;

async fn env(app: &Vestibule, name: &str) -> Environment {
    app.create_environment(name, EnvironmentKind::Test, None).await.unwrap()
}

async fn api_keys_are_stored_hashed_and_revocable(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app, "A").await;
    let issued = app.create_api_key(&e, "ci", None).await.unwrap();
    assert!(issued.secret.starts_with("sk_test_"));
    let caller = app.authenticate(&issued.secret).await.unwrap().expect("key authenticates");
    assert_eq!(&*caller.environment_id, e.id.as_str());
    let stored = store.list_api_keys(Some(&e.id)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].key_digest, issued.secret, "the key itself is never stored");
    assert!(!stored[0].obfuscated.contains(&issued.secret[8..40]));
    assert!(store.revoke_api_key(&issued.record.id, Timestamp::now()).await.unwrap());
    assert!(!store.revoke_api_key(&issued.record.id, Timestamp::now()).await.unwrap(), "revoking twice is a no-op");
    // A process that resolved the key before may trust it for `KEY_TTL` more; any fresh
    // resolution refuses it.
    let other_instance = self::app(store.clone());
    assert_eq!(other_instance.authenticate(&issued.secret).await.unwrap(), None);
    assert_eq!(app.authenticate("sk_test_unknown").await.unwrap(), None);
    let dup = app.create_api_key(&e, "dup", Some("sk_test_pinned_value")).await.unwrap();
    assert!(matches!(app.create_api_key(&e, "dup", Some(&dup.secret)).await, Err(CoreError::Conflict { .. })));
}

async fn organizations_round_trip_with_domains_and_events(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app, "A").await;
    let org = app
        .create_organization(
            &e.id,
            &json!({"name": "Acme", "domain_data": [{"domain": "acme.com", "state": "verified"}], "domains": ["acme.io"],
                    "metadata": {"tier": "gold"}, "external_id": "ext-1"}),
        )
        .await
        .unwrap();
    let got = app.get_organization(&e.id, &org.id).await.unwrap();
    assert_eq!(got, org);
    assert_eq!(got.domains.len(), 2);
    assert_eq!(app.get_organization_by_external_id(&e.id, "ext-1").await.unwrap().id, org.id);
    let updated = app
        .update_organization(
            &e.id,
            &org.id,
            &json!({"name": "Acme 2", "domains": ["acme.com", "acme.dev"], "external_id": null}),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Acme 2");
    assert_eq!(updated.external_id, None);
    let names: Vec<_> = updated.domains.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, ["acme.com", "acme.dev"]);
    assert_eq!(updated.domains[0].state, "verified", "a kept domain keeps its state");
    assert_eq!(app.get_organization(&e.id, &org.id).await.unwrap(), updated);
    app.delete_organization(&e.id, &org.id).await.unwrap();
    assert!(matches!(app.get_organization(&e.id, &org.id).await, Err(CoreError::NotFound { .. })));
    // The domains went with it: the name is free again.
    app.create_organization(&e.id, &json!({"name": "Other", "domains": ["acme.com"]})).await.unwrap();
    let all = app.list_events(&e.id, EventFilter { limit: 100, ..Default::default() }).await.unwrap();
    let names: Vec<_> = all.iter().map(|ev| ev.event.as_str()).collect();
    assert_eq!(
        names,
        [
            "organization.created",
            "organization.updated",
            "organization_domain.created",
            "organization_domain.deleted",
            "organization.deleted",
            "organization.created"
        ]
    );
    let only = EventFilter { events: vec!["organization.deleted".into()], limit: 10, ..Default::default() };
    let deleted = app.list_events(&e.id, only).await.unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].data["id"], json!(org.id));
    let after = EventFilter { after: Some(all[3].id.clone()), limit: 10, ..Default::default() };
    assert_eq!(app.list_events(&e.id, after).await.unwrap().len(), 2);
    let by_org = EventFilter { organization_id: Some(org.id.clone()), limit: 100, ..Default::default() };
    assert_eq!(app.list_events(&e.id, by_org).await.unwrap().len(), 5);
    let future =
        EventFilter { range_start: Some(Timestamp::now().plus_millis(60_000)), limit: 10, ..Default::default() };
    assert!(app.list_events(&e.id, future).await.unwrap().is_empty());
}

async fn conflicts_change_nothing(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app, "A").await;
    app.create_organization(&e.id, &json!({"name": "A", "domains": ["taken.com"], "external_id": "x"})).await.unwrap();
    let before = app.list_events(&e.id, EventFilter { limit: 100, ..Default::default() }).await.unwrap().len();
    let dup_domain = app.create_organization(&e.id, &json!({"name": "B", "domains": ["taken.com"]})).await;
    assert!(matches!(dup_domain, Err(CoreError::Conflict { code: "domain_already_exists", .. })), "{dup_domain:?}");
    let dup_ext = app.create_organization(&e.id, &json!({"name": "C", "external_id": "x"})).await;
    assert!(matches!(dup_ext, Err(CoreError::Refused { code: "external_id_already_used", .. })), "{dup_ext:?}");
    let page = app
        .list_organizations(&e.id, Default::default(), PageRequest { limit: 100, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1, "the failed creates left no rows");
    let after = app.list_events(&e.id, EventFilter { limit: 100, ..Default::default() }).await.unwrap().len();
    assert_eq!(before, after, "and no events");
}

async fn pagination_returns_each_id_once_in_both_orders(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app, "A").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(app.create_organization(&e.id, &json!({"name": format!("Org {i}")})).await.unwrap().id);
    }
    for order in [Order::Asc, Order::Desc, Order::Normal] {
        let mut seen = Vec::new();
        let mut req = PageRequest { limit: 10, order, ..Default::default() };
        loop {
            let page = app.list_organizations(&e.id, Default::default(), req.clone()).await.unwrap();
            seen.extend(page.data.iter().map(|o| o.id.clone()));
            let Some(after) = page.after else { break };
            match order {
                Order::Normal => req.before = Some(after),
                _ => req.after = Some(after),
            }
        }
        let mut expected = ids.clone();
        if order != Order::Asc {
            expected.reverse();
        }
        assert_eq!(seen, expected, "order {order:?}");
    }
    // `before` walks back to the first page.
    let p2 = app
        .list_organizations(
            &e.id,
            Default::default(),
            PageRequest { limit: 10, after: Some(ids[15].clone()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(p2.data.first().map(|o| o.id.as_str()), Some(ids[14].as_str()));
    let back = app
        .list_organizations(
            &e.id,
            Default::default(),
            PageRequest { limit: 10, before: p2.before.clone(), ..Default::default() },
        )
        .await
        .unwrap();
    let back_ids: Vec<_> = back.data.iter().map(|o| o.id.clone()).collect();
    let mut expected: Vec<_> = ids[15..25].to_vec();
    expected.reverse();
    assert_eq!(back_ids, expected);
}

async fn filters_search_and_domains(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app, "A").await;
    app.create_organization(&e.id, &json!({"name": "Foo Corp", "domains": ["foo.com"]})).await.unwrap();
    app.create_organization(&e.id, &json!({"name": "Bar 100% Inc", "domains": ["bar.com", "bar.io"]})).await.unwrap();
    app.create_organization(&e.id, &json!({"name": "Baz", "domains": ["baz.com"]})).await.unwrap();
    let req = PageRequest { limit: 10, ..Default::default() };
    let search = |s: &str| OrganizationFilter { search: Some(s.into()), ..Default::default() };
    let names = |p: vestibule_core::kernel::pagination::Page<vestibule_core::organizations::Organization>| {
        p.data.into_iter().map(|o| o.name).collect::<HashSet<_>>()
    };
    assert_eq!(
        names(app.list_organizations(&e.id, search("corp"), req.clone()).await.unwrap()),
        HashSet::from(["Foo Corp".to_string()])
    );
    assert_eq!(
        names(app.list_organizations(&e.id, search("100%"), req.clone()).await.unwrap()),
        HashSet::from(["Bar 100% Inc".to_string()])
    );
    assert!(
        app.list_organizations(&e.id, search("%"), req.clone()).await.unwrap().data.len() == 1,
        "% is matched literally"
    );
    let by_domain = OrganizationFilter { domains: vec!["bar.io".into(), "BAZ.com".into()], ..Default::default() };
    assert_eq!(
        names(app.list_organizations(&e.id, by_domain, req.clone()).await.unwrap()),
        HashSet::from(["Bar 100% Inc".to_string(), "Baz".to_string()])
    );
}

async fn environments_are_isolated(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let a = env(&app, "A").await;
    let b = env(&app, "B").await;
    let org = app.create_organization(&a.id, &json!({"name": "Secret", "domains": ["secret.com"]})).await.unwrap();
    assert!(matches!(app.get_organization(&b.id, &org.id).await, Err(CoreError::NotFound { .. })));
    assert!(matches!(
        app.update_organization(&b.id, &org.id, &json!({"name": "x"})).await,
        Err(CoreError::NotFound { .. })
    ));
    assert!(matches!(app.delete_organization(&b.id, &org.id).await, Err(CoreError::NotFound { .. })));
    assert!(matches!(app.get_organization_domain(&b.id, &org.domains[0].id).await, Err(CoreError::NotFound { .. })));
    let page = app
        .list_organizations(&b.id, Default::default(), PageRequest { limit: 100, ..Default::default() })
        .await
        .unwrap();
    assert!(page.data.is_empty());
    assert!(app.list_events(&b.id, EventFilter { limit: 100, ..Default::default() }).await.unwrap().is_empty());
    // The same domain may belong to an organization in another environment.
    app.create_organization(&b.id, &json!({"name": "Mine", "domains": ["secret.com"]})).await.unwrap();
    assert_eq!(app.get_organization(&a.id, &org.id).await.unwrap().name, "Secret");
}

async fn stale_versions_are_refused(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app, "A").await;
    let org = app.create_organization(&e.id, &json!({"name": "V"})).await.unwrap();
    let mut next = org.clone();
    next.name = "first".into();
    next.version = org.version + 1;
    store.update_organization(&e.id, &next, org.version, &[]).await.unwrap();
    next.name = "second".into();
    let stale = store.update_organization(&e.id, &next, org.version, &[]).await;
    assert!(matches!(stale, Err(StoreError::Contended)), "{stale:?}");
    assert_eq!(app.get_organization(&e.id, &org.id).await.unwrap().name, "first");
}

async fn idempotency_keys_claim_replay_and_expire(store: Arc<dyn Store>) {
    let now = Timestamp::now();
    let old = now.plus_millis(-1);
    assert_eq!(store.claim_idempotency_key("env_a", "k1", "f1", now, old).await.unwrap(), Claim::Fresh);
    assert_eq!(store.claim_idempotency_key("env_a", "k1", "f1", now, old).await.unwrap(), Claim::InFlight);
    assert_eq!(store.claim_idempotency_key("env_a", "k1", "f2", now, old).await.unwrap(), Claim::Mismatch);
    assert_eq!(
        store.claim_idempotency_key("env_b", "k1", "f2", now, old).await.unwrap(),
        Claim::Fresh,
        "keys are per environment"
    );
    store.complete_idempotency_key("env_a", "k1", 201, b"{\"id\":1}").await.unwrap();
    assert_eq!(
        store.claim_idempotency_key("env_a", "k1", "f1", now, old).await.unwrap(),
        Claim::Replay { status: 201, body: b"{\"id\":1}".to_vec() }
    );
    store.release_idempotency_key("env_b", "k1").await.unwrap();
    assert_eq!(
        store.claim_idempotency_key("env_b", "k1", "f3", now, old).await.unwrap(),
        Claim::Fresh,
        "released keys run again"
    );
    let later = now.plus_millis(10);
    assert_eq!(
        store.claim_idempotency_key("env_a", "k1", "f9", later, later).await.unwrap(),
        Claim::Fresh,
        "expired keys are new"
    );
    assert!(store.purge_idempotency_keys(later.plus_millis(1)).await.unwrap() >= 1);
}

async fn rate_limit_counters_accumulate_per_window(store: Arc<dyn Store>) {
    assert_eq!(store.hit_rate_limit("key_a", 1000).await.unwrap(), 1);
    assert_eq!(store.hit_rate_limit("key_a", 1000).await.unwrap(), 2);
    assert_eq!(store.hit_rate_limit("key_b", 1000).await.unwrap(), 1);
    assert_eq!(store.hit_rate_limit("key_a", 2000).await.unwrap(), 1);
    assert_eq!(store.purge_rate_limits(2000).await.unwrap(), 2);
    assert_eq!(store.hit_rate_limit("key_a", 1000).await.unwrap(), 1);
}

async fn migrations_are_idempotent(store: Arc<dyn Store>) {
    // Opening the same database again re-runs the migrator, which must find nothing to do.
    let envs = store.list_environments().await.unwrap();
    assert!(envs.is_empty());
}

vestibule_test_support::conformance!(
    api_keys_are_stored_hashed_and_revocable,
    organizations_round_trip_with_domains_and_events,
    conflicts_change_nothing,
    pagination_returns_each_id_once_in_both_orders,
    filters_search_and_domains,
    environments_are_isolated,
    stale_versions_are_refused,
    idempotency_keys_claim_replay_and_expire,
    rate_limit_counters_accumulate_per_window,
    migrations_are_idempotent,
);

/// `sqlite://PATH?synchronous=full` opens PATH (the parameter is not part of the file
/// name) with commits synced; any other parameter is refused before anything is created.
#[tokio::test]
async fn sqlite_urls_take_the_synchronous_parameter_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let store = vestibule_store::open(&format!("sqlite://{}?synchronous=full", path.display())).await.unwrap();
    let app = app(store);
    let e = env(&app, "A").await;
    assert_eq!(app.create_organization(&e.id, &json!({"name": "Durable"})).await.unwrap().name, "Durable");
    assert!(path.exists(), "the database is the path before `?`");
    let other = dir.path().join("other.db");
    let refused = vestibule_store::open(&format!("sqlite://{}?journal_mode=off", other.display())).await;
    assert!(matches!(refused, Err(vestibule_store::OpenError::UnsupportedParameter(p)) if p == "journal_mode=off"));
    assert!(!other.exists(), "nothing is created for a refused URL");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.contains('?')), "{names:?}");
}

/// A JSON column that no longer decodes is a store error naming the column, on both
/// engines: never an organization served with its metadata silently emptied.
#[tokio::test]
async fn an_undecodable_json_column_is_a_store_error() {
    for backend in [vestibule_test_support::Backend::Sqlite, vestibule_test_support::Backend::Postgres] {
        let db = vestibule_test_support::TestDb::new(backend).await;
        let app = app(db.store().await);
        let e = env(&app, "A").await;
        let org = app.create_organization(&e.id, &json!({"name": "Acme", "metadata": {"tier": "gold"}})).await.unwrap();
        vestibule_test_support::execute_sql(
            &db.url,
            &format!("UPDATE organizations SET metadata = '{{not json' WHERE id = '{}'", org.id),
        )
        .await;
        let read = app.store.get_organization(&e.id, &org.id).await;
        match read {
            Err(StoreError::Backend(cause)) => assert!(cause.to_string().contains("metadata"), "{backend:?}: {cause}"),
            other => panic!("{backend:?}: expected a store error, got {other:?}"),
        }
        assert!(matches!(app.get_organization(&e.id, &org.id).await, Err(CoreError::Internal(_))), "{backend:?}");
    }
}
