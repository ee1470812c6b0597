//! `user-management.organization-membership` tag, and the permission check.

use crate::api::{created, list, no_content, ok};
use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_core::user_management::memberships::MembershipFilter;

/// `GET /user_management/organization_memberships`
pub async fn list_memberships(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::OrganizationMembership)?;
    let filter = MembershipFilter {
        user_id: q.get("user_id").map(str::to_owned),
        organization_id: q.get("organization_id").map(str::to_owned),
        statuses: q.list("statuses"),
    };
    Ok(list(s.app.list_memberships(env.id(), filter, page).await?))
}

/// `POST /user_management/organization_memberships`
pub async fn create_membership(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_membership(env.id(), &body).await?))
}

/// `GET /user_management/organization_memberships/{id}`
pub async fn get_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_membership(env.id(), &id).await?))
}

/// `PUT /user_management/organization_memberships/{id}`
pub async fn update_membership(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_membership(env.id(), &id, &body).await?))
}

/// `PUT /user_management/organization_memberships/{id}/deactivate`
pub async fn deactivate_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.deactivate_membership(env.id(), &id).await?))
}

/// `PUT /user_management/organization_memberships/{id}/reactivate`
pub async fn reactivate_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.reactivate_membership(env.id(), &id).await?))
}

/// `DELETE /user_management/organization_memberships/{id}`
pub async fn delete_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_membership(env.id(), &id).await?;
    Ok(no_content())
}

/// `POST /authorization/organization_memberships/{id}/check`
pub async fn check(State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body) -> ApiResult<Response> {
    let authorized = s.app.check_permission(env.id(), &id, &body).await?;
    Ok(ok(json!({ "authorized": authorized })))
}
