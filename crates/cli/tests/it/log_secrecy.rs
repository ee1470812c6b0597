//! No password, code or token reaches the logs: a real server at debug level, every
//! sign-in flow, then its whole log searched for each secret it handled.

use serde_json::{Value, json};
use std::process::{Command, Stdio};

use crate::common::{BIN, Server};

async fn post(base: &str, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth("sk_test_default")
        .json(&body)
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

#[tokio::test]
async fn sign_in_secrets_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut command = Command::new(BIN);
    command.args(["server", "--addr", "127.0.0.1:0", "--dev", "--log-format", "pretty"]);
    let server = Server::start_logging(command, "debug", Stdio::from(log));
    let base = server.base.clone();
    let password = "a password nobody logs 7431";
    post(
        &base,
        "/user_management/users",
        json!({"email": "ada@example.com", "password": password, "email_verified": true}),
    )
    .await;
    let grant = |extra: Value| {
        let mut g = json!({"client_id": "client_test_default", "client_secret": "sk_test_default"});
        g.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        g
    };
    let signed_in = post(
        &base,
        "/user_management/authenticate",
        grant(json!({"grant_type": "password", "email": "ada@example.com", "password": password})),
    )
    .await;
    let wrong = post(
        &base,
        "/user_management/authenticate",
        grant(json!({"grant_type": "password", "email": "ada@example.com", "password": "wrong password 99812"})),
    )
    .await;
    assert_eq!(wrong["code"], "invalid_credentials");
    let refreshed = post(
        &base,
        "/user_management/authenticate",
        grant(json!({"grant_type": "refresh_token", "refresh_token": signed_in["refresh_token"]})),
    )
    .await;
    let magic = post(&base, "/user_management/magic_auth", json!({"email": "ada@example.com"})).await;
    post(&base, "/user_management/authenticate", grant(json!({"grant_type": "urn:workos:oauth:grant-type:magic-auth:code", "email": "ada@example.com", "code": magic["code"]}))).await;
    let reset = post(&base, "/user_management/password_reset", json!({"email": "ada@example.com"})).await;
    drop(server);
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains("request"), "the server logged its requests: {text}");
    let secrets = [
        password.to_owned(),
        "wrong password 99812".to_owned(),
        signed_in["access_token"].as_str().unwrap().to_owned(),
        signed_in["refresh_token"].as_str().unwrap().to_owned(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
        reset["password_reset_token"].as_str().unwrap().to_owned(),
    ];
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret reached the log: {secret}");
    }
    // Six digits also occur inside timestamps and latencies: look for the code as a word.
    let code = magic["code"].as_str().unwrap();
    let bytes = text.as_bytes();
    let standalone = text.match_indices(code).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + code.len()).copied();
        !before.is_some_and(|b| b.is_ascii_alphanumeric()) && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    });
    assert!(!standalone, "the magic-auth code reached the log: {code}");
}
