//! The benchmark baseline: the least work an axum server can do to answer the two
//! organization reads. Every body is loaded at start from files captured from the real
//! server and served from memory; the Bearer header is string-compared like the real
//! server's first check, so both do comparable HTTP work.
//!
//! Usage:
//!   vestibule-bench-baseline --key sk_test_… --orgs orgs.jsonl --list list.json [--addr 127.0.0.1:0]
//!
//! `orgs.jsonl`: one exact `GET /organizations/{id}` body per line.
//! `list.json`: the exact `GET /organizations?limit=100` body.
#![forbid(unsafe_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

struct Bodies {
    /// `Bearer <key>`, compared as a string.
    bearer: String,
    /// Organization id → exact response body.
    orgs: HashMap<String, Bytes>,
    /// The exact list response.
    list: Bytes,
}

type Shared = Arc<Bodies>;

const UNAUTHORIZED: &str = r#"{"code":"unauthorized","message":"Unauthorized"}"#;
const NOT_FOUND: &str = r#"{"code":"entity_not_found","message":"Not found"}"#;

fn json(status: StatusCode, body: Bytes) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

fn authorized(state: &Bodies, headers: &HeaderMap) -> bool {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(state.bearer.as_str())
}

async fn get_organization(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&s, &headers) {
        return json(StatusCode::UNAUTHORIZED, Bytes::from_static(UNAUTHORIZED.as_bytes()));
    }
    match s.orgs.get(&id) {
        Some(body) => json(StatusCode::OK, body.clone()),
        None => json(StatusCode::NOT_FOUND, Bytes::from_static(NOT_FOUND.as_bytes())),
    }
}

async fn list_organizations(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return json(StatusCode::UNAUTHORIZED, Bytes::from_static(UNAUTHORIZED.as_bytes()));
    }
    json(StatusCode::OK, s.list.clone())
}

async fn health() -> Response {
    json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

struct Args {
    addr: SocketAddr,
    key: String,
    orgs: String,
    list: String,
}

fn parse_args() -> Result<Args, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let (mut key, mut orgs, mut list) = (None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--key" => key = Some(value()?),
            "--orgs" => orgs = Some(value()?),
            "--list" => list = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        addr,
        key: key.ok_or("--key is required")?,
        orgs: orgs.ok_or("--orgs is required")?,
        list: list.ok_or("--list is required")?,
    })
}

fn load(args: &Args) -> Result<Bodies, String> {
    let text = std::fs::read_to_string(&args.orgs).map_err(|e| format!("{}: {e}", args.orgs))?;
    let mut orgs = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", args.orgs, n + 1))?;
        let id =
            v.get("id").and_then(serde_json::Value::as_str).ok_or_else(|| format!("{}:{}: no id", args.orgs, n + 1))?;
        orgs.insert(id.to_owned(), Bytes::from(line.to_owned()));
    }
    let list = std::fs::read(&args.list).map_err(|e| format!("{}: {e}", args.list))?;
    serde_json::from_slice::<serde_json::Value>(&list).map_err(|e| format!("{}: {e}", args.list))?;
    Ok(Bodies { bearer: format!("Bearer {}", args.key), orgs, list: Bytes::from(list) })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let args = parse_args()?;
        let bodies = load(&args)?;
        let app = Router::new()
            .route("/health", get(health))
            .route("/organizations", get(list_organizations))
            .route("/organizations/{id}", get(get_organization))
            .with_state(Arc::new(bodies));
        let listener =
            tokio::net::TcpListener::bind(args.addr).await.map_err(|e| format!("bind {}: {e}", args.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "vestibule-bench-baseline listening on http://{addr}")
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())?;
        drop(out);
        // TCP_NODELAY, as the real server sets it.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
