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
//!
//! With `--authenticate FILE` (an exact `POST /user_management/authenticate` body) it also
//! answers the sign-in benchmark's two floors: `POST /user_management/authenticate` returns
//! that body from memory, and `POST /signed/user_management/authenticate` returns it after
//! one RS256 signature (RSA-2048, aws-lc, as the real server signs access tokens) over a
//! claim set of the same size: the cost of signing alone.
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
    /// The exact authenticate response, if given.
    authenticate: Option<Bytes>,
    /// The key the signing floor signs with.
    signer: aws_lc_rs::rsa::KeyPair,
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

async fn authenticate(State(s): State<Shared>) -> Response {
    match &s.authenticate {
        Some(body) => json(StatusCode::OK, body.clone()),
        None => json(StatusCode::NOT_FOUND, Bytes::from_static(NOT_FOUND.as_bytes())),
    }
}

/// The signing input of a real access token (base64url header and claims), signed per
/// request: the signing floor.
const SIGNING_INPUT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImtleV8wMU05OFBWWjlLUUc5QkNNMkgxVDdQRzNCViJ9.\
eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjQxMDAvdXNlcl9tYW5hZ2VtZW50L2NsaWVudF90ZXN0X2RlZmF1bHQiLCJzdWIiOiJ1c2VyXzAxTTk4UFZaODQ3\
RVAzOUgwVFFQRTg3NFdGIiwic2lkIjoic2Vzc2lvbl8wMU05OFBWWjlKMTc1QzVGUVY0Wjk1UVRWUSIsImp0aSI6IjAxTTk4UFZaOUtRRzlCQ00ySDFUN1BH\
M0JUIiwiYXV0aF90aW1lIjoxNzk2NjYyNDkyLCJpYXQiOjE3OTY2NjI0OTIsImV4cCI6MTc5NjY2Mjc5Mn0";

async fn signed_authenticate(State(s): State<Shared>) -> Response {
    let mut sig = vec![0u8; s.signer.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    if s.signer.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, SIGNING_INPUT.as_bytes(), &mut sig).is_err() {
        return json(StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(b"{}"));
    }
    authenticate(State(s)).await
}

async fn health() -> Response {
    json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

struct Args {
    addr: SocketAddr,
    key: String,
    orgs: String,
    list: String,
    authenticate: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let (mut key, mut orgs, mut list, mut authenticate) = (None, None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
            "--key" => key = Some(value()?),
            "--orgs" => orgs = Some(value()?),
            "--list" => list = Some(value()?),
            "--authenticate" => authenticate = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        addr,
        key: key.ok_or("--key is required")?,
        orgs: orgs.ok_or("--orgs is required")?,
        list: list.ok_or("--list is required")?,
        authenticate,
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
    let authenticate = match &args.authenticate {
        Some(path) => Some(Bytes::from(std::fs::read(path).map_err(|e| format!("{path}: {e}"))?)),
        None => None,
    };
    let signer = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(|e| e.to_string())?;
    Ok(Bodies { bearer: format!("Bearer {}", args.key), orgs, list: Bytes::from(list), authenticate, signer })
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
            .route("/user_management/authenticate", axum::routing::post(authenticate))
            .route("/signed/user_management/authenticate", axum::routing::post(signed_authenticate))
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
