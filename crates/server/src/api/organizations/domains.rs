//! `organization-domains` tag.

use crate::api::{created, no_content, ok};
use crate::error::ApiResult;
use crate::extract::{Body, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;

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
