//! Races between server processes on one PostgreSQL database.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use vestibule_test_support::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_vestibule");

struct Proc {
    child: Child,
    base: String,
    key: Option<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(db: &str) -> Proc {
    let mut child = Command::new(BIN)
        .args(["server", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--database", db])
        .env("VESTIBULE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut key = None;
    loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(k) = line.strip_prefix("initial API key: ") {
            key = Some(k.to_owned());
        }
        if let Some(url) = line.strip_prefix("vestibule listening on ") {
            return Proc { child, base: url.to_owned(), key };
        }
    }
}

#[tokio::test]
async fn fifty_parallel_membership_creations_on_two_instances_yield_one() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = spawn(&db.url);
    let key = a.key.clone().unwrap();
    let b = spawn(&db.url);
    let http = reqwest::Client::new();
    let post = |base: &str, path: &str, body: Value| http.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send();
    let org: Value = post(&a.base, "/organizations", json!({"name": "Race"})).await.unwrap().json().await.unwrap();
    let user: Value = post(&a.base, "/user_management/users", json!({"email": "race@example.com"})).await.unwrap().json().await.unwrap();
    let body = json!({"user_id": user["id"], "organization_id": org["id"]});
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            let req = http.post(format!("{base}/user_management/organization_memberships")).bearer_auth(&key).json(&body);
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
        .get(format!("{}/user_management/organization_memberships?organization_id={}", b.base, org["id"].as_str().unwrap()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let events: Value = http.get(format!("{}/events?events=organization_membership.created", a.base)).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "one event for the one membership");
}

