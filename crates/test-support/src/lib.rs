//! Test helpers: a fresh database of either backend per test, the real server on
//! `127.0.0.1:0`, and a real DNS server (dnsmasq) on loopback.
#![forbid(unsafe_code)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use vestibule_core::Store;

/// The PostgreSQL server tests use; `VESTIBULE_TEST_POSTGRES` overrides it. Tests that
/// need it fail (never skip) when it is unreachable.
pub fn postgres_admin_url() -> String {
    std::env::var("VESTIBULE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn unique_suffix() -> String {
    let id = vestibule_core::kernel::secrets::random_base62(12).to_lowercase();
    format!("{}_{id}", std::process::id())
}

impl TestDb {
    /// A fresh database of `backend`.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("vestibule.db").display());
                TestDb { url, pg_name: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("vestibule_test_{}", unique_suffix());
                let pool = sqlx::PgPool::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this test: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await
                    .expect("create database");
                pool.close().await;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
                TestDb { url: format!("{base}/{name}"), pg_name: Some(name), _dir: None }
            }
        }
    }

    /// Opens the store on this database (migrating it).
    pub async fn store(&self) -> Arc<dyn Store> {
        vestibule_store::open(&self.url).await.expect("open store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else { return };
        // Drop runs outside any runtime guarantee: use a short-lived one on a thread.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// The real server, in this process, on port 0.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The API key of its first environment.
    pub key: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The running server.
    pub running: Option<vestibule_server::Running>,
}

impl TestServer {
    /// Starts a dev-mode server on `url` with `tweak` applied to its config.
    pub async fn start(url: &str, tweak: impl FnOnce(&mut vestibule_server::Config)) -> TestServer {
        let mut config = vestibule_server::Config::for_tests(url);
        tweak(&mut config);
        let running = vestibule_server::start(config).await.expect("server starts");
        let key =
            running.bootstrap.as_ref().map_or_else(|| vestibule_server::DEV_API_KEY.to_owned(), |b| b.api_key.clone());
        TestServer {
            base: format!("http://{}", running.addr),
            key,
            http: reqwest::Client::new(),
            running: Some(running),
        }
    }

    /// `METHOD base+path` with the server's key and an optional JSON body.
    pub async fn call(
        &self, method: reqwest::Method, path: &str, body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.call_as(&self.key, method, path, body).await
    }

    /// Like [`Self::call`] with another key.
    pub async fn call_as(
        &self, key: &str, method: reqwest::Method, path: &str, body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json =
            if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        (status, json)
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.expect("clean shutdown");
        }
    }
}

/// A free UDP+TCP port on loopback (the OS picks it; the race until dnsmasq binds it is
/// short and only other tests on this machine could take it).
fn free_port() -> u16 {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    udp.local_addr().expect("addr").port()
}

/// dnsmasq answering TXT records on loopback; stopped on drop.
pub struct DnsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

impl DnsServer {
    /// Starts dnsmasq serving `records` as `(name, text)` TXT records and nothing else.
    pub fn start(records: &[(&str, &str)]) -> DnsServer {
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new("dnsmasq");
            cmd.args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg("--pid-file=")
            .arg("--user=root")
            .arg("--log-facility=-")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
            for (name, text) in records {
                cmd.arg(format!("--txt-record={name},{text}"));
            }
            let mut child = cmd.spawn().expect("dnsmasq is installed (apt-get install dnsmasq)");
            // dnsmasq binds before it logs "started"; wait for that line or an exit.
            let stderr = child.stderr.take().expect("stderr");
            let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
            let mut started = false;
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains("started") {
                    started = true;
                    break;
                }
            }
            // Keep draining so dnsmasq never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            if started {
                return DnsServer { addr: SocketAddr::from(([127, 0, 0, 1], port)), child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start");
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A resolver for tests that never look up DNS.
pub struct NoDns;

#[async_trait::async_trait]
impl vestibule_core::organizations::dns::TxtResolver for NoDns {
    async fn txt(&self, _: &str) -> Result<Vec<String>, String> {
        Err("no DNS in this test".into())
    }
}

/// The application on a fresh store, for tests below the HTTP layer.
pub fn app(store: Arc<dyn Store>) -> vestibule_core::Vestibule {
    vestibule_core::Vestibule::new(store, Arc::new(NoDns))
}

/// Runs one SQL statement on a test database, for tests that must reach behind the API
/// (for example to move an expiry into the past).
pub async fn execute_sql(url: &str, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        sqlx::raw_sql(statement).execute(&pool).await.expect("statement");
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
        sqlx::raw_sql(statement).execute(&pool).await.expect("statement");
        pool.close().await;
    }
}

/// The first column of every row `query` returns, as text, read straight from a test
/// database (for tests that check what is stored, not what the API answers).
pub async fn query_text(url: &str, query: &str) -> Vec<String> {
    let query = sqlx::AssertSqlSafe(query.to_owned());
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        let rows: Vec<(String,)> = sqlx::query_as(query).fetch_all(&pool).await.expect("query");
        pool.close().await;
        rows.into_iter().map(|r| r.0).collect()
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
        let rows: Vec<(String,)> = sqlx::query_as(query).fetch_all(&pool).await.expect("query");
        pool.close().await;
        rows.into_iter().map(|r| r.0).collect()
    }
}

/// A webhook receiver on loopback: records every request and answers with scripted
/// statuses (200 once the script runs out).
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`
    pub url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `WorkOS-Signature` header.
    pub signature: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

struct ReceiverState {
    script: std::sync::Mutex<std::collections::VecDeque<u16>>,
    seen: std::sync::Mutex<Vec<Received>>,
    changed: tokio::sync::Notify,
}

impl Receiver {
    /// Starts a receiver answering `script` in order, then 200.
    pub async fn start(script: &[u16]) -> Receiver {
        let state = Arc::new(ReceiverState {
            script: std::sync::Mutex::new(script.iter().copied().collect()),
            seen: std::sync::Mutex::new(Vec::new()),
            changed: tokio::sync::Notify::new(),
        });
        let handler_state = state.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = handler_state.clone();
                async move {
                    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
                    let signature =
                        headers.get("workos-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    state.seen.lock().unwrap().push(Received { signature, body: body.to_vec(), answered: status });
                    state.changed.notify_waiters();
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, state, task }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Waits (up to `timeout`) until `done` holds for what was received.
    pub async fn wait_for(&self, timeout: std::time::Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let wait = async {
            loop {
                let notified = self.state.changed.notified();
                let seen = self.received();
                if done(&seen) {
                    return seen;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| panic!("receiver condition not met; got {:?}", self.received()))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real server on `127.0.0.1:0` over a fresh SQLite database (kept alive by the
/// returned [`TestDb`]).
pub async fn sqlite_server() -> (TestDb, TestServer) {
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |_| {}).await;
    (db, s)
}

/// Instantiates each named case, an `async fn(Arc<dyn Store>)`, once on SQLite and once on
/// PostgreSQL (in `mod sqlite` and `mod postgres`), each on a fresh database that is opened
/// again afterwards: migrations must be a no-op on an existing database.
#[macro_export]
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = $crate::TestDb::new($crate::Backend::Sqlite).await;
                    super::$case(db.store().await).await;
                    let _ = db.store().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = $crate::TestDb::new($crate::Backend::Postgres).await;
                    super::$case(db.store().await).await;
                    let _ = db.store().await;
                }
            )*
        }
    };
}
