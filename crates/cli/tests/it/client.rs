//! The `vestibule` client commands, run as the real binary against a real dev server (or, for
//! retries and exports, a tiny scripted HTTP server that records what it received).

use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{BIN, Server};
const KEY: &str = "sk_test_default";

impl Server {
    /// Runs a client command against this server; it must succeed and print JSON.
    fn cli_json(&self, args: &[&str]) -> Value {
        let out = cli(&self.base, args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }
}

/// Runs the binary with a clean environment pointed at `base`, optionally feeding stdin.
fn cli(base: &str, args: &[&str], stdin: Option<&str>) -> Output {
    cli_with_env(base, args, stdin, &[("WORKOS_API_KEY", KEY)])
}

fn cli_with_env(base: &str, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("WORKOS_API_KEY")
        .env_remove("WORKOS_TOKEN")
        .env_remove("VESTIBULE_PROFILE")
        .env_remove("VESTIBULE_CLIENT_CONFIG")
        .env_remove("VESTIBULE_LOG")
        .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test")
        .env("WORKOS_BASE_URL", base)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn vestibule");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("vestibule ran")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure is one line on stderr, with no panic or backtrace.
fn assert_one_line_error(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn organizations_create_get_update_list_delete() {
    let server = Server::dev();
    let created = server.cli_json(&[
        "organizations",
        "create",
        "--name",
        "Acme",
        "--domains",
        "acme.com,acme.io",
        "--external-id",
        "acme-1",
        "--metadata",
        r#"{"tier":"gold"}"#,
        "--json",
    ]);
    let id = created["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("org_"));
    assert_eq!(created["name"], "Acme");
    assert_eq!(created["metadata"], json!({"tier": "gold"}));
    let domains: Vec<&str> =
        created["domains"].as_array().unwrap().iter().map(|d| d["domain"].as_str().unwrap()).collect();
    assert_eq!(domains, ["acme.com", "acme.io"]);

    assert_eq!(server.cli_json(&["organizations", "get", &id]), created);
    assert_eq!(server.cli_json(&["organizations", "get-by-external-id", "acme-1"]), created);

    let updated = server.cli_json(&[
        "organizations",
        "update",
        &id,
        "--name",
        "Acme Inc",
        "--data",
        r#"{"metadata":{"tier":"platinum"}}"#,
    ]);
    assert_eq!(
        (updated["id"].as_str(), &updated["name"], &updated["metadata"]["tier"]),
        (Some(id.as_str()), &json!("Acme Inc"), &json!("platinum"))
    );

    let list = server.cli_json(&["organizations", "list", "--search", "Acme", "--limit", "5"]);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["name"], "Acme Inc");

    let deleted = cli(&server.base, &["organizations", "delete", &id], None);
    assert_eq!(deleted.status.code(), Some(0), "{}", stderr(&deleted));
    assert!(deleted.stdout.is_empty(), "a 204 prints nothing when piped");
    assert_one_line_error(&cli(&server.base, &["organizations", "get", &id], None), 1, "entity_not_found");
}

#[test]
fn organization_domains_create_get_delete() {
    let server = Server::dev();
    let org = server.cli_json(&["organizations", "create", "--name", "Domains"]);
    let org_id = org["id"].as_str().unwrap();
    let domain =
        server.cli_json(&["organization-domains", "create", "--organization-id", org_id, "--domain", "example.org"]);
    assert_eq!(
        (&domain["object"], &domain["domain"], &domain["state"]),
        (&json!("organization_domain"), &json!("example.org"), &json!("pending"))
    );
    let id = domain["id"].as_str().unwrap();
    assert_eq!(server.cli_json(&["organization-domains", "get", id]), domain);
    let out = cli(&server.base, &["organization-domains", "delete", id], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_one_line_error(&cli(&server.base, &["organization-domains", "get", id], None), 1, "entity_not_found");
}

#[test]
fn events_list_shows_what_changed() {
    let server = Server::dev();
    let org = server.cli_json(&["organizations", "create", "--name", "Evented"]);
    let events = server.cli_json(&[
        "events",
        "list",
        "--events",
        "organization.created",
        "--organization-id",
        org["id"].as_str().unwrap(),
    ]);
    let data = events["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{events}");
    assert_eq!((&data[0]["event"], &data[0]["data"]["id"]), (&json!("organization.created"), &org["id"]));
}

#[test]
fn request_sends_any_call_with_inline_file_or_stdin_bodies() {
    let server = Server::dev();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.json");
    std::fs::write(&file, r#"{"name":"From a file"}"#).unwrap();
    let from_file = server.cli_json(&["request", "POST", "/organizations", "--data", &format!("@{}", file.display())]);
    assert_eq!(from_file["name"], "From a file");

    let out = cli(
        &server.base,
        &["request", "put", &format!("/organizations/{}", from_file["id"].as_str().unwrap()), "--data", "-"],
        Some(r#"{"name":"From stdin"}"#),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["name"], "From stdin");

    let list = server.cli_json(&["request", "GET", "/organizations", "--query", "limit=1"]);
    assert_eq!((list["object"].as_str(), list["data"][0]["name"].as_str()), (Some("list"), Some("From stdin")));
}

#[tokio::test]
async fn all_streams_every_page_and_returns_each_object_once() {
    let server = Server::dev();
    let http = reqwest::Client::new();
    let mut created = HashSet::new();
    for i in 0..250 {
        let resp = http
            .post(format!("{}/organizations", server.base))
            .bearer_auth(KEY)
            .json(&json!({"name": format!("org {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        created.insert(resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let out = cli(&server.base, &["organizations", "list", "--all", "--jsonl"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), created, "each organization exactly once");

    // Small pages and one JSON document: the same set, as a valid array.
    let all = server.cli_json(&["organizations", "list", "--all", "--limit", "7", "--json"]);
    let ids: HashSet<&str> = all.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!((all.as_array().unwrap().len(), ids.len()), (250, 250));
}

/// One request as the scripted server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A scripted HTTP/1.1 server: `answer(n, request)` gives the n-th answer (status, extra headers, body).
struct Scripted {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

type Answer = (u16, Vec<(&'static str, String)>, String);

impl Scripted {
    fn start(answer: impl Fn(usize, &Seen, &str) -> Answer + Send + 'static) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, own_base) = (seen.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else { continue };
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(req.clone());
                    log.len() - 1
                };
                let (status, headers, body) = answer(n, &req, &own_base);
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                let _ = stream.write_all(format!("{head}\r\n{body}").as_bytes());
            }
        });
        Scripted { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Seen> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Seen { method, path, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

#[test]
fn a_429_with_retry_after_is_retried_with_the_same_idempotency_key() {
    let created = Arc::new(Mutex::new(0));
    let count = created.clone();
    let server = Scripted::start(move |n, req, _| {
        if n < 2 {
            return (
                429,
                vec![("Retry-After", "1".into())],
                r#"{"message":"Too many requests.","code":"rate_limit_exceeded"}"#.into(),
            );
        }
        *count.lock().unwrap() += 1;
        let name = serde_json::from_str::<Value>(&req.body).unwrap()["name"].clone();
        (
            201,
            vec![("X-Request-ID", "req_3".into())],
            json!({"object":"organization","id":"org_1","name":name}).to_string(),
        )
    });
    let started = Instant::now();
    let out = cli(&server.base, &["organizations", "create", "--name", "Patient", "--json"], None);
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["name"], "Patient");
    assert!(elapsed >= Duration::from_secs(2), "Retry-After: 1 was honoured twice ({elapsed:?})");
    assert_eq!(*created.lock().unwrap(), 1, "exactly one object created");
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    let keys: HashSet<_> = seen
        .iter()
        .map(|s| s.header("idempotency-key").expect("every POST has an Idempotency-Key").to_owned())
        .collect();
    assert_eq!(keys.len(), 1, "the same key on every attempt: {keys:?}");
    assert!(
        seen.iter().all(|s| s.header("authorization") == Some("Bearer sk_test_default") && s.path == "/organizations")
    );
}

#[test]
fn a_rate_limited_real_server_still_creates_each_object_once() {
    let server = Server::dev_with(&["--rate-limit", "2", "--rate-limit-window", "1"]);
    for i in 0..5 {
        server.cli_json(&["organizations", "create", "--name", &format!("limited {i}")]);
    }
    let all = server.cli_json(&["organizations", "list", "--all"]);
    let mut names: Vec<&str> = all.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["limited 0", "limited 1", "limited 2", "limited 3", "limited 4"]);
}

#[test]
fn retries_are_bounded_and_the_last_error_is_reported() {
    let server =
        Scripted::start(|_, _, _| (503, vec![], r#"{"message":"Down for maintenance.","code":"unavailable"}"#.into()));
    let out = cli(&server.base, &["organizations", "list", "--max-retries", "2"], None);
    assert_one_line_error(&out, 1, "Down for maintenance.");
    assert_eq!(server.seen().len(), 3, "one attempt and two retries");
}

#[test]
fn a_wrong_key_is_exit_1_with_one_line_and_json_on_request() {
    let server = Server::dev();
    let out = cli_with_env(&server.base, &["organizations", "list"], None, &[("WORKOS_API_KEY", "sk_test_wrong")]);
    assert_one_line_error(&out, 1, "HTTP 401");
    assert!(!stderr(&out).contains("sk_test_wrong"), "the key is never printed");

    let out =
        cli_with_env(&server.base, &["organizations", "list", "--json"], None, &[("WORKOS_API_KEY", "sk_test_wrong")]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON on stderr with --json");
    assert_eq!((err["error"]["status"].as_u64(), err["error"]["code"].as_str()), (Some(401), Some("unauthorized")));
}

#[test]
fn an_unknown_id_is_exit_1() {
    let server = Server::dev();
    let out = cli(&server.base, &["organizations", "get", "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ"], None);
    assert_one_line_error(&out, 1, "not found");
}

#[test]
fn invalid_json_in_data_is_a_usage_error_and_sends_nothing() {
    let server = Scripted::start(|_, _, _| (200, vec![], "{}".into()));
    let out = cli(&server.base, &["organizations", "create", "--data", "{name: Acme"], None);
    assert_one_line_error(&out, 2, "invalid JSON in --data");
    let out = cli(&server.base, &["request", "POST", "/organizations", "--data", "[1,"], None);
    assert_one_line_error(&out, 2, "invalid JSON in --data");
    let out = cli(&server.base, &["organizations", "create"], None);
    assert_one_line_error(&out, 2, "--name is required");
    let out = cli(&server.base, &["organizations", "list", "--limit", "500"], None);
    assert_eq!(out.status.code(), Some(2), "clap's own usage errors are 2 as well");
    assert!(server.seen().is_empty(), "no request was sent");
}

#[test]
fn an_unreachable_server_is_exit_1_with_a_clear_message() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = cli(&format!("http://127.0.0.1:{port}"), &["organizations", "list", "--max-retries", "0"], None);
    assert_one_line_error(&out, 1, "cannot connect to");
}

#[test]
fn profiles_name_a_target_and_the_flag_beats_them() {
    let server = Server::dev();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("[profiles.local]\nbase_url = \"{}\"\napi_key = \"{KEY}\"\n", server.base))
        .unwrap();
    let config = config.to_str().unwrap();
    let env = [("VESTIBULE_CLIENT_CONFIG", config)];
    let out = cli_with_env("http://127.0.0.1:9", &["--profile", "local", "organizations", "list"], None, &env);
    assert_eq!(out.status.code(), Some(0), "the profile's URL and key beat WORKOS_BASE_URL: {}", stderr(&out));
    let out = cli_with_env(
        &server.base,
        &["organizations", "list", "--profile", "local", "--api-key", "sk_test_flag"],
        None,
        &env,
    );
    assert_one_line_error(&out, 1, "HTTP 401");
    let out = cli_with_env(&server.base, &["organizations", "list", "--profile", "nope"], None, &env);
    assert_one_line_error(&out, 2, "no profile \"nope\"");
}

#[test]
fn audit_log_export_polls_until_ready_and_downloads_the_csv() {
    const CSV: &str = "id,occurred_at,action\nala_1,2026-01-01T00:00:00.000Z,user.signed_in\n";
    let server = Scripted::start(|n, req, base| {
        let export = |state: &str, url: Option<String>| {
            json!({"object":"audit_log_export","id":"audit_log_export_1","state":state,"url":url,
                   "created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"})
            .to_string()
        };
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/audit_logs/exports") => (201, vec![], export("pending", None)),
            ("GET", "/audit_logs/exports/audit_log_export_1") if n < 3 => (200, vec![], export("pending", None)),
            ("GET", "/audit_logs/exports/audit_log_export_1") => {
                (200, vec![], export("ready", Some(format!("{base}/exports/1.csv"))))
            }
            ("GET", "/exports/1.csv") => (200, vec![], CSV.into()),
            _ => (404, vec![], r#"{"message":"Not Found","code":"not_found"}"#.into()),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.csv");
    let out = cli(
        &server.base,
        &[
            "audit-logs",
            "export",
            "--organization-id",
            "org_1",
            "--range-start",
            "2026-01-01T00:00:00.000Z",
            "--range-end",
            "2026-02-01T00:00:00.000Z",
            "--actions",
            "user.signed_in",
            "--poll-interval",
            "0.05",
            "-o",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "quiet when not on a terminal: {}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), CSV);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["state"], "ready");
    let seen = server.seen();
    let create: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        create,
        json!({"organization_id":"org_1","range_start":"2026-01-01T00:00:00.000Z","range_end":"2026-02-01T00:00:00.000Z","actions":["user.signed_in"]})
    );
}

#[test]
fn audit_log_export_fails_clearly_on_error_and_timeout() {
    let server = Scripted::start(|_, req, _| {
        let state = if req.method == "POST" { "pending" } else { "error" };
        (
            200,
            vec![],
            json!({"object":"audit_log_export","id":"audit_log_export_2","state":state,"url":null}).to_string(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("never.csv");
    let args = [
        "audit-logs",
        "export",
        "--organization-id",
        "org_1",
        "--range-start",
        "2026-01-01T00:00:00Z",
        "--range-end",
        "2026-02-01T00:00:00Z",
        "--poll-interval",
        "0.05",
        "-o",
        file.to_str().unwrap(),
    ];
    assert_one_line_error(&cli(&server.base, &args, None), 1, "audit-log export audit_log_export_2 failed");
    assert!(!file.exists());

    let pending = Scripted::start(|_, _, _| {
        (
            200,
            vec![],
            json!({"object":"audit_log_export","id":"audit_log_export_3","state":"pending","url":null}).to_string(),
        )
    });
    let mut args = args.to_vec();
    args.extend(["--wait", "0.2"]);
    assert_one_line_error(&cli(&pending.base, &args, None), 1, "still pending after");
}

#[test]
fn events_tail_prints_new_events_as_they_arrive() {
    let server = Server::dev();
    // Without --after, tail starts at the end of the stream; give it a fixed start so the
    // events below cannot slip in before its first poll.
    server.cli_json(&["organizations", "create", "--name", "Before"]);
    let before = server.cli_json(&["events", "list", "--all"]);
    let last = before.as_array().unwrap().last().map(|e| e["id"].as_str().unwrap().to_owned());
    let mut args = vec!["events", "tail", "--events", "organization.created", "--max-events", "2", "--interval", "0.1"];
    if let Some(last) = &last {
        args.extend(["--after", last.as_str()]);
    }
    #[allow(clippy::zombie_processes)] // reaped by wait_with_output below
    let tail = Command::new(BIN)
        .args(&args)
        .env("WORKOS_API_KEY", KEY)
        .env("WORKOS_BASE_URL", &server.base)
        .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let a = server.cli_json(&["organizations", "create", "--name", "First"]);
    server.cli_json(&["organizations", "update", a["id"].as_str().unwrap(), "--name", "Not created"]);
    let b = server.cli_json(&["organizations", "create", "--name", "Second"]);
    let out = tail.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&Value> = events.iter().map(|e| &e["data"]["id"]).collect();
    assert_eq!(ids, [&a["id"], &b["id"]]);
}

#[test]
fn help_shows_an_example_and_completions_are_generated() {
    for args in [
        &["organizations", "create", "--help"][..],
        &["events", "tail", "--help"],
        &["request", "--help"],
        &["audit-logs", "export", "--help"],
    ] {
        let out = Command::new(BIN).args(args).env_remove("WORKOS_API_KEY").output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Example"), "{args:?}");
    }
    let out = Command::new(BIN).args(["--help"]).env("WORKOS_API_KEY", "sk_test_visible").output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sk_test_visible"), "help never shows the key");
    let out = Command::new(BIN).args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("organization-domains"));
}

#[test]
fn audit_log_events_come_back_in_a_real_export() {
    use vestibule_core::Timestamp;
    const HOUR: i64 = 60 * 60 * 1000;
    let server = Server::dev();
    let org = server.cli_json(&["organizations", "create", "--name", "Audited"]);
    let org_id = org["id"].as_str().unwrap();
    let now = Timestamp::now();
    let event = |action: &str, actor: &str, at: Timestamp| {
        json!({
            "action": action,
            "occurred_at": at.to_iso(),
            "actor": {"id": actor, "type": "user", "name": format!("Name of {actor}")},
            "targets": [{"id": "doc_1", "type": "doc"}],
            "context": {"location": "192.0.2.1", "user_agent": "vestibule-cli-test"},
            "metadata": {"note": "a, \"quoted\"\nvalue"},
        })
    };
    // (action, actor, hours ago); the first is out of range, `doc.written` is filtered out.
    let sent: [(&str, &str, i64); 5] = [
        ("doc.read", "user_old", 72),
        ("doc.read", "user_a", 5),
        ("doc.written", "user_b", 4),
        ("doc.read", "user_c", 3),
        ("doc.read", "user_d", 2),
    ];
    for (i, (action, actor, hours)) in sent.iter().enumerate() {
        let e = event(action, actor, now.plus_millis(-hours * HOUR));
        let created = if i % 2 == 0 {
            server.cli_json(&["audit-logs", "create-event", "--organization-id", org_id, "--event", &e.to_string()])
        } else {
            server.cli_json(&[
                "request",
                "POST",
                "/audit_logs/events",
                "--data",
                &json!({"organization_id": org_id, "event": e}).to_string(),
            ])
        };
        assert_eq!(created, json!({"success": true}));
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.csv");
    let (start, end) = (now.plus_millis(-24 * HOUR).to_iso(), now.plus_millis(60_000).to_iso());
    let export = server.cli_json(&[
        "audit-logs",
        "export",
        "--organization-id",
        org_id,
        "--range-start",
        &start,
        "--range-end",
        &end,
        "--actions",
        "doc.read",
        "--poll-interval",
        "0.05",
        "--wait",
        "20",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!((&export["object"], &export["state"]), (&json!("audit_log_export"), &json!("ready")), "{export}");
    assert!(!dir.path().join("audit.csv.part").exists(), "no partial file left behind");

    let mut reader = csv::Reader::from_path(&file).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        headers,
        [
            "id",
            "occurred_at",
            "action",
            "version",
            "actor_id",
            "actor_type",
            "actor_name",
            "targets",
            "location",
            "user_agent",
            "metadata"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let got: Vec<(String, String, String)> =
        rows.iter().map(|r| (r[1].to_owned(), r[2].to_owned(), r[4].to_owned())).collect();
    let want: Vec<(String, String, String)> = sent[1..]
        .iter()
        .filter(|(action, _, _)| *action == "doc.read")
        .map(|(action, actor, hours)| (now.plus_millis(-hours * HOUR).to_iso(), action.to_string(), actor.to_string()))
        .collect();
    assert_eq!(got, want);
    for r in &rows {
        assert!(r[0].starts_with("audit_log_event_"), "{r:?}");
        assert_eq!(
            (&r[5], &r[6], &r[8], &r[9]),
            ("user", format!("Name of {}", &r[4]).as_str(), "192.0.2.1", "vestibule-cli-test")
        );
        assert_eq!(
            serde_json::from_str::<Value>(&r[7]).unwrap(),
            json!([{"id": "doc_1", "type": "doc", "metadata": {}}])
        );
        assert_eq!(serde_json::from_str::<Value>(&r[10]).unwrap(), json!({"note": "a, \"quoted\"\nvalue"}));
    }
}

/// `vestibule completions bash | head -1`: a reader that has gone away is not a panic;
/// the command exits 0 and says nothing.
#[test]
fn completions_into_a_closed_pipe_exit_cleanly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // closed before the first byte is written: every write is a broken pipe
    let out = Command::new(BIN).args(["completions", "bash"]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `--profile staging` whose `api_key_env` variable is unset: an error naming the variable,
/// and not one request to staging, least of all with the default profile's production key.
#[test]
fn a_profile_never_borrows_another_profiles_key() {
    let staging =
        Scripted::start(|_, _, _| (200, vec![], r#"{"data":[],"list_metadata":{"before":null,"after":null}}"#.into()));
    let prod =
        Scripted::start(|_, _, _| (200, vec![], r#"{"data":[],"list_metadata":{"before":null,"after":null}}"#.into()));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "default_profile = \"prod\"\n[profiles.prod]\nbase_url = \"{}\"\napi_key = \"sk_live_prod_secret\"\n\
             [profiles.staging]\nbase_url = \"{}\"\napi_key_env = \"VESTIBULE_TEST_STAGING_KEY\"\n",
            prod.base, staging.base
        ),
    )
    .unwrap();
    let env = [("VESTIBULE_CLIENT_CONFIG", config.to_str().unwrap())];
    let mut cmd = Command::new(BIN);
    cmd.args(["--profile", "staging", "organizations", "list"])
        .env_remove("WORKOS_API_KEY")
        .env_remove("WORKOS_TOKEN")
        .env_remove("WORKOS_BASE_URL")
        .env_remove("VESTIBULE_TEST_STAGING_KEY")
        .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert_one_line_error(&out, 2, "VESTIBULE_TEST_STAGING_KEY");
    assert!(
        staging.seen().is_empty(),
        "staging received {:?}",
        staging.seen().iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    assert!(prod.seen().is_empty(), "prod received a request");
    // With the variable set, staging gets its own key, and only staging is called.
    let out = cmd.env("VESTIBULE_TEST_STAGING_KEY", "sk_test_staging").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = staging.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk_test_staging"));
    assert!(prod.seen().is_empty(), "prod received a request");
}
