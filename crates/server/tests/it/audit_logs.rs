//! Audit logs through the real router: events with and without a reused
//! `Idempotency-Key`, schema and field errors, an export polled until ready and
//! downloaded through its signed link, bad ranges and links, and retention.

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use vestibule_core::Timestamp;
use vestibule_test_support::{TestServer, sqlite_server};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

async fn org(s: &TestServer) -> String {
    let (status, org) = s.call(Method::POST, "/organizations", Some(json!({"name": "Acme"}))).await;
    assert_eq!(status, 201, "{org}");
    org["id"].as_str().unwrap().to_owned()
}

fn event(org: &str, action: &str, actor: &str, target_type: &str, at: Timestamp) -> Value {
    json!({
        "organization_id": org,
        "event": {
            "action": action,
            "occurred_at": at.to_iso(),
            "actor": {"id": actor, "type": "user", "name": format!("Name of {actor}")},
            "targets": [{"id": "t_1", "type": target_type, "metadata": {"size": 3}}],
            "context": {"location": "192.0.2.1", "user_agent": "Mozilla/5.0"},
            "metadata": {"reason": "a, \"quoted\"\nvalue"},
        }
    })
}

/// `POST path` with an `Idempotency-Key`; the status, body and whether it was replayed.
async fn post_with_key(s: &TestServer, path: &str, key: &str, body: &Value) -> (u16, Value, bool) {
    let resp = s
        .http
        .post(format!("{}{path}", s.base))
        .bearer_auth(&s.key)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    (status, resp.json().await.unwrap(), replayed)
}

/// Creates an export and polls it until it leaves `pending`; the export as last read.
async fn export(s: &TestServer, body: Value) -> Value {
    let (status, created) = s.call(Method::POST, "/audit_logs/exports", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["object"].as_str(), created["state"].as_str(), &created["url"]),
        (Some("audit_log_export"), Some("pending"), &Value::Null)
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("audit_log_export_"));
    let path = format!("/audit_logs/exports/{id}");
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (status, x) = s.call(Method::GET, &path, None).await;
            assert_eq!(status, 200, "{x}");
            if x["state"] != "pending" {
                return x;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the export leaves pending")
}

/// Downloads a ready export's CSV without an API key; the ids of its rows.
async fn download_ids(url: &str) -> Vec<String> {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers, vestibule_core::audit_logs::CSV_COLUMNS);
    reader.records().map(|r| r.unwrap()[0].to_owned()).collect()
}

/// All events of `org` as a CSV export sees them: (action, actor_id) per row.
async fn all_rows(s: &TestServer, org: &str) -> Vec<(String, String)> {
    let now = Timestamp::now();
    let x = export(s, json!({"organization_id": org, "range_start": now.plus_millis(-30 * DAY_MS).to_iso(), "range_end": now.plus_millis(DAY_MS).to_iso()})).await;
    let text = reqwest::get(x["url"].as_str().unwrap()).await.unwrap().text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap()).map(|r| (r[2].to_owned(), r[4].to_owned())).collect()
}

#[tokio::test]
async fn events_idempotency_and_validation() {
    let (_db, s) = sqlite_server().await;
    let org = org(&s).await;
    let now = Timestamp::now();
    let (status, body) =
        s.call(Method::POST, "/audit_logs/events", Some(event(&org, "doc.read", "user_a", "doc", now))).await;
    assert_eq!((status, body), (200, json!({"success": true})));
    // The same key and body twice: one event, the second answer replayed.
    let reused = event(&org, "doc.read", "user_b", "doc", now);
    let first = post_with_key(&s, "/audit_logs/events", "workos-node-1", &reused).await;
    let second = post_with_key(&s, "/audit_logs/events", "workos-node-1", &reused).await;
    assert_eq!((first.0, &first.1, first.2), (200, &json!({"success": true}), false));
    assert_eq!((second.0, &second.1, second.2), (200, &json!({"success": true}), true));
    let other = post_with_key(&s, "/audit_logs/events", "workos-node-2", &reused).await;
    assert_eq!((other.0, other.2), (200, false), "a new key is a new event");
    let mismatch =
        post_with_key(&s, "/audit_logs/events", "workos-node-1", &event(&org, "doc.read", "user_c", "doc", now)).await;
    assert_eq!((mismatch.0, code(&mismatch.1)), (409, "idempotency_error"));

    // Missing fields: 422 naming each one.
    let (status, body) = s
        .call(
            Method::POST,
            "/audit_logs/events",
            Some(json!({"organization_id": org, "event": {"actor": {"id": "u"}, "context": {}}})),
        )
        .await;
    assert_eq!((status, code(&body)), (422, "invalid_request_parameters"), "{body}");
    let fields: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("event.action", "required"),
            ("event.occurred_at", "required"),
            ("event.actor.type", "required"),
            ("event.targets", "required"),
            ("event.context.location", "required"),
        ]
    );
    // Metadata over the limits, too many targets, a future date: 422.
    let mut big = event(&org, "doc.read", "user_a", "doc", now);
    big["event"]["metadata"] = Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect());
    big["event"]["actor"]["metadata"] = json!({"k": "v".repeat(501)});
    big["event"]["targets"][0]["metadata"] = json!({"k".repeat(41): "v"});
    let (status, body) = s.call(Method::POST, "/audit_logs/events", Some(big)).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["event.actor.metadata.k", &format!("event.targets[0].metadata.{}", "k".repeat(41)), "event.metadata"]
    );
    let mut many = event(&org, "doc.read", "user_a", "doc", now);
    many["event"]["targets"] = Value::Array((0..51).map(|i| json!({"id": format!("t{i}"), "type": "doc"})).collect());
    let (status, body) = s.call(Method::POST, "/audit_logs/events", Some(many)).await;
    assert_eq!((status, body["errors"][0]["code"].as_str()), (422, Some("too_many_items")));
    let future = event(&org, "doc.read", "user_a", "doc", now.plus_millis(DAY_MS));
    let (status, body) = s.call(Method::POST, "/audit_logs/events", Some(future)).await;
    assert_eq!((status, body["errors"][0]["code"].as_str()), (422, Some("in_future")));
    let (status, body) = s
        .call(
            Method::POST,
            "/audit_logs/events",
            Some(event("org_01J00000000000000000000000", "doc.read", "u", "doc", now)),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "entity_not_found"));

    // A schema for the action: events must now match it.
    let schema = json!({
        "actor": {"metadata": {"type": "object", "properties": {"role": {"type": "string"}}}},
        "targets": [{"type": "doc", "metadata": {"type": "object", "properties": {"size": {"type": "integer"}}}}],
        "metadata": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
    });
    let (status, created) = s.call(Method::POST, "/audit_logs/actions/doc.read/schemas", Some(schema)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["object"].as_str(), created["version"].as_i64()), (Some("audit_log_schema"), Some(1)));
    assert!(created["targets"][0]["metadata"].is_object() && created["created_at"].is_string());
    let mut bad = event(&org, "doc.read", "user_a", "invoice", now);
    bad["event"]["actor"]["metadata"] = json!({"role": 5});
    bad["event"]["metadata"] = json!({});
    let (status, body) = s.call(Method::POST, "/audit_logs/events", Some(bad)).await;
    assert_eq!(
        (status, code(&body), body["message"].as_str()),
        (400, "invalid_audit_log_event", Some("Invalid Audit Log event.")),
        "{body}"
    );
    let mut paths: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["instancePath"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(paths, ["/actor/metadata/role", "/metadata", "/targets/0/type"]);
    let (status, _) =
        s.call(Method::POST, "/audit_logs/events", Some(event(&org, "doc.read", "user_d", "doc", now))).await;
    assert_eq!(status, 200, "a matching event is accepted");
    let (status, body) = s
        .call(
            Method::POST,
            "/audit_logs/actions/doc.read/schemas",
            Some(json!({"targets": [{"type": "doc", "metadata": {"type": "nonsense"}}]})),
        )
        .await;
    assert_eq!((status, body["errors"][0]["code"].as_str()), (422, Some("invalid_schema")));
    let (status, actions) = s.call(Method::GET, "/audit_logs/actions", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (actions["data"][0]["object"].as_str(), actions["data"][0]["name"].as_str()),
        (Some("audit_log_action"), Some("doc.read"))
    );
    assert_eq!(actions["data"][0]["schema"]["version"], 1);
    assert!(actions["list_metadata"].get("before").is_some() && actions["list_metadata"].get("after").is_some());
    let (status, schemas) = s.call(Method::GET, "/audit_logs/actions/doc.read/schemas", None).await;
    assert_eq!((status, schemas["data"].as_array().map(Vec::len)), (200, Some(1)));
    assert_eq!(s.call(Method::GET, "/audit_logs/actions/nope/schemas", None).await.0, 404);

    // Exactly the accepted events exist: user_a, user_b once, user_b again (new key), user_d.
    let rows = all_rows(&s, &org).await;
    let actors: Vec<&str> = rows.iter().map(|(_, a)| a.as_str()).collect();
    assert_eq!(actors, ["user_a", "user_b", "user_b", "user_d"]);
    s.stop().await;
}

#[tokio::test]
async fn exports_are_written_in_the_background_and_downloaded_once_signed() {
    let (_db, s) = sqlite_server().await;
    let org = org(&s).await;
    let other = self::org(&s).await;
    let base = Timestamp::now().plus_millis(-5 * DAY_MS);
    let mut sent = Vec::new();
    for i in 0..24i64 {
        let (action, actor, target) = (
            ["doc.read", "doc.written"][(i % 2) as usize],
            format!("user_{}", i % 3),
            ["doc", "invoice"][(i % 4 == 0) as usize],
        );
        let at = base.plus_millis(i * 60 * 60 * 1000);
        let (status, body) =
            s.call(Method::POST, "/audit_logs/events", Some(event(&org, action, &actor, target, at))).await;
        assert_eq!(status, 200, "{body}");
        sent.push((at, action, actor, target));
    }
    s.call(
        Method::POST,
        "/audit_logs/events",
        Some(event(&other, "doc.read", "user_1", "doc", base.plus_millis(3_600_000))),
    )
    .await;
    let (start, end) = (base.plus_millis(2 * 3_600_000), base.plus_millis(20 * 3_600_000));
    let x = export(
        &s,
        json!({
            "organization_id": org,
            "range_start": start.to_iso(),
            "range_end": end.to_iso(),
            "actions": ["doc.read"],
            "actor_ids": ["user_1"],
            "actors": ["Name of user_2"],
            "targets": ["doc"],
        }),
    )
    .await;
    assert_eq!(x["state"], "ready", "{x}");
    let url = x["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/audit_logs/exports/{}/download?expires=", s.base, x["id"].as_str().unwrap())),
        "{url}"
    );
    let rows = download_ids(url).await;
    let want = sent
        .iter()
        .filter(|(at, action, actor, target)| {
            *at >= start
                && *at <= end
                && *action == "doc.read"
                && (actor == "user_1" || actor == "user_2")
                && *target == "doc"
        })
        .count();
    assert!(want >= 3, "the selection is not empty: {want}");
    assert_eq!(rows.len(), want);
    assert!(rows.iter().all(|id| id.starts_with("audit_log_event_")));
    // Whole rows carry the event: JSON columns and quoted text survive the round trip.
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let row = csv::Reader::from_reader(text.as_bytes()).records().next().unwrap().unwrap();
    assert_eq!(&row[2], "doc.read");
    assert_eq!(serde_json::from_str::<Value>(&row[7]).unwrap()[0]["metadata"]["size"], 3);
    assert_eq!(serde_json::from_str::<Value>(&row[10]).unwrap()["reason"], "a, \"quoted\"\nvalue");
    assert_eq!((&row[8], &row[9]), ("192.0.2.1", "Mozilla/5.0"));

    // Each GET signs a fresh link; a tampered or expired one is refused with JSON.
    let (head, sig) = url.split_once("signature=").unwrap();
    let tampered = format!("{head}signature={}{}", if sig.starts_with('0') { "1" } else { "0" }, &sig[1..]);
    let resp = reqwest::get(&tampered).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(code(&resp.json::<Value>().await.unwrap()), "invalid_signature");
    let unsigned = url.split_once('?').unwrap().0;
    let resp = reqwest::get(unsigned).await.unwrap();
    assert_eq!(resp.status(), 403);
    let app = &s.running.as_ref().unwrap().app;
    let expired = app
        .audit_log_export_download_url(x["id"].as_str().unwrap(), Timestamp::now().plus_millis(-1000))
        .await
        .unwrap();
    let resp = reqwest::get(&expired).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(code(&resp.json::<Value>().await.unwrap()), "download_link_expired");
    assert_eq!(download_ids(url).await.len(), want, "the good link still works after the refusals");

    // Impossible ranges are the spec's 400; unreadable or missing bounds are field errors.
    for body in [
        json!({"organization_id": org, "range_start": end.to_iso(), "range_end": start.to_iso()}),
        json!({"organization_id": org, "range_start": start.to_iso(), "range_end": start.to_iso()}),
    ] {
        let (status, resp) = s.call(Method::POST, "/audit_logs/exports", Some(body)).await;
        assert_eq!((status, code(&resp)), (400, "invalid_audit_log_export_range_date"), "{resp}");
    }
    // A year, as the WorkOS guide asks for, is accepted: retention bounds what it holds.
    let year = json!({"organization_id": org, "range_start": start.plus_millis(-365 * DAY_MS).to_iso(), "range_end": end.to_iso()});
    let (status, resp) = s.call(Method::POST, "/audit_logs/exports", Some(year)).await;
    assert_eq!((status, resp["object"].as_str()), (201, Some("audit_log_export")), "{resp}");
    for (body, field) in [
        (json!({"organization_id": org, "range_start": "last tuesday", "range_end": end.to_iso()}), "range_start"),
        (json!({"organization_id": org, "range_end": end.to_iso()}), "range_start"),
    ] {
        let (status, resp) = s.call(Method::POST, "/audit_logs/exports", Some(body)).await;
        assert_eq!((status, resp["errors"][0]["field"].as_str()), (422, Some(field)), "{resp}");
    }
    let (status, resp) = s.call(Method::POST, "/audit_logs/exports", Some(json!({"organization_id": "org_01J00000000000000000000000", "range_start": start.to_iso(), "range_end": end.to_iso()}))).await;
    assert_eq!((status, code(&resp)), (404, "entity_not_found"));
    assert_eq!(
        s.call(Method::GET, "/audit_logs/exports/audit_log_export_01J00000000000000000000000", None).await.0,
        404
    );
    assert_eq!(
        s.call_as("sk_test_wrong", Method::GET, &format!("/audit_logs/exports/{}", x["id"].as_str().unwrap()), None)
            .await
            .0,
        401
    );
    s.stop().await;
}

#[tokio::test]
async fn retention_and_configuration() {
    let (_db, s) = sqlite_server().await;
    let org = org(&s).await;
    let path = format!("/organizations/{org}/audit_logs_retention");
    assert_eq!(s.call(Method::GET, &path, None).await, (200, json!({"retention_period_in_days": null})));
    let (status, body) = s.call(Method::PUT, &path, Some(json!({"retention_period_in_days": 45}))).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("retention_period_in_days")));
    assert_eq!(s.call(Method::GET, &path, None).await.1, json!({"retention_period_in_days": null}), "nothing changed");
    assert_eq!(
        s.call(Method::PUT, &path, Some(json!({"retention_period_in_days": 30}))).await,
        (200, json!({"retention_period_in_days": 30}))
    );
    assert_eq!(s.call(Method::GET, &path, None).await.1, json!({"retention_period_in_days": 30}));
    let (status, config) = s.call(Method::GET, &format!("/organizations/{org}/audit_log_configuration"), None).await;
    assert_eq!(
        (status, config),
        (200, json!({"organization_id": org, "retention_period_in_days": 30, "state": "active"}))
    );
    let missing = "/organizations/org_01J00000000000000000000000/audit_logs_retention";
    assert_eq!(s.call(Method::GET, missing, None).await.0, 404);
    assert_eq!(s.call(Method::PUT, missing, Some(json!({"retention_period_in_days": 30}))).await.0, 404);
    s.stop().await;
}
