//! Races between server processes on one PostgreSQL database.

use crate::common::Server;
use serde_json::{Value, json};
use vestibule_test_support::{Backend, TestDb};

#[tokio::test]
async fn fifty_parallel_membership_creations_on_two_instances_yield_one() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = Server::on_database(&db.url, &["--rate-limit", "0"]);
    let key = a.initial_key.clone().unwrap();
    let b = Server::on_database(&db.url, &["--rate-limit", "0"]);
    let http = reqwest::Client::new();
    let post =
        |base: &str, path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send();
    let org: Value = post(&a.base, "/organizations", json!({"name": "Race"})).await.unwrap().json().await.unwrap();
    let user: Value = post(&a.base, "/user_management/users", json!({"email": "race@example.com"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"user_id": user["id"], "organization_id": org["id"]});
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            let req =
                http.post(format!("{base}/user_management/organization_memberships")).bearer_auth(&key).json(&body);
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let list: Value = http
        .get(format!(
            "{}/user_management/organization_memberships?organization_id={}",
            b.base,
            org["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let events: Value = http
        .get(format!("{}/events?events=organization_membership.created", a.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "one event for the one membership");
}

async fn get(http: &reqwest::Client, base: &str, key: &str, path: &str) -> Value {
    http.get(format!("{base}{path}")).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn two_instances_deliver_each_webhook_exactly_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let receiver = vestibule_test_support::Receiver::start(&[]).await;
    let args = ["--rate-limit", "0", "--webhook-allow-private"];
    let a = Server::on_database(&db.url, &args);
    let key = a.initial_key.clone().unwrap();
    let b = Server::on_database(&db.url, &args);
    let http = reqwest::Client::new();
    let post =
        |base: &str, path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send();
    assert_eq!(post(&a.base, "/webhook_endpoints", json!({"endpoint_url": receiver.url})).await.unwrap().status(), 201);
    let mut ids = Vec::new();
    for i in 0..40 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let org: Value =
            post(base, "/organizations", json!({"name": format!("Org {i}")})).await.unwrap().json().await.unwrap();
        ids.push(org["id"].as_str().unwrap().to_owned());
    }
    let seen = receiver.wait_for(std::time::Duration::from_secs(20), |r| r.len() >= 40).await;
    let delivered: Vec<String> = seen
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    let mut unique = delivered.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), delivered.len(), "no duplicates: {delivered:?}");
    assert_eq!(delivered, ids, "each exactly once, in event order");
}

#[tokio::test]
async fn a_delivery_survives_a_killed_server() {
    let db = TestDb::new(Backend::Sqlite).await;
    let receiver = vestibule_test_support::Receiver::start(&[500]).await;
    // --dev with a file database: the compressed retry schedule and loopback targets.
    let mut a = Server::on_database(&db.url, &["--dev"]);
    let key = "sk_test_default";
    let http = reqwest::Client::new();
    let ep: Value = http
        .post(format!("{}/webhook_endpoints", a.base))
        .bearer_auth(key)
        .json(&json!({"endpoint_url": receiver.url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org: Value = http
        .post(format!("{}/organizations", a.base))
        .bearer_auth(key)
        .json(&json!({"name": "Survivor"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    receiver.wait_for(std::time::Duration::from_secs(10), |r| r.len() == 1).await;
    // Kill it once the failed attempt is on record, before the retry is due.
    let log_path = format!("/webhook_endpoints/{}/deliveries", ep["id"].as_str().unwrap());
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while get(&http, &a.base, key, &log_path).await["data"][0]["attempts"].as_array().map_or(0, Vec::len) < 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let b = Server::on_database(&db.url, &["--dev"]);
    let seen = receiver.wait_for(std::time::Duration::from_secs(10), |r| r.len() == 2).await;
    assert_eq!(seen[1].answered, 200);
    let body: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(body["data"]["id"], org["id"]);
    // The receiver answered before the server recorded it: wait for the record.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while get(&http, &b.base, key, &log_path).await["data"][0]["state"] != "delivered" {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the delivery is recorded as delivered");
}
