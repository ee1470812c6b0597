//! Conformance for SSO storage on SQLite and PostgreSQL: connections and their events,
//! filters, single-use requests and codes, the assertion replay cache, stable profile
//! ids, login attempts, and purging.

use serde_json::json;
use std::sync::Arc;
use vestibule_core::environments::{Environment, EnvironmentKind};
use vestibule_core::events::EventFilter;
use vestibule_core::kernel::pagination::PageRequest;
use vestibule_core::sso::{ConnectionFilter, LoginAttempt, SsoGrant, SsoRequest};
use vestibule_core::{CoreError, Store, Timestamp, Vestibule};
use vestibule_test_support::app;

async fn env(app: &Vestibule) -> Environment {
    app.create_environment("A", EnvironmentKind::Test, None).await.unwrap()
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, ..Default::default() }
}

const CERT: &str = "MIIBszCCAVmgAwIBAgIUWFpg7nP0jKz3XJ2q0k4m1n6wZ8swCgYIKoZIzj0EAwIwLzEtMCsGA1UEAwwkVmVzdGlidWxlIFN0b3JlIFRlc3QgQ2VydGlmaWNhdGUgKGVjKTAeFw0yNjAxMDEwMDAwMDBaFw0zNjAxMDEwMDAwMDBaMC8xLTArBgNVBAMMJFZlc3RpYnVsZSBTdG9yZSBUZXN0IENlcnRpZmljYXRlIChlYykwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ";

async fn connections_lifecycle_with_events_and_filters(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = app.create_organization(&e.id, &json!({"name": "Acme", "domains": ["acme.test"]})).await.unwrap();
    let other = app.create_organization(&e.id, &json!({"name": "Other"})).await.unwrap();
    let draft = app
        .create_connection(&e.id, &json!({"organization_id": org.id, "connection_type": "OktaSAML", "saml": {"idp_entity_id": "https://idp/x", "idp_sso_url": "https://idp/sso"}}))
        .await
        .unwrap();
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["domains"][0]["domain"], "acme.test");
    let refused = app.update_connection(&e.id, draft["id"].as_str().unwrap(), &json!({"state": "active"})).await;
    assert!(matches!(refused, Err(CoreError::Unusable { code: "connection_not_activatable", .. })), "{refused:?}");
    // A bad certificate is a field error and stores nothing.
    let bad =
        app.update_connection(&e.id, draft["id"].as_str().unwrap(), &json!({"saml": {"idp_certificate": CERT}})).await;
    assert!(matches!(bad, Err(CoreError::Invalid(_))), "{bad:?}");
    let oidc = app
        .create_connection(&e.id, &json!({"organization_id": other.id, "oidc": {"issuer": "https://op.test/", "client_id": "c", "client_secret": "s"}}))
        .await
        .unwrap();
    assert_eq!((oidc["connection_type"].as_str(), oidc["state"].as_str()), (Some("GenericOIDC"), Some("active")));
    assert_eq!(oidc["oidc"]["issuer"], "https://op.test");
    assert!(oidc.to_string().find("\"s\"").is_none(), "the client secret is never served");

    let by_org = app
        .list_connections(
            &e.id,
            ConnectionFilter { organization_id: Some(org.id.clone()), ..Default::default() },
            None,
            page(10),
        )
        .await
        .unwrap();
    assert_eq!(by_org.data.len(), 1);
    let by_domain =
        app.list_connections(&e.id, ConnectionFilter::default(), Some("ACME.test".into()), page(10)).await.unwrap();
    assert_eq!(by_domain.data[0]["id"], draft["id"]);
    let by_type = app
        .list_connections(
            &e.id,
            ConnectionFilter { connection_type: Some("GenericOIDC".into()), ..Default::default() },
            None,
            page(10),
        )
        .await
        .unwrap();
    assert_eq!(by_type.data[0]["id"], oidc["id"]);
    let first = app.list_connections(&e.id, ConnectionFilter::default(), None, page(1)).await.unwrap();
    assert_eq!(first.data.len(), 1);
    assert!(first.after.is_some());

    let id = oidc["id"].as_str().unwrap();
    app.update_connection(&e.id, id, &json!({"state": "inactive"})).await.unwrap();
    app.delete_connection(&e.id, id).await.unwrap();
    assert!(matches!(app.get_connection(&e.id, id).await, Err(CoreError::NotFound { .. })));
    let names: Vec<String> = app
        .list_events(
            &e.id,
            EventFilter {
                limit: 100,
                events: vec![
                    "connection.activated".into(),
                    "connection.deactivated".into(),
                    "connection.deleted".into(),
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(names, ["connection.activated", "connection.deactivated", "connection.deleted"]);
    let key = draft["external_key"].as_str().unwrap();
    let (found_env, found) = store.find_connection_by_key(key).await.unwrap().unwrap();
    assert_eq!((found_env.as_str(), found.id.as_str()), (e.id.as_str(), draft["id"].as_str().unwrap()));
}

async fn requests_codes_and_replay_cache_are_single_use(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let now = Timestamp::now();
    let r = SsoRequest {
        id: "_req1".into(),
        connection_id: "conn_1".into(),
        redirect_uri: "http://localhost/cb".into(),
        state: Some("s".into()),
        data: json!({"code_challenge": "x"}),
        expires_at: now.plus_millis(60_000),
        created_at: now,
    };
    store.insert_sso_request(&e.id, &r).await.unwrap();
    assert_eq!(store.get_sso_request(&e.id, "_req1", now).await.unwrap(), Some(r.clone()));
    assert!(store.get_sso_request("environment_other", "_req1", now).await.unwrap().is_none(), "scoped by environment");
    assert!(store.get_sso_request(&e.id, "_req1", now.plus_millis(60_001)).await.unwrap().is_none(), "expired");
    assert!(store.consume_sso_request(&e.id, "_req1", now).await.unwrap());
    assert!(!store.consume_sso_request(&e.id, "_req1", now).await.unwrap(), "consumed once");

    assert!(store.remember_assertion(&e.id, "conn_1", "_a1", now.plus_millis(60_000)).await.unwrap());
    assert!(!store.remember_assertion(&e.id, "conn_1", "_a1", now.plus_millis(60_000)).await.unwrap(), "replay seen");
    assert!(store.remember_assertion(&e.id, "conn_2", "_a1", now.plus_millis(60_000)).await.unwrap(), "per connection");

    let g = SsoGrant {
        kind: "code",
        profile_id: "prof_1".into(),
        data: json!({"profile": {"id": "prof_1"}}),
        expires_at: now.plus_millis(60_000),
    };
    store.insert_sso_grant(&e.id, "digest1", &g).await.unwrap();
    assert!(store.take_sso_grant("digest1", "access_token", now).await.unwrap().is_none(), "kind must match");
    let (genv, got) = store.take_sso_grant("digest1", "code", now).await.unwrap().unwrap();
    assert_eq!((genv.as_str(), got), (e.id.as_str(), g.clone()));
    assert!(store.take_sso_grant("digest1", "code", now).await.unwrap().is_none(), "single use");
    store.insert_sso_grant(&e.id, "digest2", &SsoGrant { kind: "access_token", ..g.clone() }).await.unwrap();
    assert!(store.get_sso_grant("digest2", "access_token", now).await.unwrap().is_some());
    assert!(store.get_sso_grant("digest2", "access_token", now).await.unwrap().is_some(), "reading does not consume");

    let a = store.upsert_profile(&e.id, "conn_1", "ada", "prof_A", &json!({"n": 1}), now).await.unwrap();
    let b = store.upsert_profile(&e.id, "conn_1", "ada", "prof_B", &json!({"n": 2}), now).await.unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("prof_A", "prof_A"), "one profile id per subject");

    for (i, reason) in [None, Some("audience mismatch")].into_iter().enumerate() {
        let attempt = LoginAttempt {
            object: "login_attempt",
            id: vestibule_ids::generate(vestibule_ids::Kind::LoginAttempt),
            connection_id: "conn_1".into(),
            outcome: if reason.is_some() { "failed" } else { "succeeded" }.into(),
            reason: reason.map(str::to_owned),
            created_at: now.plus_millis(i as i64),
        };
        store.insert_login_attempt(&e.id, &attempt).await.unwrap();
    }
    let attempts = store.list_login_attempts(&e.id, "conn_1", &page(10)).await.unwrap();
    assert_eq!(attempts.data[0].reason.as_deref(), Some("audience mismatch"), "newest first");

    let purged = store.purge_sso(now.plus_millis(120_000)).await.unwrap();
    assert_eq!(purged, 3, "one access token and two replay-cache entries");
}

async fn redirect_uris_are_unique_per_environment(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let first = app.create_redirect_uri(&e.id, &json!({"uri": "https://app.test/cb"})).await.unwrap();
    assert!(first.default, "the first one is the default");
    let dup = app.create_redirect_uri(&e.id, &json!({"uri": "https://app.test/cb"})).await;
    assert!(matches!(dup, Err(CoreError::Conflict { .. })), "{dup:?}");
    let second = app.create_redirect_uri(&e.id, &json!({"uri": "https://app.test/other"})).await.unwrap();
    assert!(!second.default);
    assert_eq!(app.list_redirect_uris(&e.id).await.unwrap().len(), 2);
}

async fn signing_key_is_generated_once_and_kept(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let other = env(&app).await;
    assert_eq!(store.get_signing_key(&e.id).await.unwrap(), None);
    let first = app.signing_key(&e.id).await.unwrap();
    // Read back from the database, not regenerated.
    assert_eq!(app.signing_key(&e.id).await.unwrap(), first);
    assert_eq!(store.get_signing_key(&e.id).await.unwrap(), Some(first.clone()));
    // A concurrent first use elsewhere cannot replace it.
    store.insert_signing_key(&e.id, &vestibule_core::sso::jwks::SigningKey::generate().unwrap()).await.unwrap();
    assert_eq!(app.signing_key(&e.id).await.unwrap(), first);
    // Each environment has its own, and the JWKS is found by client id.
    let theirs = app.signing_key(&other.id).await.unwrap();
    assert_ne!(theirs.id, first.id);
    let jwks = app.jwks(&e.client_id).await.unwrap();
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(jwks["keys"][0]["kid"], first.id.as_str());
    assert_eq!(jwks["keys"][0], first.public_jwk().unwrap());
    let missing = app.jwks("client_01ABSENT").await;
    assert!(matches!(missing, Err(CoreError::NotFound { .. })), "{missing:?}");
}

vestibule_test_support::conformance!(
    connections_lifecycle_with_events_and_filters,
    requests_codes_and_replay_cache_are_single_use,
    redirect_uris_are_unique_per_environment,
    signing_key_is_generated_once_and_kept,
);
