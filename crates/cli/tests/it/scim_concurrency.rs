//! Group membership under concurrent SCIM PATCHes from two server processes on one
//! PostgreSQL database: every change is a single-row statement, so interleaved adds and
//! removes end with exactly the members the last operation on each user says, and one
//! event per membership that really changed.

use crate::common::Server;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use vestibule_test_support::{Backend, TestDb};

/// A tiny deterministic generator, so a failure can be replayed.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[tokio::test]
async fn a_thousand_interleaved_member_patches_on_two_instances_end_exact() {
    const USERS: usize = 25;
    const OPS: usize = 1000;
    let db = TestDb::new(Backend::Postgres).await;
    let a = Server::on_database(&db.url, &["--rate-limit", "0"]);
    let key = a.initial_key.clone().unwrap();
    let b = Server::on_database(&db.url, &["--rate-limit", "0"]);
    let http = reqwest::Client::new();
    let org: Value = http
        .post(format!("{}/organizations", a.base))
        .bearer_auth(&key)
        .json(&json!({"name": "Race"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dir: Value = http
        .post(format!("{}/directories", a.base))
        .bearer_auth(&key)
        .json(&json!({"organization_id": org["id"], "name": "Race", "type": "okta scim v2.0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = dir["scim"]["bearer_token"].as_str().unwrap().to_owned();
    let path = format!("/scim/v2.0/{}", dir["external_key"].as_str().unwrap());
    let scim = |base: &str, method: reqwest::Method, p: &str, body: Value| {
        http.request(method, format!("{base}{path}{p}"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let mut users = Vec::new();
    for i in 0..USERS {
        let u: Value =
            scim(&a.base, reqwest::Method::POST, "/Users", json!({"userName": format!("u{i}@race.example")}))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        users.push(u["id"].as_str().unwrap().to_owned());
    }
    let g: Value = scim(&b.base, reqwest::Method::POST, "/Groups", json!({"displayName": "Racers"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = g["id"].as_str().unwrap().to_owned();

    // Each user gets its own ordered sequence of adds and removes; the sequences run
    // concurrently with each other, alternating between the two instances.
    let mut seed = 0x5eed_u64;
    let mut plans: Vec<Vec<bool>> = vec![Vec::new(); USERS];
    for _ in 0..OPS {
        let u = (next(&mut seed) % USERS as u64) as usize;
        plans[u].push(next(&mut seed).is_multiple_of(2));
    }
    let mut expected_transitions = 0usize;
    let mut expected_members = Vec::new();
    for (u, plan) in plans.iter().enumerate() {
        let mut member = false;
        for &add in plan {
            if add != member {
                expected_transitions += 1;
                member = add;
            }
        }
        if member {
            expected_members.push(users[u].clone());
        }
    }
    let bases = [a.base.clone(), b.base.clone()];
    let tasks: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(u, plan)| {
            let (http, token, path, gid, uid, bases) =
                (http.clone(), token.clone(), path.clone(), gid.clone(), users[u].clone(), bases.clone());
            tokio::spawn(async move {
                for (i, add) in plan.into_iter().enumerate() {
                    let op = if add {
                        json!({"op": "add", "path": "members", "value": [{"value": uid}]})
                    } else {
                        json!({"op": "remove", "path": format!("members[value eq \"{uid}\"]")})
                    };
                    let body =
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
                    let base = &bases[(u + i) % 2];
                    let resp = http
                        .patch(format!("{base}{path}/Groups/{gid}"))
                        .bearer_auth(&token)
                        .header("content-type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    expected_members.sort();
    let group: Value = scim(&a.base, reqwest::Method::GET, &format!("/Groups/{gid}"), Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut members: Vec<String> = group["members"]
        .as_array()
        .map_or_else(Vec::new, |m| m.iter().map(|x| x["value"].as_str().unwrap().to_owned()).collect());
    members.sort();
    assert_eq!(members, expected_members);
    let listed: Value = http
        .get(format!("{}/directory_users?group={gid}&limit=100", b.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut via_api: Vec<String> =
        listed["data"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
    via_api.sort();
    assert_eq!(via_api, expected_members);

    // One event per real change; per user, adds minus removes is its final membership.
    let mut per_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut after: Option<String> = None;
    let mut total = 0;
    loop {
        let mut url = format!("{}/events?events=dsync.group.user_added,dsync.group.user_removed&limit=100", a.base);
        if let Some(x) = &after {
            url.push_str(&format!("&after={x}"));
        }
        let page: Value = http.get(url).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        for e in data {
            total += 1;
            per_user
                .entry(e["data"]["user"]["id"].as_str().unwrap().to_owned())
                .or_default()
                .push(e["event"].as_str().unwrap().to_owned());
        }
        after = page["list_metadata"]["after"].as_str().map(str::to_owned);
        if after.is_none() {
            break;
        }
    }
    assert_eq!(total, expected_transitions);
    for (user, events) in per_user {
        let added = events.iter().filter(|e| *e == "dsync.group.user_added").count();
        let removed = events.len() - added;
        let member = usize::from(expected_members.contains(&user));
        assert_eq!(added - removed, member, "{user}: {events:?}");
    }
}
