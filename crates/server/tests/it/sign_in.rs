//! `POST /user_management/authenticate` and logout through the real router: both request
//! encodings, both error envelopes, the 403 step bodies the SDKs' typed errors read, the
//! lockout's 429, and hostile bodies that change nothing.

use reqwest::Method;
use serde_json::{Value, json};
use vestibule_test_support::{TestServer, sqlite_server};

const CLIENT_ID: &str = "client_test_default";

async fn authenticate(s: &TestServer, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut body = body;
    body["client_id"] = json!(CLIENT_ID);
    if body.get("client_secret").is_none() {
        body["client_secret"] = json!(s.key);
    }
    let r = s.http.post(format!("{}/user_management/authenticate", s.base)).json(&body).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.json().await.unwrap(), headers)
}

async fn user(s: &TestServer, email: &str, verified: bool) -> Value {
    let body = json!({"email": email, "password": "correct horse battery", "email_verified": verified});
    let (status, u) = s.call(Method::POST, "/user_management/users", Some(body)).await;
    assert_eq!(status, 201, "{u}");
    u
}

fn password(email: &str, pw: &str) -> Value {
    json!({"grant_type": "password", "email": email, "password": pw})
}

#[tokio::test]
async fn form_and_json_bodies_and_both_error_envelopes() {
    let (_db, s) = sqlite_server().await;
    let u = user(&s, "ada@example.com", true).await;
    // A form body, as the Node SDK sends token requests.
    let form = format!(
        "client_id={CLIENT_ID}&client_secret={}&grant_type=password&email=ada%40example.com&password=correct+horse+battery",
        s.key
    );
    let r = s
        .http
        .post(format!("{}/user_management/authenticate", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ok: Value = r.json().await.unwrap();
    assert_eq!(ok["user"]["id"], u["id"]);
    assert_eq!(ok["authentication_method"], "Password");
    assert_eq!(ok["access_token"].as_str().unwrap().split('.').count(), 3);
    // Wrong credentials: the WorkOS envelope.
    let (status, body, _) = authenticate(&s, password("ada@example.com", "wrong horse battery")).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_credentials")), "{body}");
    assert!(body["message"].is_string());
    // OAuth failures: the RFC 6749 envelope.
    let (status, body, _) = authenticate(&s, json!({"grant_type": "client_credentials"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_grant_type")), "{body}");
    let (status, body, _) = authenticate(
        &s,
        json!({"grant_type": "password", "client_secret": "sk_test_wrong", "email": "a", "password": "b"}),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let (status, body, _) = authenticate(&s, json!({"grant_type": "refresh_token", "refresh_token": "forged"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // Missing fields: 422 naming them.
    let (status, body, _) = authenticate(&s, json!({"grant_type": "password", "email": "ada@example.com"})).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request_parameters")), "{body}");
    assert_eq!(body["errors"][0]["field"], "password");
    // An unreadable body and a body of the wrong shape.
    for raw in ["{not json", "[1,2]", "\"x\""] {
        let r = s
            .http
            .post(format!("{}/user_management/authenticate", s.base))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{raw}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{raw}: {body}");
    }
    // None of it opened a session.
    let (_, sessions) =
        s.call(Method::GET, &format!("/user_management/users/{}/sessions", u["id"].as_str().unwrap()), None).await;
    assert_eq!(sessions["data"].as_array().unwrap().len(), 1, "{sessions}");
}

#[tokio::test]
async fn steps_answer_403_with_what_the_sdks_read() {
    let (_db, s) = sqlite_server().await;
    user(&s, "bo@example.com", false).await;
    let (status, body, _) = authenticate(&s, password("bo@example.com", "correct horse battery")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "email_verification_required");
    assert!(body["message"].is_string());
    assert_eq!(body["email"], "bo@example.com");
    assert!(body["pending_authentication_token"].as_str().is_some_and(|t| t.len() >= 25));
    let id = body["email_verification_id"].as_str().unwrap();
    assert!(id.starts_with("email_verification_"), "{id}");
    // The code is in the event an application that mails it itself reads.
    let (_, events) = s.call(Method::GET, "/events?events=email_verification.created", None).await;
    let code = events["data"][0]["data"]["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    let (status, ok, _) = authenticate(
        &s,
        json!({"grant_type": "urn:workos:oauth:grant-type:email-verification:code", "code": code, "pending_authentication_token": body["pending_authentication_token"]}),
    )
    .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["user"]["email_verified"], true);
}

#[tokio::test]
async fn lockout_answers_429_with_retry_after() {
    let (_db, s) = sqlite_server().await;
    user(&s, "cy@example.com", true).await;
    for _ in 0..10 {
        let (status, _, _) = authenticate(&s, password("cy@example.com", "wrong horse battery")).await;
        assert_eq!(status, 400);
    }
    let (status, body, headers) = authenticate(&s, password("cy@example.com", "correct horse battery")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "rate_limit_exceeded");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
}

#[tokio::test]
async fn logout_redirects_to_registered_origins_only() {
    let (_db, s) = sqlite_server().await;
    user(&s, "di@example.com", true).await;
    let (_, ok, _) = authenticate(&s, password("di@example.com", "correct horse battery")).await;
    let payload = ok["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    let sid = claims["sid"].as_str().unwrap();
    let (status, _) = s
        .call(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": "https://app.example.com/callback"})))
        .await;
    assert_eq!(status, 201);
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let logout = |to: &str| format!("{}/user_management/sessions/logout?session_id={sid}&return_to={to}", s.base);
    let r = no_redirects.get(logout("https%3A%2F%2Fevil.example%2F")).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let r = no_redirects.get(logout("https%3A%2F%2Fapp.example.com%2Fbye")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://app.example.com/bye");
    let (status, body, _) =
        authenticate(&s, json!({"grant_type": "refresh_token", "refresh_token": ok["refresh_token"]})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "the session ended: {body}");
}

#[tokio::test]
async fn redirect_uris_are_deleted_and_the_default_moves_on() {
    let (_db, s) = sqlite_server().await;
    let mut ids = Vec::new();
    for uri in ["https://a.example.com/cb", "https://b.example.com/cb"] {
        let (status, r) = s.call(Method::POST, "/user_management/redirect_uris", Some(json!({"uri": uri}))).await;
        assert_eq!(status, 201, "{r}");
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = s.call(Method::DELETE, &format!("/user_management/redirect_uris/{}", ids[0]), None).await;
    assert_eq!(status, 204);
    let (_, list) = s.call(Method::GET, "/user_management/redirect_uris", None).await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!((data[0]["id"].as_str(), &data[0]["default"]), (Some(ids[1].as_str()), &json!(true)));
    let (status, body) = s.call(Method::DELETE, &format!("/user_management/redirect_uris/{}", ids[0]), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("entity_not_found")));
    // A user's authorized applications: none exist, and an unknown user is a 404.
    let u = user(&s, "ed@example.com", true).await;
    let path = format!("/user_management/users/{}/authorized_applications", u["id"].as_str().unwrap());
    let (status, apps) = s.call(Method::GET, &path, None).await;
    assert_eq!((status, apps["data"].as_array().map(Vec::len)), (200, Some(0)), "{apps}");
    let (status, _) = s.call(Method::DELETE, &format!("{path}/conn_app_01H"), None).await;
    assert_eq!(status, 404);
    let (status, _) = s.call(Method::GET, "/user_management/users/user_01NOPE/authorized_applications", None).await;
    assert_eq!(status, 404);
}
