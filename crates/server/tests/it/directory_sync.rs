//! The SCIM endpoint through the real router: its own bearer tokens, SCIM-shaped errors
//! for bad input, and nothing changed when a request is refused.

use reqwest::Method;
use serde_json::{Value, json};
use vestibule_test_support::{TestServer, sqlite_server};

struct Dir {
    endpoint: String,
    token: String,
    id: String,
}

async fn directory(s: &TestServer, name: &str) -> Dir {
    let (status, org) = s.call(Method::POST, "/organizations", Some(json!({"name": name}))).await;
    assert_eq!(status, 201, "{org}");
    let (status, d) = s
        .call(
            Method::POST,
            "/directories",
            Some(json!({"organization_id": org["id"], "name": name, "type": "okta scim v2.0"})),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    for field in ["id", "organization_id", "external_key", "type", "state", "name", "created_at", "updated_at"] {
        assert!(d.get(field).is_some(), "{field} in {d}");
    }
    let endpoint = d["scim"]["endpoint"].as_str().unwrap().to_owned();
    assert!(endpoint.starts_with(&s.base) && endpoint.contains("/scim/v2.0/"), "{endpoint}");
    Dir {
        endpoint,
        token: d["scim"]["bearer_token"].as_str().unwrap().to_owned(),
        id: d["id"].as_str().unwrap().to_owned(),
    }
}

async fn scim(
    s: &TestServer, d: &Dir, token: &str, method: Method, path: &str, body: Option<Value>,
) -> (u16, String, Value) {
    let mut req = s.http.request(method, format!("{}{path}", d.endpoint)).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = resp.text().await.unwrap();
    (status, ct, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
}

fn assert_scim_error(status: u16, body: &Value, want_status: u16, want_type: Option<&str>) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{body}");
    assert_eq!(body["status"], json!(want_status.to_string()), "status is a string: {body}");
    assert_eq!(body["scimType"].as_str(), want_type, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

async fn user_count(s: &TestServer, d: &Dir) -> u64 {
    let (status, _, body) = scim(s, d, &d.token, Method::GET, "/Users", None).await;
    assert_eq!(status, 200, "{body}");
    body["totalResults"].as_u64().unwrap()
}

async fn event_count(s: &TestServer) -> usize {
    let (_, body) = s.call(Method::GET, "/events?limit=100", None).await;
    body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn tokens_open_only_their_own_directory() {
    let (_db, s) = sqlite_server().await;
    let a = directory(&s, "A").await;
    let b = directory(&s, "B").await;
    let (status, ct, _) =
        scim(&s, &a, &a.token, Method::POST, "/Users", Some(json!({"userName": "secret@a.example"}))).await;
    assert_eq!((status, ct.as_str()), (201, "application/scim+json"));
    for (token, what) in
        [(b.token.as_str(), "other directory's token"), ("nope", "garbage"), (s.key.as_str(), "an API key")]
    {
        let (status, _, body) = scim(&s, &a, token, Method::GET, "/Users", None).await;
        assert_scim_error(status, &body, 401, None);
        assert!(!body.to_string().contains("secret@a.example"), "{what} leaks nothing");
    }
    let resp = s.http.get(format!("{}/Users", a.endpoint)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // The directory token is not an API key either.
    let (status, _) = s.call_as(&a.token, Method::GET, "/directories", None).await;
    assert_eq!(status, 401);
    // B sees none of A's users.
    assert_eq!(user_count(&s, &b).await, 0);
    // The first authenticated request linked A.
    let (_, dir) = s.call(Method::GET, &format!("/directories/{}", a.id), None).await;
    assert_eq!(dir["state"], json!("linked"));
}

#[tokio::test]
async fn bad_requests_get_scim_errors_and_change_nothing() {
    let (_db, s) = sqlite_server().await;
    let d = directory(&s, "A").await;
    let (status, _, user) =
        scim(&s, &d, &d.token, Method::POST, "/Users", Some(json!({"userName": "ada@a.example", "active": true})))
            .await;
    assert_eq!(status, 201);
    let id = user["id"].as_str().unwrap().to_owned();
    let events = event_count(&s).await;

    for filter in [
        "userName eq",
        "userName eq bob",
        "(userName eq \"x\"",
        "emails[type eq \"work\"",
        "nickName eq \"x\"",
        &format!("{}a pr{}", "(".repeat(30), ")".repeat(30)),
    ] {
        let (status, _, body) =
            scim(&s, &d, &d.token, Method::GET, &format!("/Users?filter={}", urlencode(filter)), None).await;
        assert_scim_error(status, &body, 400, Some("invalidFilter"));
    }
    let (status, _, body) = scim(
        &s,
        &d,
        &d.token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "noSuchAttribute", "value": "x"}]})),
    )
    .await;
    assert_scim_error(status, &body, 400, Some("invalidPath"));
    let (status, _, body) =
        scim(&s, &d, &d.token, Method::PATCH, &format!("/Users/{id}"), Some(json!({"Operations": [{"op": "remove"}]})))
            .await;
    assert_scim_error(status, &body, 400, Some("noTarget"));
    let (status, _, body) = scim(
        &s,
        &d,
        &d.token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "x@y"}}]})),
    )
    .await;
    assert_scim_error(status, &body, 400, Some("noTarget"));
    let (status, _, body) =
        scim(&s, &d, &d.token, Method::POST, "/Users", Some(json!({"userName": "ADA@a.example"}))).await;
    assert_scim_error(status, &body, 409, Some("uniqueness"));
    let (status, _, body) =
        scim(&s, &d, &d.token, Method::POST, "/Users", Some(json!({"name": {"givenName": "No user name"}}))).await;
    assert_scim_error(status, &body, 400, Some("invalidValue"));
    let (status, _, body) =
        scim(&s, &d, &d.token, Method::GET, "/Users/directory_user_01ARZ3NDEKTSV4RRFFQ69G5FAV", None).await;
    assert_scim_error(status, &body, 404, None);

    // A 10 MB body is refused before it is parsed.
    let huge = json!({"userName": "huge@a.example", "title": "x".repeat(10 * 1024 * 1024)});
    let (status, _, body) = scim(&s, &d, &d.token, Method::POST, "/Users", Some(huge)).await;
    assert_scim_error(status, &body, 413, None);
    let resp = s
        .http
        .post(format!("{}/Users", d.endpoint))
        .bearer_auth(&d.token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    assert_eq!(user_count(&s, &d).await, 1, "nothing was created");
    assert_eq!(event_count(&s).await, events, "nothing was recorded");
    let (_, _, again) = scim(&s, &d, &d.token, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(again["userName"], json!("ada@a.example"));
    assert_eq!(again["active"], json!(true));
}

#[tokio::test]
async fn discovery_and_workos_views() {
    let (_db, s) = sqlite_server().await;
    let d = directory(&s, "A").await;
    for path in
        ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"]
    {
        let (status, ct, body) = scim(&s, &d, &d.token, Method::GET, path, None).await;
        assert_eq!((status, ct.as_str()), (200, "application/scim+json"), "{path}: {body}");
    }
    let (_, _, u) = scim(
        &s,
        &d,
        &d.token,
        Method::POST,
        "/Users",
        Some(json!({
            "userName": "ada@a.example", "name": {"givenName": "Ada", "familyName": "L"},
            "emails": [{"value": "ada@a.example", "type": "work", "primary": true}], "title": "Engineer",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
        })),
    )
    .await;
    let (_, _, g) = scim(
        &s,
        &d,
        &d.token,
        Method::POST,
        "/Groups",
        Some(json!({"displayName": "Eng", "members": [{"value": u["id"]}]})),
    )
    .await;
    let (status, list) = s.call(Method::GET, &format!("/directory_users?directory={}", d.id), None).await;
    assert_eq!(status, 200, "{list}");
    let wu = &list["data"][0];
    for field in [
        "id",
        "directory_id",
        "organization_id",
        "idp_id",
        "email",
        "state",
        "raw_attributes",
        "custom_attributes",
        "created_at",
        "updated_at",
        "groups",
    ] {
        assert!(wu.get(field).is_some(), "{field} in {wu}");
    }
    assert_eq!(
        (wu["first_name"].clone(), wu["job_title"].clone(), wu["custom_attributes"]["department"].clone()),
        (json!("Ada"), json!("Engineer"), json!("R&D"))
    );
    assert_eq!(wu["groups"][0]["id"], g["id"]);
    let (status, wg) = s.call(Method::GET, &format!("/directory_groups/{}", g["id"].as_str().unwrap()), None).await;
    assert_eq!((status, wg["name"].clone(), wg["object"].clone()), (200, json!("Eng"), json!("directory_group")));
    let (status, _) = s.call(Method::DELETE, &format!("/directories/{}", d.id), None).await;
    assert_eq!(status, 204);
    let (status, _, body) = scim(&s, &d, &d.token, Method::GET, "/Users", None).await;
    assert_scim_error(status, &body, 401, None);
}

#[tokio::test]
async fn directory_mappings_are_edited_over_http() {
    let (_db, s) = sqlite_server().await;
    let d = directory(&s, "A").await;
    let (_, _, u) = scim(
        &s,
        &d,
        &d.token,
        Method::POST,
        "/Users",
        Some(json!({
            "userName": "ada@a.example", "urn:example:ext:1.0:User": {"badge": "42"},
        })),
    )
    .await;
    let path = format!("/directories/{}", d.id);
    // Refused with a WorkOS validation error naming the entry; nothing changes.
    let (status, body) =
        s.call(Method::PATCH, &path, Some(json!({"custom_attribute_mapping": {"badge": "no such path!"}}))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], json!("invalid_request_parameters"), "{body}");
    assert_eq!(body["errors"], json!([{"field": "custom_attribute_mapping.badge", "code": "invalid"}]), "{body}");
    let (_, dir) = s.call(Method::GET, &path, None).await;
    assert!(dir.get("custom_attribute_mapping").is_none(), "{dir}");
    let (status, body) = s
        .call(
            Method::PATCH,
            &format!("/directories/{}", "directory_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    // Accepted: the directory shows it and the user's attributes follow.
    let mapping = json!({"badge": "urn:example:ext:1.0:User:badge"});
    let (status, dir) = s.call(Method::PATCH, &path, Some(json!({"custom_attribute_mapping": mapping}))).await;
    assert_eq!((status, dir["custom_attribute_mapping"].clone()), (200, mapping.clone()), "{dir}");
    let (_, dir) = s.call(Method::GET, &path, None).await;
    assert_eq!(dir["custom_attribute_mapping"], mapping);
    let (_, wu) = s.call(Method::GET, &format!("/directory_users/{}", u["id"].as_str().unwrap()), None).await;
    assert_eq!(wu["custom_attributes"]["badge"], json!("42"), "{wu}");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A NUL character in a SCIM resource or filter is a SCIM 400 on both engines, never a
/// 5xx an identity provider would retry forever; nothing is provisioned.
#[tokio::test]
async fn nul_characters_in_scim_requests_are_refused() {
    for backend in [vestibule_test_support::Backend::Sqlite, vestibule_test_support::Backend::Postgres] {
        let db = vestibule_test_support::TestDb::new(backend).await;
        let s = TestServer::start(&db.url, |_| {}).await;
        let d = directory(&s, "Nul").await;
        let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada\u{0}@x.com", "active": true});
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng\u{0}"});
        for (path, body) in [("/Users", user), ("/Groups", group)] {
            let (status, _, answer) = scim(&s, &d, &d.token, Method::POST, path, Some(body)).await;
            assert_eq!(status, 400, "{backend:?} {path}: {answer}");
            assert_eq!(answer["scimType"], json!("invalidValue"), "{answer}");
        }
        let (status, _, answer) =
            scim(&s, &d, &d.token, Method::GET, "/Users?filter=userName%20eq%20%22a%00%22", None).await;
        assert_eq!(status, 400, "{backend:?}: {answer}");
        let (status, _, listed) = scim(&s, &d, &d.token, Method::GET, "/Users", None).await;
        assert_eq!((status, listed["totalResults"].clone()), (200, json!(0)), "{backend:?}: {listed}");
        s.stop().await;
    }
}
