//! Webhooks end to end through the real server and a real receiver on loopback:
//! signatures, retries on the compressed schedule, ordering, the delivery log,
//! disabling, and SSRF refusals.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use vestibule_test_support::{Backend, Receiver, TestDb, TestServer};

fn verify(secret: &str, r: &vestibule_test_support::Received) -> Value {
    let (t, v1) = r.signature.split_once(", ").expect("t=…, v1=…");
    let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
    let expected = vestibule_core::events::webhooks::signature_header(secret, t, &r.body);
    assert_eq!(expected, r.signature, "signature over t.body with the endpoint secret");
    assert!(v1.starts_with("v1=") && v1.len() == 3 + 64);
    assert!((vestibule_core::Timestamp::now().millis() - t).abs() < 60_000, "t is in milliseconds");
    serde_json::from_slice(&r.body).unwrap()
}

async fn endpoint(s: &TestServer, url: &str, events: Value) -> Value {
    let (status, ep) =
        s.call(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": url, "events": events}))).await;
    assert_eq!(status, 201, "{ep}");
    ep
}

#[tokio::test]
async fn events_are_delivered_signed_in_order_and_retried() {
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |c| c.webhook_retry_delays_ms = Some(vec![10, 10, 10, 10])).await;
    let flaky = Receiver::start(&[500, 500, 500]).await;
    let ep = endpoint(&s, &flaky.url, json!(["organization.created"])).await;
    assert_eq!((ep["status"].as_str(), ep["object"].as_str()), (Some("enabled"), Some("webhook_endpoint")));
    let secret = ep["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, org) = s.call(Method::POST, "/organizations", Some(json!({"name": format!("Org {i}")}))).await;
        ids.push(org["id"].clone());
    }
    // Not subscribed: never delivered.
    s.call(Method::PUT, &format!("/organizations/{}", ids[0].as_str().unwrap()), Some(json!({"name": "renamed"})))
        .await;
    let seen = flaky.wait_for(Duration::from_secs(10), |r| r.iter().filter(|x| x.answered == 200).count() == 3).await;
    assert_eq!(seen.len(), 6, "three 500s for the first event, then one delivery each");
    let bodies: Vec<Value> = seen.iter().map(|r| verify(secret, r)).collect();
    assert!(bodies.iter().all(|b| b["event"] == "organization.created" && b["object"] == "event"));
    let delivered: Vec<Value> =
        seen.iter().zip(&bodies).filter(|(r, _)| r.answered == 200).map(|(_, b)| b["data"]["id"].clone()).collect();
    assert_eq!(delivered, ids, "per-endpoint order by event time, each exactly once");
    assert!(bodies[..4].iter().all(|b| b["data"]["id"] == ids[0]), "later events wait behind the failing one");

    let ep_id = ep["id"].as_str().unwrap();
    let (status, log) = s.call(Method::GET, &format!("/webhook_endpoints/{ep_id}/deliveries?order=asc"), None).await;
    assert_eq!(status, 200, "{log}");
    let first = &log["data"][0];
    assert_eq!(first["state"], "delivered");
    let codes: Vec<i64> =
        first["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 500, 500, 200]);
    assert!(first["attempts"][0]["error"].as_str().unwrap().contains("500"));

    // Redelivery on demand.
    let event_id = first["id"].as_str().unwrap();
    let (status, _) =
        s.call(Method::POST, &format!("/webhook_endpoints/{ep_id}/deliveries/{event_id}/retry"), None).await;
    assert_eq!(status, 202);
    flaky.wait_for(Duration::from_secs(10), |r| r.len() == 7).await;
    s.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_with_a_reason() {
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |c| c.webhook_retry_delays_ms = Some(vec![5, 5])).await;
    let down = Receiver::start(&[503; 10]).await;
    let ep = endpoint(&s, &down.url, json!([])).await;
    s.call(Method::POST, "/organizations", Some(json!({"name": "Doomed"}))).await;
    down.wait_for(Duration::from_secs(10), |r| r.len() == 3).await;
    let ep_path = format!("/webhook_endpoints/{}", ep["id"].as_str().unwrap());
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (_, got) = s.call(Method::GET, &ep_path, None).await;
            if got["status"] == "disabled" {
                break got;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the endpoint is disabled");
    assert!(got["disabled_reason"].as_str().unwrap().contains("3 failed delivery attempts"), "{got}");
    // Disabled endpoints get nothing; re-enabling clears the reason.
    let (_, got) = s.call(Method::PATCH, &ep_path, Some(json!({"status": "enabled"}))).await;
    assert_eq!((got["status"].as_str(), got["disabled_reason"].clone()), (Some("enabled"), Value::Null));
    s.stop().await;
}

#[tokio::test]
async fn endpoint_crud_and_bad_input() {
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |_| {}).await;
    let ep = endpoint(&s, "http://127.0.0.1:9/hook", json!(["user.created"])).await;
    let id = ep["id"].as_str().unwrap();
    assert!(id.starts_with("we_"));
    let (status, body) =
        s.call(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": "http://127.0.0.1:9/hook"}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("duplicate_endpoint")));
    for (bad, code) in [
        (json!({"endpoint_url": "ftp://example.com"}), "invalid_url"),
        (json!({"endpoint_url": "http://no-such-host.invalid/x"}), "invalid_url"),
        (json!({"endpoint_url": "http://169.254.169.254/latest/meta-data"}), "invalid_url"),
        (json!({"endpoint_url": "http://127.0.0.2:9/x", "events": ["user.exploded"]}), "unknown_event_type"),
    ] {
        let (status, body) = s.call(Method::POST, "/webhook_endpoints", Some(bad.clone())).await;
        assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{bad}");
    }
    let (_, list) = s.call(Method::GET, "/webhook_endpoints", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "nothing created by the refusals");
    assert_eq!(list["data"][0]["secret"], ep["secret"], "the secret is served on reads, as the spec requires");
    let (status, upd) = s
        .call(
            Method::PATCH,
            &format!("/webhook_endpoints/{id}"),
            Some(json!({"events": ["organization.created", "user.created"], "status": "disabled"})),
        )
        .await;
    assert_eq!((status, upd["status"].as_str(), upd["events"].as_array().unwrap().len()), (200, Some("disabled"), 2));
    assert_eq!(s.call(Method::DELETE, &format!("/webhook_endpoints/{id}"), None).await.0, 204);
    assert_eq!(s.call(Method::PATCH, &format!("/webhook_endpoints/{id}"), Some(json!({}))).await.0, 404);
    s.stop().await;

    // Outside --dev, loopback and private targets are refused unless allowed.
    let prod = TestServer::start(&db.url, |c| c.dev = false).await;
    let (status, body) =
        prod.call(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": "http://127.0.0.1:9/hook"}))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_url")), "{body}");
    prod.stop().await;
    let open = TestServer::start(&db.url, |c| {
        c.dev = false;
        c.webhook_allow_private = true;
    })
    .await;
    assert_eq!(
        open.call(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": "http://10.0.0.1/hook"}))).await.0,
        201
    );
    open.stop().await;
}

#[tokio::test]
async fn endpoint_urls_that_embed_a_private_ipv4_are_refused() {
    let (_db, s) = vestibule_test_support::sqlite_server().await;
    // The forms reported, and the other notations of 169.254.169.254 (--dev: loopback
    // is allowed, nothing else that is not public).
    for url in [
        "http://[::a9fe:a9fe]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://[2002:a9fe:a9fe::]/hook",
        "http://[fec0::1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://2852039166/hook",
        "http://0251.0376.0251.0376/hook",
        "http://0xa9fea9fe/hook",
    ] {
        let (status, body) = s.call(Method::POST, "/webhook_endpoints", Some(json!({"endpoint_url": url}))).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid_url")), "{url}: {body}");
    }
    let ep = endpoint(&s, "http://127.1:9/hook", json!([])).await;
    let (status, body) = s
        .call(
            Method::PATCH,
            &format!("/webhook_endpoints/{}", ep["id"].as_str().unwrap()),
            Some(json!({"endpoint_url": "http://[64:ff9b::169.254.169.254]/hook"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_url")), "{body}");
    let (_, list) = s.call(Method::GET, "/webhook_endpoints", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["endpoint_url"], "http://127.1:9/hook");
    s.stop().await;
}

/// Each item of a 422's `errors` names its `code` and a `message` (the v0.61 contract of
/// `POST /webhook_endpoints` and `PATCH /webhook_endpoints/{id}`).
fn assert_explained_validation(status: u16, body: &Value, fields: &[&str]) {
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request_parameters")), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let errors = body["errors"].as_array().expect("errors");
    let named: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(named, fields, "{body}");
    for e in errors {
        assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

#[tokio::test]
async fn webhook_endpoint_validation_errors_carry_a_message() {
    let (_db, s) = vestibule_test_support::sqlite_server().await;
    for (body, fields) in [
        (json!({}), &["endpoint_url"][..]),
        (json!({"endpoint_url": 5}), &["endpoint_url"]),
        (json!({"endpoint_url": "http://127.0.0.1:9/x", "secret": "short"}), &["secret"]),
        (json!({"endpoint_url": "x".repeat(3000), "events": "user.created"}), &["endpoint_url", "events"]),
    ] {
        let (status, got) = s.call(Method::POST, "/webhook_endpoints", Some(body.clone())).await;
        assert_explained_validation(status, &got, fields);
    }
    let ep = endpoint(&s, "http://127.0.0.1:9/x", json!([])).await;
    let path = format!("/webhook_endpoints/{}", ep["id"].as_str().unwrap());
    for (body, fields) in [
        (json!({"status": "paused"}), &["status"][..]),
        (json!({"endpoint_url": 1, "events": [1], "status": true}), &["endpoint_url", "events[0]", "status"]),
    ] {
        let (status, got) = s.call(Method::PATCH, &path, Some(body)).await;
        assert_explained_validation(status, &got, fields);
    }
    s.stop().await;
}
