//! Secrets at rest on SQLite and PostgreSQL: the columns that hold webhook signing secrets,
//! OIDC client secrets, SAML decryption keys and token signing keys carry sealed values only,
//! read back in clear through the store, and open with no other key.

use serde_json::json;
use std::sync::Arc;
use vestibule_core::environments::{Environment, EnvironmentKind};
use vestibule_core::events::webhooks::WebhookEndpoint;
use vestibule_core::kernel::pagination::PageRequest;
use vestibule_core::kernel::sealing::{SEALED_PREFIX, Sealer};
use vestibule_core::{Store, StoreError, Timestamp, Vestibule};
use vestibule_test_support::{Backend, TestDb, app, query_text};

/// An enabled endpoint with `secret`, as the API would create it.
fn endpoint(secret: &str) -> WebhookEndpoint {
    let now = Timestamp::now();
    WebhookEndpoint {
        object: "webhook_endpoint",
        id: vestibule_ids::generate(vestibule_ids::Kind::WebhookEndpoint),
        endpoint_url: "https://hooks.example.com/workos".into(),
        secret: secret.into(),
        status: "enabled".into(),
        events: vec![],
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    }
}

/// A database written without a master key: an environment and an OIDC connection whose
/// client secret is `legacy-secret-value`.
async fn written_without_a_key(db: &TestDb) -> (Arc<dyn Store>, Vestibule, Environment, String, String) {
    let plain = vestibule_store::open(&db.url).await.unwrap();
    let app = app(plain.clone());
    let e = app.create_environment("A", EnvironmentKind::Test, None).await.unwrap();
    let org = app.create_organization(&e.id, &json!({"name": "Acme"})).await.unwrap();
    let oidc = app
        .create_connection(&e.id, &json!({"organization_id": org.id, "oidc": {"issuer": "https://op.test/", "client_id": "c", "client_secret": "legacy-secret-value"}}))
        .await
        .unwrap();
    let id = oidc["id"].as_str().unwrap().to_owned();
    (plain, app, e, org.id, id)
}

async fn secrets_are_sealed_at_rest_and_open_only_with_their_key(db: TestDb) {
    let key = Sealer::generate_key();
    let store = vestibule_store::open_sealed(&db.url, Arc::new(Sealer::new(&key))).await.unwrap();
    let app = app(store.clone());
    let e = app.create_environment("A", EnvironmentKind::Test, None).await.unwrap();
    let org = app.create_organization(&e.id, &json!({"name": "Acme"})).await.unwrap();
    let endpoint = endpoint("whsec_0123456789abcdefghijklmnop");
    store.insert_webhook_endpoint(&e.id, &endpoint).await.unwrap();
    let oidc = app
        .create_connection(&e.id, &json!({"organization_id": org.id, "oidc": {"issuer": "https://op.test/", "client_id": "c", "client_secret": "oidc-client-secret-0123"}}))
        .await
        .unwrap();
    let oidc_id = oidc["id"].as_str().unwrap();
    let saml =
        app.create_connection(&e.id, &json!({"organization_id": org.id, "connection_type": "OktaSAML"})).await.unwrap();
    let saml_id = saml["id"].as_str().unwrap();
    let signing = app.signing_key(&e.id).await.unwrap();

    // Through the store, everything reads back as it was written.
    assert_eq!(store.get_webhook_endpoint(&e.id, &endpoint.id).await.unwrap().unwrap().secret, endpoint.secret);
    let listed = store.list_webhook_endpoints(&e.id, &PageRequest { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed.data[0].secret, endpoint.secret);
    let stored_oidc = store.get_connection(&e.id, oidc_id).await.unwrap().unwrap();
    assert_eq!(stored_oidc.oidc.unwrap().client_secret.as_deref(), Some("oidc-client-secret-0123"));
    let sp_key = store.get_connection(&e.id, saml_id).await.unwrap().unwrap().saml.unwrap().sp_encryption_key.unwrap();
    assert!(!sp_key.starts_with(SEALED_PREFIX) && sp_key.len() > 100, "{sp_key}");
    assert_eq!(store.get_signing_key(&e.id).await.unwrap(), Some(signing.clone()));
    // An update rewrites the connection and keeps its secret.
    app.update_connection(&e.id, oidc_id, &json!({"name": "Renamed"})).await.unwrap();
    let (_, by_key) = store.find_connection_by_key(&stored_oidc.external_key).await.unwrap().unwrap();
    assert_eq!(by_key.oidc.unwrap().client_secret.as_deref(), Some("oidc-client-secret-0123"));

    // In the database, only sealed values.
    let secrets = [
        (format!("SELECT secret FROM webhook_endpoints WHERE id = '{}'", endpoint.id), endpoint.secret.clone()),
        (format!("SELECT oidc FROM connections WHERE id = '{oidc_id}'"), "oidc-client-secret-0123".to_owned()),
        (format!("SELECT saml FROM connections WHERE id = '{saml_id}'"), sp_key.clone()),
        (format!("SELECT private_key FROM signing_keys WHERE environment_id = '{}'", e.id), signing.stored_parts().0),
    ];
    for (sql, plain) in &secrets {
        let raw = query_text(&db.url, sql).await;
        assert_eq!(raw.len(), 1, "{sql}");
        assert!(raw[0].contains(SEALED_PREFIX), "{sql}: {}", raw[0]);
        assert!(!raw[0].contains(plain.as_str()), "{sql} holds the secret in clear");
    }

    // Another key, or none, opens none of them, and says which column would not open.
    let other = vestibule_store::open_sealed(&db.url, Arc::new(Sealer::new(&Sealer::generate_key()))).await.unwrap();
    let refused = other.get_webhook_endpoint(&e.id, &endpoint.id).await;
    assert!(
        matches!(&refused, Err(StoreError::Backend(m)) if m.to_string().contains("webhook_endpoints.secret")),
        "{refused:?}"
    );
    let refused = other.get_connection(&e.id, oidc_id).await;
    assert!(matches!(&refused, Err(StoreError::Backend(m)) if m.to_string().contains("client_secret")), "{refused:?}");
    let refused = other.get_signing_key(&e.id).await;
    assert!(matches!(&refused, Err(StoreError::Backend(m)) if m.to_string().contains("signing_keys")), "{refused:?}");
    let keyless = vestibule_store::open(&db.url).await.unwrap();
    assert!(keyless.get_connection(&e.id, saml_id).await.is_err());
}

async fn secrets_written_before_the_master_key_stay_readable(db: TestDb) {
    // A database written without a key (plain values) and then opened with one.
    let (_, _, e, _, id) = written_without_a_key(&db).await;
    let id = id.as_str();
    let raw = query_text(&db.url, &format!("SELECT oidc FROM connections WHERE id = '{id}'")).await;
    assert!(raw[0].contains("legacy-secret-value"));

    let sealed = vestibule_store::open_sealed(&db.url, Arc::new(Sealer::new(&Sealer::generate_key()))).await.unwrap();
    let read = sealed.get_connection(&e.id, id).await.unwrap().unwrap();
    assert_eq!(read.oidc.as_ref().unwrap().client_secret.as_deref(), Some("legacy-secret-value"));
    // The next write of the row seals it.
    vestibule_test_support::app(sealed.clone())
        .update_connection(&e.id, id, &json!({"name": "Renamed"}))
        .await
        .unwrap();
    let raw = query_text(&db.url, &format!("SELECT oidc FROM connections WHERE id = '{id}'")).await;
    assert!(raw[0].contains(SEALED_PREFIX) && !raw[0].contains("legacy-secret-value"), "{}", raw[0]);
    assert_eq!(
        sealed.get_connection(&e.id, id).await.unwrap().unwrap().oidc.unwrap().client_secret.as_deref(),
        Some("legacy-secret-value")
    );
}

async fn resealing_seals_what_was_stored_before_the_master_key(db: TestDb) {
    let (plain, app, e, org, oidc_id) = written_without_a_key(&db).await;
    let saml =
        app.create_connection(&e.id, &json!({"organization_id": org, "connection_type": "OktaSAML"})).await.unwrap();
    let draft = app
        .create_connection(&e.id, &json!({"organization_id": org, "oidc": {"issuer": "https://op.test/"}}))
        .await
        .unwrap();
    let endpoint = endpoint("whsec_legacy_0123456789abcdef");
    plain.insert_webhook_endpoint(&e.id, &endpoint).await.unwrap();
    let signing = app.signing_key(&e.id).await.unwrap();
    // Without a key there is nothing to seal with.
    assert_eq!((plain.reseal_webhook_secrets().await.unwrap(), plain.reseal_sso_secrets().await.unwrap()), (0, 0));

    let sealed = vestibule_store::open_sealed(&db.url, Arc::new(Sealer::new(&Sealer::generate_key()))).await.unwrap();
    assert_eq!(sealed.reseal_webhook_secrets().await.unwrap(), 1);
    // The OIDC and SAML connections and the signing key; the connection without a secret is left alone.
    assert_eq!(sealed.reseal_sso_secrets().await.unwrap(), 3);
    assert_eq!(
        (sealed.reseal_webhook_secrets().await.unwrap(), sealed.reseal_sso_secrets().await.unwrap()),
        (0, 0),
        "a second pass finds nothing"
    );
    for sql in [
        "SELECT secret FROM webhook_endpoints".to_owned(),
        format!("SELECT oidc FROM connections WHERE id = '{oidc_id}'"),
        format!("SELECT saml FROM connections WHERE id = '{}'", saml["id"].as_str().unwrap()),
        "SELECT private_key FROM signing_keys".to_owned(),
    ] {
        let raw = query_text(&db.url, &sql).await;
        assert!(raw[0].contains(SEALED_PREFIX), "{sql}: {}", raw[0]);
    }
    let untouched =
        query_text(&db.url, &format!("SELECT oidc FROM connections WHERE id = '{}'", draft["id"].as_str().unwrap()))
            .await;
    assert!(!untouched[0].contains(SEALED_PREFIX));
    // Everything reads back as it was.
    assert_eq!(sealed.get_webhook_endpoint(&e.id, &endpoint.id).await.unwrap().unwrap().secret, endpoint.secret);
    let read = sealed.get_connection(&e.id, &oidc_id).await.unwrap().unwrap();
    assert_eq!(read.oidc.unwrap().client_secret.as_deref(), Some("legacy-secret-value"));
    assert_eq!(sealed.get_signing_key(&e.id).await.unwrap(), Some(signing));
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test] async fn $case() { super::$case(TestDb::new(Backend::Sqlite).await).await; })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test] async fn $case() { super::$case(TestDb::new(Backend::Postgres).await).await; })*
        }
    };
}

both!(
    secrets_are_sealed_at_rest_and_open_only_with_their_key,
    secrets_written_before_the_master_key_stay_readable,
    resealing_seals_what_was_stored_before_the_master_key,
);
