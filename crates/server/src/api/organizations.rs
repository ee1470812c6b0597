//! `organizations` tag.

use super::{created, list, no_content, ok};
use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use vestibule_core::organizations::OrganizationFilter;

/// `GET /organizations`
pub async fn list_organizations(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::Organization)?;
    let filter = OrganizationFilter { domains: q.list("domains"), search: q.get("search").map(str::to_owned) };
    Ok(list(s.app.list_organizations(env.id(), filter, page).await?))
}

/// `POST /organizations`
pub async fn create_organization(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_organization(env.id(), &body).await?))
}

/// `GET /organizations/{id}`
pub async fn get_organization(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_organization(env.id(), &id).await?))
}

/// `GET /organizations/external_id/{external_id}`
pub async fn get_organization_by_external_id(State(s): State<AppState>, env: Env, Segment(ext): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_organization_by_external_id(env.id(), &ext).await?))
}

/// `PUT /organizations/{id}`
pub async fn update_organization(State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.update_organization(env.id(), &id, &body).await?))
}

/// `DELETE /organizations/{id}`
pub async fn delete_organization(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_organization(env.id(), &id).await?;
    Ok(no_content())
}
