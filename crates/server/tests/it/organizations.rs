//! The HTTP contract, end to end through the real router on `127.0.0.1:0`: auth,
//! error envelopes, hostile input, pagination, idempotency, rate limits, domain
//! verification against a real DNS server.

use reqwest::Method;
use serde_json::{Value, json};
use vestibule_test_support::{Backend, DnsServer, TestDb, TestServer, sqlite_server};

async fn org_count(s: &TestServer) -> usize {
    let (status, body) = s.call(Method::GET, "/organizations?limit=100", None).await;
    assert_eq!(status, 200);
    body["data"].as_array().unwrap().len()
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["code"], json!(code), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn every_response_is_json_with_a_request_id() {
    let (_db, s) = sqlite_server().await;
    for (method, path) in [("GET", "/health"), ("GET", "/nope"), ("DELETE", "/health"), ("GET", "/organizations")] {
        let resp = s.http.request(method.parse().unwrap(), format!("{}{path}", s.base)).send().await.unwrap();
        assert!(resp.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
        assert_eq!(resp.headers()["content-type"], "application/json", "{method} {path}");
        let body: Value = resp.json().await.unwrap();
        assert!(body.is_object());
    }
    let (status, body) = s.call(Method::GET, "/nope", None).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found", "code": "not_found"})));
    let (status, body) = s.call(Method::PATCH, "/organizations", None).await;
    assert_eq!(status, 405);
    assert_error(&body, "method_not_allowed");
    s.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_keys_get_401() {
    let (_db, s) = sqlite_server().await;
    let resp = s.http.get(format!("{}/organizations", s.base)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"message": "Unauthorized", "code": "unauthorized"}));
    for key in ["sk_test_wrong", "not-a-key", ""] {
        let (status, _) = s.call_as(key, Method::GET, "/organizations", None).await;
        assert_eq!(status, 401, "key {key:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn crud_with_domains_and_not_found() {
    let (_db, s) = sqlite_server().await;
    let (status, org) = s
        .call(Method::POST, "/organizations", Some(json!({"name": "Acme", "domain_data": [{"domain": "acme.com", "state": "verified"}], "external_id": "a/b@c"})))
        .await;
    assert_eq!(status, 201, "{org}");
    let id = org["id"].as_str().unwrap();
    assert!(id.starts_with("org_") && id.len() == 30);
    assert_eq!(org["domains"][0]["state"], "verified");
    assert!(org["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(org["created_at"].as_str().unwrap().len(), 24, "three fractional digits");
    let (status, got) = s.call(Method::GET, "/organizations/external_id/a%2Fb%40c", None).await;
    assert_eq!((status, got["id"].clone()), (200, json!(id)));
    let (status, updated) = s
        .call(
            Method::PUT,
            &format!("/organizations/{id}"),
            Some(json!({"name": "Acme Inc", "metadata": {"tier": "gold"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["metadata"], json!({"tier": "gold"}));
    assert_eq!(updated["domains"], org["domains"], "domains untouched when absent");
    // Double slashes and a trailing slash route the same.
    let (status, _) = s.call(Method::GET, &format!("//organizations/{id}/"), None).await;
    assert_eq!(status, 200);
    let resp = s.http.delete(format!("{}/organizations/{id}", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.headers().get("content-type").is_none(), "204 carries no content type");
    let (status, body) = s.call(Method::GET, &format!("/organizations/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"message": format!("Organization not found: '{id}'."), "code": "entity_not_found"}));
    for bad in ["/organizations/not-an-id", "/organizations/org_%00", "/organization_domains/org_1"] {
        let (status, body) = s.call(Method::GET, bad, None).await;
        assert_eq!(status, 404, "{bad}");
        assert_error(&body, "entity_not_found");
    }
    s.stop().await;
}

#[tokio::test]
async fn hostile_and_malformed_input_changes_nothing() {
    let (_db, s) = sqlite_server().await;
    let url = format!("{}/organizations", s.base);
    let send = |body: Vec<u8>, ct: &'static str| {
        s.http.post(&url).bearer_auth(&s.key).header("content-type", ct).body(body).send()
    };
    let resp = send(b"{\"name\": ".to_vec(), "application/json").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_error(&resp.json().await.unwrap(), "invalid_request");
    let resp = send(b"[1,2]".to_vec(), "application/json").await.unwrap();
    assert_eq!(resp.status(), 400);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let resp = send(big.into_bytes(), "application/json").await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_error(&resp.json().await.unwrap(), "payload_too_large");
    let (status, body) = s
        .call(Method::POST, "/organizations", Some(json!({"name": 5, "domains": ["ok.com", "not a domain", 7], "metadata": {"k": {"nested": 1}}, "allow_profiles_outside_organization": "yes"})))
        .await;
    assert_eq!(status, 422);
    assert_error(&body, "invalid_request_parameters");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["name", "domains[2]", "metadata.k", "allow_profiles_outside_organization", "domains[1]"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let (status, body) = s.call(Method::POST, "/organizations", Some(json!({}))).await;
    assert_eq!((status, body["errors"].clone()), (422, json!([{"field": "name", "code": "required"}])));
    let too_many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (status, _) = s.call(Method::POST, "/organizations", Some(json!({"name": "M", "metadata": too_many}))).await;
    assert_eq!(status, 422);
    for q in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "order=up",
        "after=org_'--",
        "before=org_a&after=org_b",
        "after=garbage",
        "before=user_01ABC",
    ] {
        let (status, body) = s.call(Method::GET, &format!("/organizations?{q}"), None).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert_error(&body, "invalid_request_parameters");
    }
    for q in ["range_start=yesterday", "events=Not%20An%20Event", "limit=500", "after=garbage"] {
        let (status, _) = s.call(Method::GET, &format!("/events?{q}"), None).await;
        assert_eq!(status, 422, "{q}");
    }
    assert_eq!(org_count(&s).await, 0, "nothing was created");
    let (status, _) = s.call(Method::GET, "/health", None).await;
    assert_eq!(status, 200, "still serving");
    s.stop().await;
}

#[tokio::test]
async fn early_errors_keep_the_connection_usable() {
    let (_db, s) = sqlite_server().await;
    // One client, one pooled connection: a 401 and a 404 answered before the body was
    // read must not break the next request on the same connection.
    let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let body = json!({"name": "Padded", "padding": "x".repeat(10_000)});
    for (path, key, expected) in [
        ("/organizations", "sk_test_wrong", 401),
        ("/nope", s.key.as_str(), 404),
        ("/organizations", s.key.as_str(), 201),
    ] {
        let resp = http.post(format!("{}{path}", s.base)).bearer_auth(key).json(&body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), expected, "{path}");
        resp.bytes().await.unwrap();
    }
    s.stop().await;
}

#[tokio::test]
async fn empty_json_body_counts_as_empty_object() {
    let (_db, s) = sqlite_server().await;
    let resp = s
        .http
        .post(format!("{}/organizations", s.base))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422, "an empty body is {{}}, which lacks a name");
    s.stop().await;
}

#[tokio::test]
async fn idempotency_key_replays_and_refuses_other_bodies() {
    let (_db, s) = sqlite_server().await;
    let post = |key: &'static str, body: Value| {
        s.http
            .post(format!("{}/organizations", s.base))
            .bearer_auth(&s.key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = post("k-1", json!({"name": "Once"})).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post("k-1", json!({"name": "Once"})).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = post("k-1", json!({"name": "Twice"})).await.unwrap();
    assert_eq!(other.status(), 409);
    assert_error(&other.json().await.unwrap(), "idempotency_error");
    // Failed requests are remembered too (they are deterministic), and change nothing.
    let bad = post("k-2", json!({})).await.unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(post("k-2", json!({})).await.unwrap().status(), 422);
    assert_eq!(org_count(&s).await, 1);
    // Keys that cannot be remembered faithfully are refused before anything runs.
    let odd_keys = [
        reqwest::header::HeaderValue::from_bytes(b"k-\xe9t\xe9").unwrap(),
        reqwest::header::HeaderValue::from_str(&"k".repeat(256)).unwrap(),
    ];
    for key in odd_keys {
        let resp = s
            .http
            .post(format!("{}/organizations", s.base))
            .bearer_auth(&s.key)
            .header("idempotency-key", key)
            .json(&json!({"name": "Odd"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_error(&resp.json().await.unwrap(), "invalid_request");
    }
    assert_eq!(org_count(&s).await, 1);
    s.stop().await;
}

/// A process that dies mid-request leaves its key marked in flight; once the marker is
/// older than any request may run, the client's retry runs instead of a 409 for 24 hours.
#[tokio::test]
async fn an_abandoned_in_flight_key_is_taken_over() {
    let (db, s) = sqlite_server().await;
    let now = vestibule_core::Timestamp::now().millis();
    let lease = vestibule_core::kernel::idempotency::IN_FLIGHT_LEASE_MILLIS;
    for (key, age) in [("k-crashed", lease + 1000), ("k-running", 1000)] {
        let sql = format!(
            "INSERT INTO idempotency_keys (environment_id, key, fingerprint, status, body, created_at) \
             SELECT environment_id, '{key}', 'the-dead-request', NULL, NULL, {} FROM api_keys LIMIT 1",
            now - age
        );
        vestibule_test_support::execute_sql(&db.url, &sql).await;
    }
    let post = |key: &'static str| {
        s.http
            .post(format!("{}/organizations", s.base))
            .bearer_auth(&s.key)
            .header("idempotency-key", key)
            .json(&json!({"name": "Retried"}))
            .send()
    };
    let retried = post("k-crashed").await.unwrap();
    assert_eq!(retried.status(), 201, "the abandoned marker is taken over");
    let replayed = post("k-crashed").await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    // A marker within its lease still belongs to a request that may be running.
    let running = post("k-running").await.unwrap();
    assert_eq!(running.status(), 409);
    assert_eq!(org_count(&s).await, 1);
    s.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_integer_retry_after() {
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |c| c.rate_limit = 3).await;
    for _ in 0..3 {
        assert_eq!(s.call(Method::GET, "/organizations", None).await.0, 200);
    }
    let resp = s.http.get(format!("{}/organizations", s.base)).bearer_auth(&s.key).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().expect("integer seconds");
    assert!((1..=60).contains(&retry));
    assert_error(&resp.json().await.unwrap(), "rate_limit_exceeded");
    assert_eq!(s.call(Method::GET, "/health", None).await.0, 200, "health is not limited");
    s.stop().await;
}

#[tokio::test]
async fn pagination_over_250_organizations() {
    let (_db, s) = sqlite_server().await;
    let mut ids = Vec::new();
    for i in 0..250 {
        let (status, org) = s.call(Method::POST, "/organizations", Some(json!({"name": format!("Org {i}")}))).await;
        assert_eq!(status, 201);
        ids.push(org["id"].as_str().unwrap().to_owned());
    }
    for order in ["asc", "desc"] {
        let mut seen: Vec<String> = Vec::new();
        let mut after = String::new();
        loop {
            let (status, page) =
                s.call(Method::GET, &format!("/organizations?limit=100&order={order}&after={after}"), None).await;
            assert_eq!(status, 200);
            seen.extend(page["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()));
            match page["list_metadata"]["after"].as_str() {
                Some(a) => after = a.to_owned(),
                None => break,
            }
        }
        let mut expected = ids.clone();
        if order == "desc" {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order}");
    }
    s.stop().await;
}

#[tokio::test]
async fn events_are_oldest_first_and_filterable_in_every_array_encoding() {
    let (_db, s) = sqlite_server().await;
    let (_, a) = s.call(Method::POST, "/organizations", Some(json!({"name": "A"}))).await;
    let a_id = a["id"].as_str().unwrap();
    s.call(Method::PUT, &format!("/organizations/{a_id}"), Some(json!({"name": "A2"}))).await;
    let (_, b) = s.call(Method::POST, "/organizations", Some(json!({"name": "B"}))).await;
    s.call(Method::DELETE, &format!("/organizations/{}", b["id"].as_str().unwrap()), None).await;
    let (status, all) = s.call(Method::GET, "/events?order=desc", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = all["data"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["organization.created", "organization.updated", "organization.created", "organization.deleted"]);
    assert_eq!(all["list_metadata"]["after"], all["data"][3]["id"]);
    for q in [
        "events=organization.created,organization.deleted",
        "events=organization.created&events=organization.deleted",
        "events[]=organization.created&events[]=organization.deleted",
    ] {
        let (_, page) = s.call(Method::GET, &format!("/events?{q}"), None).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 3, "{q}");
    }
    let (_, by_org) = s.call(Method::GET, &format!("/events?organization_id={a_id}"), None).await;
    assert_eq!(by_org["data"].as_array().unwrap().len(), 2);
    let (_, rest) =
        s.call(Method::GET, &format!("/events?after={}&limit=1", all["data"][1]["id"].as_str().unwrap()), None).await;
    assert_eq!(rest["data"][0]["id"], all["data"][2]["id"]);
    let (_, none) = s.call(Method::GET, "/events?range_start=2999-01-01T00:00:00Z", None).await;
    assert_eq!(none, json!({"object": "list", "data": [], "list_metadata": {"after": null}}));
    s.stop().await;
}

#[tokio::test]
async fn domain_verification_reads_a_real_txt_record() {
    let db = TestDb::new(Backend::Sqlite).await;
    // The record must exist before dnsmasq starts, but the token is only known after
    // the domain is created: create it on one server, then verify on a second one
    // that uses the DNS server, over the same database.
    let first = TestServer::start(&db.url, |_| {}).await;
    let (_, org) = first.call(Method::POST, "/organizations", Some(json!({"name": "DNS Co"}))).await;
    let org_id = org["id"].as_str().unwrap();
    let (status, good) = first
        .call(
            Method::POST,
            "/organization_domains",
            Some(json!({"domain": "dns-good.test", "organization_id": org_id})),
        )
        .await;
    assert_eq!(status, 201, "{good}");
    assert_eq!((good["state"].as_str(), good["verification_strategy"].as_str()), (Some("pending"), Some("dns")));
    let (_, bad) = first
        .call(Method::POST, "/organization_domains", Some(json!({"domain": "dns-bad.test", "organization_id": org_id})))
        .await;
    let (status, dup) = first
        .call(
            Method::POST,
            "/organization_domains",
            Some(json!({"domain": "DNS-good.test", "organization_id": org_id})),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&dup, "domain_already_exists");
    let (status, _) = first
        .call(
            Method::POST,
            "/organization_domains",
            Some(json!({"domain": "x.test", "organization_id": "org_missing"})),
        )
        .await;
    assert_eq!(status, 404);
    first.stop().await;

    let good_name = format!("{}.dns-good.test", good["verification_prefix"].as_str().unwrap());
    let bad_name = format!("{}.dns-bad.test", bad["verification_prefix"].as_str().unwrap());
    let dns = DnsServer::start(&[
        (&good_name, good["verification_token"].as_str().unwrap()),
        (&bad_name, "some-other-token"),
    ]);
    let s = TestServer::start(&db.url, |c| c.dns_resolver = Some(dns.addr)).await;
    let (status, verified) =
        s.call(Method::POST, &format!("/organization_domains/{}/verify", good["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 201, "{verified}");
    assert_eq!(verified["state"], "verified");
    // A missing record keeps the domain pending (DNS takes time to propagate)…
    let bad_path = format!("/organization_domains/{}/verify", bad["id"].as_str().unwrap());
    let (status, pending) = s.call(Method::POST, &bad_path, None).await;
    assert_eq!((status, pending["state"].as_str()), (201, Some("pending")));
    // …until the verification period has run out.
    vestibule_test_support::execute_sql(
        &db.url,
        &format!("UPDATE organization_domains SET created_at = 0 WHERE id = '{}'", bad["id"].as_str().unwrap()),
    )
    .await;
    let (status, failed) = s.call(Method::POST, &bad_path, None).await;
    assert_eq!((status, failed["state"].as_str()), (201, Some("failed")));
    let (status, again) =
        s.call(Method::POST, &format!("/organization_domains/{}/verify", good["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 400);
    assert_error(&again, "domain_already_verified");
    let (_, org) = s.call(Method::GET, &format!("/organizations/{org_id}"), None).await;
    let states: Vec<&str> = org["domains"].as_array().unwrap().iter().map(|d| d["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["verified", "failed"]);
    let (_, events) = s
        .call(Method::GET, "/events?events=organization_domain.verified,organization_domain.verification_failed", None)
        .await;
    let names: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["organization_domain.verified", "organization_domain.verification_failed"]);
    assert_eq!(events["data"][1]["data"]["reason"], "domain_verification_period_expired");
    assert_eq!(events["data"][1]["data"]["organization_domain"]["id"], bad["id"]);
    let resp = s
        .http
        .delete(format!("{}/organization_domains/{}", s.base, bad["id"].as_str().unwrap()))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    s.stop().await;
}

/// `domains=` values that are not domains match no organization: a filter never fails open
/// into listing every one.
#[tokio::test]
async fn a_domains_filter_of_non_domains_matches_nothing() {
    let (_db, s) = sqlite_server().await;
    for (name, domain) in [("Foo", "foo.com"), ("Bar", "bar.com")] {
        let (status, body) =
            s.call(Method::POST, "/organizations", Some(json!({"name": name, "domains": [domain]}))).await;
        assert_eq!(status, 201, "{body}");
    }
    for query in ["domains=foo", "domains=localhost", "domains=a_b.com", "domains[]=nope&domains[]=%20"] {
        let (status, body) = s.call(Method::GET, &format!("/organizations?{query}"), None).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body["data"], json!([]), "{query} matches nothing");
    }
    let (status, body) = s.call(Method::GET, "/organizations?domains=foo&domains=bar.com", None).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Bar"], "only the real domain matches");
}

/// A NUL character in any string is a field error on both engines (PostgreSQL cannot store
/// one): bodies, nested metadata, query parameters and path segments, and nothing is written.
#[tokio::test]
async fn nul_characters_are_refused_on_both_engines() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        let s = TestServer::start(&db.url, |_| {}).await;
        let refusals = [
            (Method::POST, "/organizations", Some(json!({"name": "Ac\u{0}me"})), "name"),
            (Method::POST, "/organizations", Some(json!({"name": "Acme", "external_id": "x\u{0}"})), "external_id"),
            (Method::POST, "/organizations", Some(json!({"name": "Acme", "metadata": {"k": "\u{0}"}})), "metadata.k"),
            (
                Method::POST,
                "/user_management/users",
                Some(json!({"email": "a@b.co", "first_name": "A\u{0}"})),
                "first_name",
            ),
            (Method::GET, "/organizations?search=a%00b", None, "search"),
        ];
        for (method, path, body, field) in refusals {
            let (status, answer) = s.call(method, path, body).await;
            assert_eq!(status, 422, "{backend:?} {path}: {answer}");
            assert_eq!(answer["code"], json!("invalid_request_parameters"), "{answer}");
            assert_eq!(answer["errors"][0]["field"], json!(field), "{answer}");
            assert_eq!(answer["errors"][0]["code"], json!("invalid_character"), "{answer}");
        }
        for path in [
            "/organizations/external_id/a%00b",
            "/user_management/users/external_id/a%00b",
            "/user_management/invitations/by_token/a%00b",
        ] {
            let (status, answer) = s.call(Method::GET, path, None).await;
            assert_eq!(status, 404, "{backend:?} {path}: {answer}");
            assert_error(&answer, "entity_not_found");
        }
        assert_eq!(org_count(&s).await, 0, "{backend:?}: nothing was created");
        let (_, users) = s.call(Method::GET, "/user_management/users", None).await;
        assert_eq!(users["data"], json!([]), "{backend:?}");
        s.stop().await;
    }
}

/// Sends `request` on a fresh connection and reads the answer until the server closes:
/// the status, the headers (lowercased names) and the body.
async fn raw_exchange(s: &TestServer, request: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before it has read everything: a failed write is
    // not the test's concern, the answer is.
    let _ = tcp.write_all(request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    (status, headers, body.as_bytes().to_vec())
}

#[tokio::test]
async fn transport_level_refusals_answer_the_json_envelope() {
    let (_db, s) = sqlite_server().await;
    let long_path = format!("GET /organizations/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100 * 1024));
    let big_header = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(450 * 1024));
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..150).map(|i| format!("X-Header-{i}: v\r\n")).collect::<String>()
    );
    let malformed = "GET /health HTTP/1.1\r\nHost: x\r\nNot A Header\r\n\r\n".to_owned();
    for (what, request, status, code) in [
        ("100 KB path", long_path, 414, "uri_too_long"),
        ("450 KB header", big_header, 431, "request_header_fields_too_large"),
        ("150 headers", many_headers, 431, "request_header_fields_too_large"),
        ("malformed header", malformed, 400, "invalid_request"),
    ] {
        let (got, headers, body) = raw_exchange(&s, request.as_bytes()).await;
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let text = String::from_utf8_lossy(&body);
        assert_eq!(got, status, "{what}: {headers:?} {text}");
        assert_eq!(header("content-type"), Some("application/json"), "{what}: {headers:?}");
        assert_eq!(header("content-length"), Some(body.len().to_string().as_str()), "{what}: {headers:?}");
        let json: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
        assert_error(&json, code);
        assert_eq!(json.as_object().unwrap().len(), 2, "{what}: {json}");
    }
    // A request of ordinary size on a fresh connection is unaffected.
    let (got, headers, body) = raw_exchange(&s, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(got, 200, "{headers:?}");
    assert!(serde_json::from_slice::<Value>(&body).is_ok());
    s.stop().await;
}

/// Slowloris and idle connections cannot hold the server: a request head must arrive
/// within the header-read timeout, and connections beyond the limit wait only until the
/// idle ones are closed, so `/health` keeps answering.
#[tokio::test]
async fn idle_and_slow_connections_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |c| {
        c.max_connections = 8;
        c.header_read_timeout_secs = 1;
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // A slowloris client: half a head, then nothing. The server closes it.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow head was cut off");
    // Every slot is held by a silent connection, and more wait; /health still answers,
    // once the silent ones are closed.
    let health =
        tokio::time::timeout(std::time::Duration::from_secs(15), s.http.get(format!("{}/health", s.base)).send())
            .await
            .expect("/health answered under the attack")
            .unwrap();
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    drop(idle);
    s.stop().await;
}
