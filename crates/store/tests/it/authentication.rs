//! Conformance for signing in, run on SQLite and PostgreSQL: sessions and single-use
//! refresh tokens (also under concurrent use and across environments), one-time codes,
//! lockout counted in the store, and two instances sharing one database.

use serde_json::{Map, Value, json};
use std::sync::Arc;
use vestibule_core::environments::{Environment, EnvironmentKind};
use vestibule_core::events::EventFilter;
use vestibule_core::kernel::pagination::PageRequest;
use vestibule_core::user_management::auth_store::Rotation;
use vestibule_core::{CoreError, Store, Vestibule};
use vestibule_test_support::{Backend, TestDb, app};

struct Client {
    env: Environment,
    secret: String,
}

async fn client(app: &Vestibule, name: &str) -> Client {
    let env = app.create_environment(name, EnvironmentKind::Test, None).await.unwrap();
    let secret = app.create_api_key(&env, "default", None).await.unwrap().secret;
    Client { env, secret }
}

fn grant(c: &Client, fields: Value) -> Map<String, Value> {
    let mut m = fields.as_object().cloned().unwrap_or_default();
    m.insert("client_id".into(), json!(c.env.client_id));
    m.insert("client_secret".into(), json!(c.secret));
    m
}

async fn user(app: &Vestibule, c: &Client, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse battery", "email_verified": true});
    app.create_user(&c.env.id, &body).await.unwrap().id
}

async fn sign_in(app: &Vestibule, c: &Client, email: &str) -> Value {
    app.authenticate_user(&grant(
        c,
        json!({"grant_type": "password", "email": email, "password": "correct horse battery"}),
    ))
    .await
    .unwrap()
}

async fn refresh(app: &Vestibule, c: &Client, token: &Value) -> Result<Value, CoreError> {
    app.authenticate_user(&grant(c, json!({"grant_type": "refresh_token", "refresh_token": token}))).await
}

fn code(e: &Result<Value, CoreError>) -> &'static str {
    match e {
        Err(CoreError::Refused { code, .. } | CoreError::Forbidden { code, .. } | CoreError::NextStep { code, .. }) => {
            code
        }
        Err(CoreError::Throttled { .. }) => "throttled",
        other => panic!("unexpected {other:?}"),
    }
}

async fn sessions(app: &Vestibule, c: &Client, user_id: &str) -> Vec<(String, String)> {
    let page = PageRequest { limit: 100, ..Default::default() };
    let list = app.list_user_sessions(&c.env.id, user_id, page).await.unwrap();
    list.data.into_iter().map(|s| (s.id, s.status)).collect()
}

async fn refresh_tokens_rotate_once_and_die_with_their_session(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let c = client(&app, "A").await;
    let uid = user(&app, &c, "ada@example.com").await;
    let first = sign_in(&app, &c, "ada@example.com").await;
    assert_eq!(first["authentication_method"], "Password");
    assert!(first["user"]["last_sign_in_at"].is_string());
    let second = refresh(&app, &c, &first["refresh_token"]).await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(code(&refresh(&app, &c, &first["refresh_token"]).await), "invalid_grant", "a used token is refused");
    // Two refreshes racing with the same token: exactly one gets a successor.
    let token = second["refresh_token"].as_str().unwrap().to_owned();
    let digest = vestibule_core::kernel::secrets::digest(&token);
    let now = vestibule_core::Timestamp::now();
    let (a, b) = tokio::join!(
        store.rotate_refresh_token(&c.env.id, &digest, "next-a", None, now),
        store.rotate_refresh_token(&c.env.id, &digest, "next-b", None, now)
    );
    let won = [a.unwrap(), b.unwrap()].iter().filter(|r| matches!(r, Rotation::Rotated(_))).count();
    assert_eq!(won, 1);
    // Revoking ends the session and every refresh token of it.
    let third = sign_in(&app, &c, "ada@example.com").await;
    let listed = sessions(&app, &c, &uid).await;
    assert_eq!(listed.len(), 2);
    let sid = listed[0].0.clone();
    app.revoke_session(&c.env.id, &json!({"session_id": sid})).await.unwrap();
    assert_eq!(code(&refresh(&app, &c, &third["refresh_token"]).await), "invalid_grant");
    assert!(sessions(&app, &c, &uid).await.contains(&(sid, "revoked".to_owned())));
    let events: Vec<String> = app
        .list_events(&c.env.id, EventFilter { limit: 100, ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    for name in ["session.created", "session.revoked", "authentication.password_succeeded"] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
}

async fn another_environments_token_is_refused_and_left_alone(store: Arc<dyn Store>) {
    let app = app(store);
    let (a, b) = (client(&app, "A").await, client(&app, "B").await);
    user(&app, &a, "ada@example.com").await;
    let signed_in = sign_in(&app, &a, "ada@example.com").await;
    assert_eq!(code(&refresh(&app, &b, &signed_in["refresh_token"]).await), "invalid_grant");
    // B's key with A's client id is not a client at all.
    let mixed = Map::from_iter([
        ("client_id".to_owned(), json!(a.env.client_id)),
        ("client_secret".to_owned(), json!(b.secret)),
        ("grant_type".to_owned(), json!("refresh_token")),
        ("refresh_token".to_owned(), signed_in["refresh_token"].clone()),
    ]);
    assert_eq!(code(&app.authenticate_user(&mixed).await), "invalid_client");
    // Nothing was spent: A's client still refreshes with it.
    assert!(refresh(&app, &a, &signed_in["refresh_token"]).await.is_ok());
}

async fn wrong_passwords_and_codes_are_refused(store: Arc<dyn Store>) {
    let app = app(store);
    let c = client(&app, "A").await;
    user(&app, &c, "ada@example.com").await;
    let wrong = |email: &str| json!({"grant_type": "password", "email": email, "password": "wrong horse battery"});
    assert_eq!(code(&app.authenticate_user(&grant(&c, wrong("ada@example.com"))).await), "invalid_credentials");
    assert_eq!(code(&app.authenticate_user(&grant(&c, wrong("nobody@example.com"))).await), "invalid_credentials");
    let unknown = json!({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"});
    assert_eq!(code(&app.authenticate_user(&grant(&c, unknown)).await), "unsupported_grant_type");
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyXzEifQ.";
    assert_eq!(code(&refresh(&app, &c, &json!(forged)).await), "invalid_grant");
    // Magic auth: a code works once; five wrong guesses spend it.
    let m = app.create_magic_auth(&c.env.id, &json!({"email": "ada@example.com"})).await.unwrap();
    let magic = |code: &str| json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "email": "ada@example.com", "code": code});
    let right = m["code"].as_str().unwrap();
    let other = if right == "000000" { "111111" } else { "000000" };
    assert_eq!(code(&app.authenticate_user(&grant(&c, magic(other))).await), "invalid_one_time_code");
    let ok = app.authenticate_user(&grant(&c, magic(right))).await.unwrap();
    assert_eq!(ok["authentication_method"], "MagicAuth");
    assert_eq!(code(&app.authenticate_user(&grant(&c, magic(right))).await), "one_time_code_previously_used");
    let m = app.create_magic_auth(&c.env.id, &json!({"email": "ada@example.com"})).await.unwrap();
    let right = m["code"].as_str().unwrap();
    let other = if right == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        assert_eq!(code(&app.authenticate_user(&grant(&c, magic(other))).await), "invalid_one_time_code");
    }
    assert_eq!(code(&app.authenticate_user(&grant(&c, magic(other))).await), "one_time_code_too_many_attempts");
    assert_eq!(code(&app.authenticate_user(&grant(&c, magic(right))).await), "one_time_code_too_many_attempts");
}

async fn unverified_users_and_several_organizations_take_steps(store: Arc<dyn Store>) {
    let app = app(store);
    let c = client(&app, "A").await;
    let u = app
        .create_user(&c.env.id, &json!({"email": "bo@example.com", "password": "correct horse battery"}))
        .await
        .unwrap();
    let r = app
        .authenticate_user(&grant(
            &c,
            json!({"grant_type": "password", "email": "bo@example.com", "password": "correct horse battery"}),
        ))
        .await;
    let Err(CoreError::NextStep { code: "email_verification_required", details, .. }) = r else { panic!("{r:?}") };
    let token = details["pending_authentication_token"].clone();
    let verification =
        app.get_email_verification(&c.env.id, details["email_verification_id"].as_str().unwrap()).await.unwrap();
    let verify = json!({"grant_type": "urn:workos:oauth:grant-type:email-verification:code", "code": verification["code"], "pending_authentication_token": token});
    let ok = app.authenticate_user(&grant(&c, verify.clone())).await.unwrap();
    assert_eq!(ok["user"]["email_verified"], true);
    assert_eq!(code(&app.authenticate_user(&grant(&c, verify)).await), "invalid_pending_authentication_token");
    // Two organizations: the user picks one.
    let mut orgs = Vec::new();
    for name in ["Acme", "Globex"] {
        let org = app.create_organization(&c.env.id, &json!({"name": name})).await.unwrap();
        app.create_membership(&c.env.id, &json!({"user_id": u.id, "organization_id": org.id})).await.unwrap();
        orgs.push(org.id);
    }
    let r = app
        .authenticate_user(&grant(
            &c,
            json!({"grant_type": "password", "email": "bo@example.com", "password": "correct horse battery"}),
        ))
        .await;
    let Err(CoreError::NextStep { code: "organization_selection_required", details, .. }) = r else { panic!("{r:?}") };
    assert_eq!(details["organizations"].as_array().unwrap().len(), 2);
    let pick = json!({"grant_type": "urn:workos:oauth:grant-type:organization-selection", "pending_authentication_token": details["pending_authentication_token"], "organization_id": orgs[1]});
    let ok = app.authenticate_user(&grant(&c, pick)).await.unwrap();
    assert_eq!(ok["organization_id"], json!(orgs[1]));
    // Switching by refresh: to a member organization only, and a refused switch spends nothing.
    let outsider = app.create_organization(&c.env.id, &json!({"name": "Initech"})).await.unwrap();
    let switch = |org: &str| json!({"grant_type": "refresh_token", "refresh_token": ok["refresh_token"], "organization_id": org});
    assert_eq!(code(&app.authenticate_user(&grant(&c, switch(&outsider.id))).await), "invalid_organization_id");
    let moved = app.authenticate_user(&grant(&c, switch(&orgs[0]))).await.unwrap();
    assert_eq!(moved["organization_id"], json!(orgs[0]));
}

fn kid(token: &Value) -> String {
    use base64::Engine as _;
    let header = token.as_str().unwrap().split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn rotation_keeps_the_old_key_published_until_its_tokens_expire(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let c = client(&app, "A").await;
    user(&app, &c, "ada@example.com").await;
    let before = sign_in(&app, &c, "ada@example.com").await;
    let old = kid(&before["access_token"]);
    let jwks = app.rotate_signing_key(&c.env.id).await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1], old, "the old key is still published, after the new one");
    let after = sign_in(&app, &c, "ada@example.com").await;
    assert_eq!(kid(&after["access_token"]), kids[0], "new tokens are signed with the new key");
    let published = app.jwks(&c.env.client_id).await.unwrap();
    assert_eq!(published["keys"][1]["n"], jwks["keys"][1]["n"]);
    // A day later the retired key is gone from the JWKS and from the store.
    let later =
        vestibule_core::Timestamp::now().plus_millis(vestibule_core::sso::jwks::RETIRED_KEY_PUBLISHED_MS + 1000);
    store.purge_sso(later).await.unwrap();
    assert_eq!(app.jwks(&c.env.client_id).await.unwrap()["keys"].as_array().unwrap().len(), 1);
}

async fn device_codes_wait_for_approval(store: Arc<dyn Store>) {
    let app = app(store);
    let c = client(&app, "A").await;
    let uid = user(&app, &c, "ada@example.com").await;
    let ask = Map::from_iter([("client_id".to_owned(), json!(c.env.client_id))]);
    let codes = app.authorize_device(&ask).await.unwrap();
    assert_eq!(codes["interval"], 5);
    assert!(codes["verification_uri_complete"].as_str().unwrap().ends_with(codes["user_code"].as_str().unwrap()));
    // A device client has no secret.
    let poll = Map::from_iter([
        ("client_id".to_owned(), json!(c.env.client_id)),
        ("grant_type".to_owned(), json!("urn:ietf:params:oauth:grant-type:device_code")),
        ("device_code".to_owned(), codes["device_code"].clone()),
    ]);
    assert_eq!(code(&app.authenticate_user(&poll).await), "authorization_pending");
    assert_eq!(code(&app.authenticate_user(&poll).await), "slow_down");
    // The user approves in the application (the code as typed: lowercase, no dash).
    let typed = codes["user_code"].as_str().unwrap().replace('-', "").to_lowercase();
    app.decide_device(&c.env.id, &json!({"user_code": typed, "user_id": uid}), true).await.unwrap();
    let ok = app.authenticate_user(&poll).await.unwrap();
    assert_eq!(ok["user"]["id"], json!(uid));
    assert!(ok.get("authentication_method").is_none());
    assert_eq!(code(&app.authenticate_user(&poll).await), "invalid_grant", "a device code works once");
    // Denied, and unknown codes.
    let other = app.authorize_device(&ask).await.unwrap();
    app.decide_device(&c.env.id, &json!({"user_code": other["user_code"]}), false).await.unwrap();
    let mut denied = poll.clone();
    denied.insert("device_code".into(), other["device_code"].clone());
    assert_eq!(code(&app.authenticate_user(&denied).await), "access_denied");
    let twice = app.decide_device(&c.env.id, &json!({"user_code": other["user_code"], "user_id": uid}), true).await;
    assert!(matches!(twice, Err(CoreError::NotFound { .. })), "{twice:?}");
    denied.insert("device_code".into(), json!("not-a-device-code"));
    assert_eq!(code(&app.authenticate_user(&denied).await), "invalid_grant");
}

fn totp_now(secret: &str) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let t = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    t.generate_current().to_string()
}

async fn totp_factors_gate_password_sign_in(store: Arc<dyn Store>) {
    let app = app(store);
    let c = client(&app, "A").await;
    let uid = user(&app, &c, "ada@example.com").await;
    let enrolled =
        app.enroll_user_factor(&c.env.id, &uid, &json!({"type": "totp", "totp_issuer": "Acme"})).await.unwrap();
    let factor = &enrolled["authentication_factor"];
    let secret = factor["totp"]["secret"].as_str().unwrap().to_owned();
    assert!(factor["totp"]["uri"].as_str().unwrap().starts_with("otpauth://totp/Acme:ada%40example.com?"));
    let r = app
        .authenticate_user(&grant(
            &c,
            json!({"grant_type": "password", "email": "ada@example.com", "password": "correct horse battery"}),
        ))
        .await;
    let Err(CoreError::NextStep { code: "mfa_challenge", details, .. }) = r else { panic!("password alone: {r:?}") };
    assert_eq!(details["authentication_factors"][0]["id"], factor["id"]);
    assert!(details["authentication_factors"][0]["totp"].get("secret").is_none(), "the secret is shown once");
    let token = details["pending_authentication_token"].clone();
    let challenge = app.challenge_factor(&c.env.id, factor["id"].as_str().unwrap()).await.unwrap();
    let right = totp_now(&secret);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let totp = |code: &str| json!({"grant_type": "urn:workos:oauth:grant-type:mfa-totp", "code": code, "pending_authentication_token": token, "authentication_challenge_id": challenge["id"]});
    assert_eq!(code(&app.authenticate_user(&grant(&c, totp(wrong))).await), "invalid_one_time_code");
    // The pending token survives a wrong code.
    let ok = app.authenticate_user(&grant(&c, totp(&right))).await.unwrap();
    assert_eq!(ok["user"]["id"], json!(uid));
    assert_eq!(ok["authentication_method"], "Password", "the primary method, not MFA");
    assert_eq!(code(&app.authenticate_user(&grant(&c, totp(&right))).await), "invalid_pending_authentication_token");
    // The same code on a new challenge is a replay: refused.
    let again = app.challenge_factor(&c.env.id, factor["id"].as_str().unwrap()).await.unwrap();
    let replay = app.verify_challenge(&c.env.id, again["id"].as_str().unwrap(), &json!({"code": right})).await.unwrap();
    assert_eq!(replay["valid"], false);
    // Another environment cannot see the factor.
    let other = client(&app, "B").await;
    assert!(matches!(
        app.get_factor(&other.env.id, factor["id"].as_str().unwrap()).await,
        Err(CoreError::NotFound { .. })
    ));
}

vestibule_test_support::conformance!(
    totp_factors_gate_password_sign_in,
    device_codes_wait_for_approval,
    rotation_keeps_the_old_key_published_until_its_tokens_expire,
    refresh_tokens_rotate_once_and_die_with_their_session,
    another_environments_token_is_refused_and_left_alone,
    wrong_passwords_and_codes_are_refused,
    unverified_users_and_several_organizations_take_steps,
);

/// Two instances on one database: a session opened on one is refreshed and revoked on
/// the other, and failed sign-ins count across both.
async fn two_instances_share_sessions_and_lockout(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (one, two) = (app(db.store().await), app(db.store().await));
    let c = client(&one, "A").await;
    let uid = user(&one, &c, "ada@example.com").await;
    let signed_in = sign_in(&one, &c, "ada@example.com").await;
    let refreshed = refresh(&two, &c, &signed_in["refresh_token"]).await.unwrap();
    assert_eq!(code(&refresh(&one, &c, &signed_in["refresh_token"]).await), "invalid_grant");
    let sid = sessions(&two, &c, &uid).await[0].0.clone();
    two.revoke_session(&c.env.id, &json!({"session_id": sid})).await.unwrap();
    assert_eq!(code(&refresh(&one, &c, &refreshed["refresh_token"]).await), "invalid_grant");
    // Ten failures split over the two instances lock the address on both.
    let wrong = json!({"grant_type": "password", "email": "ada@example.com", "password": "wrong horse battery"});
    for i in 0..10 {
        let instance = if i % 2 == 0 { &one } else { &two };
        assert_eq!(code(&instance.authenticate_user(&grant(&c, wrong.clone())).await), "invalid_credentials");
    }
    let right = json!({"grant_type": "password", "email": "ada@example.com", "password": "correct horse battery"});
    assert_eq!(code(&one.authenticate_user(&grant(&c, right.clone())).await), "throttled");
    assert_eq!(code(&two.authenticate_user(&grant(&c, right)).await), "throttled");
    // Another address is not affected.
    user(&one, &c, "bo@example.com").await;
    assert!(sign_in(&two, &c, "bo@example.com").await["access_token"].is_string());
}

#[tokio::test]
async fn two_instances_share_sessions_and_lockout_on_sqlite() {
    two_instances_share_sessions_and_lockout(Backend::Sqlite).await;
}

#[tokio::test]
async fn two_instances_share_sessions_and_lockout_on_postgres() {
    two_instances_share_sessions_and_lockout(Backend::Postgres).await;
}
