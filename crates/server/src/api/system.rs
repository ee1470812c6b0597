//! Operator endpoints: liveness and Prometheus metrics. Neither needs an API key.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// `GET /health`: answers once the server is ready.
pub async fn health(State(state): State<AppState>) -> Response {
    crate::respond::ok(json!({"status": "ok", "database": state.app.store.backend()}))
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}
