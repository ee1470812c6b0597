//! `organizations` and `organization-domains` tags.

use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, no_content, ok};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vestibule_core::kernel::pagination::ListEnvelope;
use vestibule_core::organizations::OrganizationFilter;

/// Answers a read from the organizations cache, or runs it and caches the answer.
/// Only successes are cached; the cache drops them when anything in the environment is
/// written (see `vestibule_core::kernel::cache`).
async fn cached<T: Serialize>(
    s: &AppState, env: &Env, key: &str, read: impl Future<Output = vestibule_core::kernel::error::Result<T>>,
) -> ApiResult<Response> {
    let body = s
        .app
        .organizations_cache
        .get_or_read(env.id(), key, async {
            Ok::<_, vestibule_core::CoreError>(bytes::Bytes::from(
                serde_json::to_vec(&read.await?).expect("models serialize"),
            ))
        })
        .await?;
    Ok(json_bytes(body))
}

/// A response whose body is JSON already serialized.
fn json_bytes(body: bytes::Bytes) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `GET /organizations`
pub async fn list_organizations(
    State(s): State<AppState>, env: Env, q: Query, RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::Organization)?;
    let filter = OrganizationFilter { domains: q.list("domains"), search: q.get("search").map(str::to_owned) };
    let key = ["list?", raw.as_deref().unwrap_or_default()].concat();
    cached(&s, &env, &key, async { Ok(ListEnvelope::from(s.app.list_organizations(env.id(), filter, page).await?)) })
        .await
}

/// `POST /organizations`
pub async fn create_organization(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_organization(env.id(), &body).await?))
}

/// `GET /organizations/{id}`
pub async fn get_organization(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(json_bytes(s.app.organization_json(env.id(), &id).await?))
}

/// `GET /organizations/external_id/{external_id}`
pub async fn get_organization_by_external_id(
    State(s): State<AppState>, env: Env, Segment(ext): Segment,
) -> ApiResult<Response> {
    cached(&s, &env, &format!("external_id/{ext}"), s.app.get_organization_by_external_id(env.id(), &ext)).await
}

/// `PUT /organizations/{id}`
pub async fn update_organization(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_organization(env.id(), &id, &body).await?))
}

/// `DELETE /organizations/{id}`
pub async fn delete_organization(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_organization(env.id(), &id).await?;
    Ok(no_content())
}

// --- Organization domains ----------------------------------------------------

/// `POST /organization_domains`
pub async fn create_organization_domain(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_organization_domain(env.id(), &body).await?))
}

/// `GET /organization_domains/{id}`
pub async fn get_organization_domain(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_organization_domain(env.id(), &id).await?))
}

/// `DELETE /organization_domains/{id}`
pub async fn delete_organization_domain(
    State(s): State<AppState>, env: Env, Segment(id): Segment,
) -> ApiResult<Response> {
    s.app.delete_organization_domain(env.id(), &id).await?;
    Ok(no_content())
}

/// `POST /organization_domains/{id}/verify`
pub async fn verify_organization_domain(
    State(s): State<AppState>, env: Env, Segment(id): Segment,
) -> ApiResult<Response> {
    Ok(created(s.app.verify_organization_domain(env.id(), &id).await?))
}
