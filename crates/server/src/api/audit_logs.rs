//! `audit-logs` tag: events, actions and their schemas, exports with their signed
//! download route (the link is the credential, so it sits outside API-key auth), and
//! per-organization retention.

use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, list, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use vestibule_core::audit_logs::ExportDownload;
use vestibule_ids::Kind;

/// `POST /audit_logs/events`
pub async fn create_audit_log_event(
    State(s): State<AppState>, env: Env, headers: HeaderMap, Body(body): Body,
) -> ApiResult<Response> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    s.app.create_audit_log_event(env.id(), &body, key).await?;
    Ok(ok(json!({"success": true})))
}

/// `POST /audit_logs/actions/{actionName}/schemas`
pub async fn create_audit_log_schema(
    State(s): State<AppState>, env: Env, Segment(action): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(created(s.app.create_audit_log_schema(env.id(), &action, &body).await?))
}

/// `GET /audit_logs/actions/{actionName}/schemas`
pub async fn list_audit_log_schemas(
    State(s): State<AppState>, env: Env, Segment(action): Segment, q: Query,
) -> ApiResult<Response> {
    let page = q.page_of(Kind::AuditLogSchema)?;
    Ok(list(s.app.list_audit_log_schemas(env.id(), &action, page).await?))
}

/// `GET /audit_logs/actions`
pub async fn list_audit_log_actions(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::AuditLogAction)?;
    Ok(list(s.app.list_audit_log_actions(env.id(), page).await?))
}

/// `POST /audit_logs/exports`
pub async fn create_audit_log_export(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_audit_log_export(env.id(), &body).await?))
}

/// `GET /audit_logs/exports/{auditLogExportId}`
pub async fn get_audit_log_export(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_audit_log_export(env.id(), &id).await?))
}

/// `GET /audit_logs/exports/{id}/download?expires=…&signature=…`: the CSV, streamed
/// chunk by chunk as stored.
pub async fn download_audit_log_export(
    State(s): State<AppState>, Segment(id): Segment, q: Query,
) -> ApiResult<Response> {
    let download = s
        .app
        .open_audit_log_export_download(&id, q.get("expires").unwrap_or(""), q.get("signature").unwrap_or(""))
        .await?;
    let chunks = futures_util::stream::unfold(Some(download), |state: Option<ExportDownload>| async move {
        let mut download = state?;
        match download.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk)), Some(download))),
            Ok(None) => None,
            Err(e) => {
                // Headers are gone already: cut the body short so the client sees a failed transfer.
                tracing::error!(error = ?e, "reading an audit-log export failed");
                Some((Err(std::io::Error::other("export read failed")), None))
            }
        }
    });
    let mut resp = axum::body::Body::from_stream(chunks).into_response();
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.csv\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `GET /organizations/{id}/audit_logs_retention`
pub async fn get_audit_logs_retention(
    State(s): State<AppState>, env: Env, Segment(id): Segment,
) -> ApiResult<Response> {
    let days = s.app.get_audit_logs_retention(env.id(), &id).await?;
    Ok(ok(json!({"retention_period_in_days": days})))
}

/// `PUT /organizations/{id}/audit_logs_retention`
pub async fn set_audit_logs_retention(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    let days = s.app.set_audit_logs_retention(env.id(), &id, &body).await?;
    Ok(ok(json!({"retention_period_in_days": days})))
}

/// `GET /organizations/{id}/audit_log_configuration`
pub async fn get_audit_log_configuration(
    State(s): State<AppState>, env: Env, Segment(id): Segment,
) -> ApiResult<Response> {
    Ok(ok(s.app.get_audit_log_configuration(env.id(), &id).await?))
}
