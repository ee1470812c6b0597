//! The real `vestibule` binary as operators run it: first start, restarts, crashes,
//! signals, several instances on one PostgreSQL, admin commands, seeds and config files.

use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use vestibule_test_support::{Backend, TestDb};

use crate::common::{BIN, Server};

fn admin(db: &str, args: &[&str]) -> Value {
    let out = Command::new(BIN).arg("admin").args(["--database", db]).args(args).output().unwrap();
    assert!(out.status.success(), "admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

impl Server {
    async fn call(&self, key: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.base)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    fn sigterm(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }
}

#[tokio::test]
async fn first_start_prints_a_key_once_and_restarts_keep_everything() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut first = Server::spawn(&["--database", &db.url]);
    let key = first.initial_key.clone().expect("an empty database prints its first key");
    assert!(key.starts_with("sk_test_") && key.len() > 40);
    let (status, org) = first
        .call(
            &key,
            reqwest::Method::POST,
            "/organizations",
            Some(json!({"name": "Durable", "domains": ["durable.com"]})),
        )
        .await;
    assert_eq!(status, 201);
    let status = first.sigterm();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
    let second = Server::spawn(&["--database", &db.url]);
    assert_eq!(second.initial_key, None, "the key is never printed again");
    let (status, got) =
        second.call(&key, reqwest::Method::GET, &format!("/organizations/{}", org["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 200);
    assert_eq!(got, org);
}

#[tokio::test]
async fn stored_secrets_are_sealed_with_a_key_file_made_beside_the_database() {
    let db = TestDb::new(Backend::Sqlite).await;
    let key_file = format!("{}.key", db.url.strip_prefix("sqlite://").unwrap());
    let mut first = Server::spawn(&["--database", &db.url]);
    let key = first.initial_key.clone().unwrap();
    let (_, org) = first.call(&key, reqwest::Method::POST, "/organizations", Some(json!({"name": "Sealed"}))).await;
    let oidc = json!({"issuer": "https://op.test/", "client_id": "c", "client_secret": "process-client-secret-0123"});
    let (status, conn) = first
        .call(&key, reqwest::Method::POST, "/connections", Some(json!({"organization_id": org["id"], "oidc": oidc})))
        .await;
    assert_eq!(status, 201, "{conn}");
    let path = format!("/connections/{}", conn["id"].as_str().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).expect("key file created").permissions().mode() & 0o777, 0o600);
    }
    let raw = vestibule_test_support::query_text(&db.url, "SELECT oidc FROM connections").await;
    assert!(raw[0].contains("sealed:v1:") && !raw[0].contains("process-client-secret-0123"), "{}", raw[0]);
    assert!(first.sigterm().success());

    // A restart reads the same key file back.
    let second = Server::spawn(&["--database", &db.url]);
    let (status, got) = second.call(&key, reqwest::Method::GET, &path, None).await;
    assert_eq!((status, &got["oidc"]["client_secret_set"]), (200, &json!(true)), "{got}");
    drop(second);

    // Another key opens nothing sealed: a WorkOS-shaped 500 for the connection, the rest serves.
    let other = format!("{key_file}.other");
    std::fs::write(&other, "mb3DUuE5ZJkbz0CmJ6GZR6kWcj2Ot0bH2cWsxr1cQxE=\n").unwrap();
    let third = Server::spawn(&["--database", &db.url, "--master-key-file", &other]);
    let (status, body) = third.call(&key, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 500, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.contains("process-client-secret")), "{body}");
    let (status, _) =
        third.call(&key, reqwest::Method::GET, &format!("/organizations/{}", org["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 200);
}

async fn burst_then_kill(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::spawn(&["--database", &db.url]);
    let key = server.initial_key.clone().unwrap();
    let base = server.base.clone();
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (base, key, acked, enough) = (base.clone(), key.clone(), acked.clone(), enough.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0.. {
                let resp = http
                    .post(format!("{base}/organizations"))
                    .bearer_auth(&key)
                    .json(&json!({"name": format!("w{w}-{i}")}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let Ok(resp) = resp else { return };
                if resp.status() != 201 {
                    return;
                }
                let Ok(body) = resp.json::<Value>().await else { return };
                let mut a = acked.lock().unwrap();
                a.push(body["id"].as_str().unwrap().to_owned());
                if a.len() == 150 {
                    enough.notify_one();
                }
            }
        }));
    }
    // Kill as soon as enough writes were acknowledged; writers are mid-flight then.
    let mut server = server;
    enough.notified().await;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let restarted = Server::spawn(&["--database", &db.url]);
    let mut listed = std::collections::HashSet::new();
    let mut after = String::new();
    loop {
        let (status, page) =
            restarted.call(&key, reqwest::Method::GET, &format!("/organizations?limit=100&after={after}"), None).await;
        assert_eq!(status, 200);
        listed.extend(page["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match page["list_metadata"]["after"].as_str() {
            Some(a) => after = a.to_owned(),
            None => break,
        }
    }
    let lost: Vec<_> = acked.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes lost: {lost:?}", lost.len(), acked.len());
    assert!(acked.len() >= 150);
}

#[tokio::test]
async fn kill_9_during_writes_loses_no_acknowledged_write_on_sqlite() {
    burst_then_kill(Backend::Sqlite).await;
}

#[tokio::test]
async fn kill_9_during_writes_loses_no_acknowledged_write_on_postgres() {
    burst_then_kill(Backend::Postgres).await;
}

#[tokio::test]
async fn two_instances_on_one_postgres_share_data_and_rate_limits() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = Server::spawn(&["--database", &db.url, "--rate-limit", "10", "--rate-limit-window", "3600"]);
    let key = a.initial_key.clone().unwrap();
    let b = Server::spawn(&["--database", &db.url, "--rate-limit", "10", "--rate-limit-window", "3600"]);
    assert_eq!(b.initial_key, None, "the second instance finds the environment");
    let (status, org) = a.call(&key, reqwest::Method::POST, "/organizations", Some(json!({"name": "Shared"}))).await;
    assert_eq!(status, 201);
    let (status, got) =
        b.call(&key, reqwest::Method::GET, &format!("/organizations/{}", org["id"].as_str().unwrap()), None).await;
    assert_eq!((status, got["name"].as_str()), (200, Some("Shared")));
    // Two requests used; eight remain across both instances.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let p = if i % 2 == 0 { &a } else { &b };
        statuses.push(p.call(&key, reqwest::Method::GET, "/organizations", None).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 8, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 4, "{statuses:?}");
}

#[tokio::test]
async fn admin_environments_are_isolated_and_keys_revocable() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::spawn(&["--database", &db.url]);
    let key_a = server.initial_key.clone().unwrap();
    let created = admin(&db.url, &["environments", "create", "--name", "Staging"]);
    let key_b = created["api_key"].as_str().unwrap().to_owned();
    let env_b = created["environment"]["id"].as_str().unwrap().to_owned();
    let (_, org) =
        server.call(&key_a, reqwest::Method::POST, "/organizations", Some(json!({"name": "Only in A"}))).await;
    let org_path = format!("/organizations/{}", org["id"].as_str().unwrap());
    assert_eq!(server.call(&key_b, reqwest::Method::GET, &org_path, None).await.0, 404);
    let (_, list_b) = server.call(&key_b, reqwest::Method::GET, "/organizations", None).await;
    assert_eq!(list_b["data"], json!([]));
    let (_, events_b) = server.call(&key_b, reqwest::Method::GET, "/events", None).await;
    assert_eq!(events_b["data"], json!([]));
    assert_eq!(server.call(&key_b, reqwest::Method::DELETE, &org_path, None).await.0, 404);
    assert_eq!(server.call(&key_a, reqwest::Method::GET, &org_path, None).await.0, 200);
    let extra = admin(&db.url, &["api-keys", "create", "--environment", &env_b, "--name", "CI"]);
    let key_b2 = extra["api_key"].as_str().unwrap();
    assert_eq!(server.call(key_b2, reqwest::Method::GET, "/organizations", None).await.0, 200);
    let listed = admin(&db.url, &["api-keys", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(!listed.to_string().contains(key_b2), "keys are listed obfuscated");
    admin(&db.url, &["api-keys", "revoke", extra["id"].as_str().unwrap()]);
    // The server trusts a resolved key for up to a second without asking the database.
    let revoked = eventually(Duration::from_secs(3), || async {
        server.call(key_b2, reqwest::Method::GET, "/organizations", None).await.0 == 401
    })
    .await;
    assert!(revoked, "a revoked key stops working within a second");
}

/// Polls `check` until it holds or `limit` passes; whether it held.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check().await
}

#[tokio::test]
async fn cached_reads_follow_changes_made_by_another_instance() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = Server::spawn(&["--database", &db.url]);
    let key = a.initial_key.clone().unwrap();
    let b = Server::spawn(&["--database", &db.url]);
    let (_, org) = a
        .call(
            &key,
            reqwest::Method::POST,
            "/organizations",
            Some(json!({"name": "Before", "domains": ["before.example"]})),
        )
        .await;
    let path = format!("/organizations/{}", org["id"].as_str().unwrap());
    let name_on_b = || async { b.call(&key, reqwest::Method::GET, &path, None).await.1["name"].clone() };
    let first_on_b = || async {
        b.call(&key, reqwest::Method::GET, "/organizations?limit=1", None).await.1["data"][0]["name"].clone()
    };
    // B reads twice, so both answers come from its cache the second time.
    for _ in 0..2 {
        assert_eq!(name_on_b().await, "Before");
        assert_eq!(first_on_b().await, "Before");
    }
    let (status, _) =
        a.call(&key, reqwest::Method::PUT, &path, Some(json!({"name": "After", "domains": ["after.example"]}))).await;
    assert_eq!(status, 200);
    assert!(
        eventually(Duration::from_secs(5), || async { name_on_b().await == "After" }).await,
        "B sees A's update by id"
    );
    assert_eq!(first_on_b().await, "After", "and in lists");
    let (_, got) = b.call(&key, reqwest::Method::GET, &path, None).await;
    assert_eq!(got["domains"][0]["domain"], "after.example", "domain changes too");
    // A writer's own instance never serves its old answer.
    assert_eq!(a.call(&key, reqwest::Method::GET, &path, None).await.1["name"], "After");
    assert_eq!(a.call(&key, reqwest::Method::DELETE, &path, None).await.0, 204);
    assert_eq!(a.call(&key, reqwest::Method::GET, &path, None).await.0, 404);
    assert!(
        eventually(Duration::from_secs(5), || async { b.call(&key, reqwest::Method::GET, &path, None).await.0 == 404 })
            .await
    );
    assert_eq!(b.call(&key, reqwest::Method::GET, "/organizations", None).await.1["data"], json!([]));
}

#[tokio::test]
async fn seed_files_pin_ids_and_reject_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(
        &seed,
        "permissions:\n  - slug: posts:read\n    name: Read posts\nroles:\n  - slug: admin\n    name: Admin\n    permissions: [posts:read]\n\
users:\n  - email: ada@acme.com\n    password: correct horse battery\n    first_name: Ada\n\
organizations:\n  - id: org_acme\n    name: Acme\n    domains:\n      - domain: acme.com\n        state: verified\n    memberships:\n      - email: ada@acme.com\n        role: admin\n\
apiKeys:\n  - value: sk_test_seeded_ci_key\n    name: CI\n",
    )
    .unwrap();
    let server = Server::spawn(&["--dev", "--seed", seed.to_str().unwrap()]);
    let (status, org) =
        server.call("sk_test_seeded_ci_key", reqwest::Method::GET, "/organizations/org_acme", None).await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(org["domains"][0]["domain"], "acme.com");
    let (_, members) = server
        .call(
            "sk_test_seeded_ci_key",
            reqwest::Method::GET,
            "/user_management/organization_memberships?organization_id=org_acme",
            None,
        )
        .await;
    assert_eq!(members["data"][0]["role"]["slug"], "admin", "{members}");
    assert_eq!(members["data"][0]["user"]["email"], "ada@acme.com");
    let (_, role) =
        server.call("sk_test_seeded_ci_key", reqwest::Method::GET, "/authorization/roles/admin", None).await;
    assert_eq!(role["permissions"], json!(["posts:read"]));
    drop(server);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"organizations": [{"name": "X", "colour": "red", "memberships": [{"email": "nobody@x.com"}]}], "connectionz": []}"#).unwrap();
    let out = Command::new(BIN)
        .args(["server", "--dev", "--addr", "127.0.0.1:0", "--seed", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connectionz: unknown_key") && err.contains("organizations[0].colour: unknown_key"), "{err}");
    assert!(err.contains("organizations[0].memberships[0].email: must_match_a_seeded_user"), "{err}");
}

#[tokio::test]
async fn config_file_and_environment_variables_layer_under_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vestibule.toml");
    // A long window, so the two requests below cannot straddle a window boundary.
    std::fs::write(&cfg, "dev = true\nrate_limit = 1\nrate_limit_window_secs = 3600\n").unwrap();
    let mut command = Command::new(BIN);
    command.args(["server", "--config", cfg.to_str().unwrap()]).env("VESTIBULE_ADDR", "127.0.0.1:0");
    let proc = Server::start(command);
    assert_eq!(proc.call("sk_test_default", reqwest::Method::GET, "/organizations", None).await.0, 200);
    assert_eq!(
        proc.call("sk_test_default", reqwest::Method::GET, "/organizations", None).await.0,
        429,
        "rate_limit = 1 from the file"
    );
    std::fs::write(&cfg, "colour = \"red\"\n").unwrap();
    let out = Command::new(BIN).args(["server", "--config", cfg.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

#[tokio::test]
async fn metrics_count_requests_by_method_route_and_status() {
    let server = Server::spawn(&["--dev"]);
    for _ in 0..2 {
        assert_eq!(server.call("sk_test_default", reqwest::Method::GET, "/organizations", None).await.0, 200);
    }
    assert_eq!(server.call("sk_test_default", reqwest::Method::GET, "/organizations/org_missing", None).await.0, 404);
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    assert_eq!(server.call("sk_test_default", brew, "/organizations", None).await.0, 405);
    let text = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    let count = |labels: &str| {
        text.lines()
            .find(|l| l.starts_with("vestibule_http_requests_total{") && l.contains(labels))
            .and_then(|l| l.rsplit(' ').next())
            .map(|n| n.parse::<u64>().unwrap())
    };
    assert_eq!(count(r#"method="GET",route="/organizations",status="200""#), Some(2), "{text}");
    assert_eq!(count(r#"method="GET",route="/organizations/{id}",status="404""#), Some(1), "{text}");
    assert_eq!(
        count(r#"method="OTHER",route="/organizations",status="405""#),
        Some(1),
        "unknown methods are pooled: {text}"
    );
    // Latency is a histogram with fixed buckets: one observation per request.
    let observed = text
        .lines()
        .find(|l| {
            l.starts_with("vestibule_http_request_duration_seconds_count{")
                && l.contains(r#"method="GET",route="/organizations""#)
        })
        .and_then(|l| l.rsplit(' ').next());
    assert_eq!(observed, Some("2"), "{text}");
    assert!(text.contains(r#"le="0.0005""#) && text.contains(r#"le="+Inf""#), "{text}");
}

/// A log reader that goes away (`| tee` that exits) costs nothing: requests are still
/// answered and SIGTERM still stops the server cleanly.
#[tokio::test]
async fn a_broken_log_pipe_neither_breaks_requests_nor_shutdown() {
    let mut command = Command::new(BIN);
    command.args(["server", "--addr", "127.0.0.1:0", "--dev"]);
    let mut server = Server::start_logging(command, "debug", std::process::Stdio::piped());
    drop(server.child.stderr.take());
    for _ in 0..20 {
        let (status, _) = server.call("sk_test_default", reqwest::Method::GET, "/organizations", None).await;
        assert_eq!(status, 200);
    }
    let started = std::time::Instant::now();
    let status = server.sigterm();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Two servers on one SQLite file would both run the background workers: the second
/// refuses to start, naming the file; once the first stops, a new one starts.
#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut first = Server::spawn(&["--database", &db.url]);
    let second = Command::new(BIN)
        .args(["server", "--addr", "127.0.0.1:0", "--database", &db.url, "--log-format", "pretty"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another vestibule server is already running"), "{stderr}");
    assert!(String::from_utf8_lossy(&second.stdout).is_empty(), "it never listened");
    assert!(first.sigterm().success());
    let third = Server::spawn(&["--database", &db.url]);
    assert!(third.initial_key.is_none(), "the same database, started again");
}

/// A key file that went missing in front of sealed secrets is a lost key: the server
/// refuses to start (naming the file) instead of minting a new one that opens nothing.
/// Admin commands never create a database.
#[tokio::test]
async fn a_lost_master_key_is_not_replaced_and_admin_creates_no_database() {
    let db = TestDb::new(Backend::Sqlite).await;
    let key_file = format!("{}.key", db.url.strip_prefix("sqlite://").unwrap());
    let mut first = Server::spawn(&["--database", &db.url]);
    let key = first.initial_key.clone().unwrap();
    let (_, org) = first.call(&key, reqwest::Method::POST, "/organizations", Some(json!({"name": "Sealed"}))).await;
    let oidc = json!({"issuer": "https://op.test/", "client_id": "c", "client_secret": "a-secret-sealed-at-rest"});
    let (status, conn) = first
        .call(&key, reqwest::Method::POST, "/connections", Some(json!({"organization_id": org["id"], "oidc": oidc})))
        .await;
    assert_eq!(status, 201, "{conn}");
    assert!(first.sigterm().success());
    let moved = format!("{key_file}.moved");
    std::fs::rename(&key_file, &moved).unwrap();
    let refused = Command::new(BIN)
        .args(["server", "--addr", "127.0.0.1:0", "--database", &db.url, "--log-format", "pretty"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("master key file") && stderr.contains(&key_file), "{stderr}");
    assert!(!std::path::Path::new(&key_file).exists(), "no new key was minted");
    std::fs::rename(&moved, &key_file).unwrap();
    let restored = Server::spawn(&["--database", &db.url]);
    let path = format!("/connections/{}", conn["id"].as_str().unwrap());
    let (status, got) = restored.call(&key, reqwest::Method::GET, &path, None).await;
    assert_eq!((status, &got["oidc"]["client_secret_set"]), (200, &json!(true)), "{got}");
    drop(restored);

    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let url = format!("sqlite://{}", typo.display());
    let out = Command::new(BIN).args(["admin", "--database", &url, "environments", "list"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!typo.exists(), "the mistyped database was not created");
}

/// After a clean shutdown the database file alone holds every write (the WAL is folded
/// in), and `admin backup` writes a consistent copy while the server runs.
#[tokio::test]
async fn the_database_file_and_admin_backups_hold_every_write() {
    let db = TestDb::new(Backend::Sqlite).await;
    let file = db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let mut server = Server::spawn(&["--database", &db.url]);
    let key = server.initial_key.clone().unwrap();
    let (status, org) = server.call(&key, reqwest::Method::POST, "/organizations", Some(json!({"name": "Kept"}))).await;
    assert_eq!(status, 201);
    // An online backup, taken while the server serves.
    let dir = tempfile::tempdir().unwrap();
    let online = dir.path().join("online.db");
    let out =
        Command::new(BIN).args(["admin", "--database", &db.url, "backup", online.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again =
        Command::new(BIN).args(["admin", "--database", &db.url, "backup", online.to_str().unwrap()]).output().unwrap();
    assert!(!again.status.success(), "a backup never overwrites a file");
    assert!(server.sigterm().success());
    // A copy of the database file alone, without its -wal, after the clean shutdown.
    let copied = dir.path().join("copied.db");
    std::fs::copy(&file, &copied).unwrap();
    for copy in [&online, &copied] {
        let names = vestibule_test_support::query_text(
            &format!("sqlite://{}", copy.display()),
            "SELECT name FROM organizations",
        )
        .await;
        assert_eq!(names, vec!["Kept".to_owned()], "{}", copy.display());
    }
    let _ = org;
}
