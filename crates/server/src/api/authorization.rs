//! `authorization` and `permissions` tags: environment roles, organization roles and
//! permissions. Slugs arrive percent-encoded (`posts%3Aread`) and are decoded after
//! routing.

use crate::error::ApiResult;
use crate::extract::{Body, Params as Path, Query};
use crate::middleware::Env;
use crate::respond::{created, list, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_core::authorization::Role;

fn role_list(roles: Vec<Role>) -> Response {
    ok(json!({ "object": "list", "data": roles }))
}

/// `GET /authorization/roles`
pub async fn list_roles(State(s): State<AppState>, env: Env) -> ApiResult<Response> {
    Ok(role_list(s.app.list_roles(env.id(), None).await?))
}

/// `POST /authorization/roles`
pub async fn create_role(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_role(env.id(), None, &body).await?))
}

/// `GET /authorization/roles/{slug}`
pub async fn get_role(State(s): State<AppState>, env: Env, Path(slug): Path<String>) -> ApiResult<Response> {
    Ok(ok(s.app.get_role(env.id(), None, &slug).await?))
}

/// `PATCH /authorization/roles/{slug}`
pub async fn update_role(
    State(s): State<AppState>, env: Env, Path(slug): Path<String>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_role(env.id(), None, &slug, &body).await?))
}

/// `PUT /authorization/roles/{slug}/permissions`
pub async fn set_role_permissions(
    State(s): State<AppState>, env: Env, Path(slug): Path<String>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.set_role_permissions(env.id(), None, &slug, &body).await?))
}

/// `POST /authorization/roles/{slug}/permissions`
pub async fn add_role_permission(
    State(s): State<AppState>, env: Env, Path(slug): Path<String>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.add_role_permission(env.id(), None, &slug, &body).await?))
}

/// `GET /authorization/organizations/{organization_id}/roles`
pub async fn list_organization_roles(
    State(s): State<AppState>, env: Env, Path(org): Path<String>,
) -> ApiResult<Response> {
    Ok(role_list(s.app.list_roles(env.id(), Some(&org)).await?))
}

/// `POST /authorization/organizations/{organization_id}/roles`
pub async fn create_organization_role(
    State(s): State<AppState>, env: Env, Path(org): Path<String>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(created(s.app.create_role(env.id(), Some(&org), &body).await?))
}

/// `GET /authorization/organizations/{organization_id}/roles/{slug}`
pub async fn get_organization_role(
    State(s): State<AppState>, env: Env, Path((org, slug)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(s.app.get_role(env.id(), Some(&org), &slug).await?))
}

/// `PATCH /authorization/organizations/{organization_id}/roles/{slug}`
pub async fn update_organization_role(
    State(s): State<AppState>, env: Env, Path((org, slug)): Path<(String, String)>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_role(env.id(), Some(&org), &slug, &body).await?))
}

/// `DELETE /authorization/organizations/{organization_id}/roles/{slug}`
pub async fn delete_organization_role(
    State(s): State<AppState>, env: Env, Path((org, slug)): Path<(String, String)>,
) -> ApiResult<Response> {
    s.app.delete_organization_role(env.id(), &org, &slug).await?;
    Ok(no_content())
}

/// `PUT /authorization/organizations/{organization_id}/roles/{slug}/permissions`
pub async fn set_organization_role_permissions(
    State(s): State<AppState>, env: Env, Path((org, slug)): Path<(String, String)>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.set_role_permissions(env.id(), Some(&org), &slug, &body).await?))
}

/// `POST /authorization/organizations/{organization_id}/roles/{slug}/permissions`
pub async fn add_organization_role_permission(
    State(s): State<AppState>, env: Env, Path((org, slug)): Path<(String, String)>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.add_role_permission(env.id(), Some(&org), &slug, &body).await?))
}

/// `DELETE /authorization/organizations/{organization_id}/roles/{slug}/permissions/{permission}`
pub async fn remove_organization_role_permission(
    State(s): State<AppState>, env: Env, Path((org, slug, permission)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(ok(s.app.remove_role_permission(env.id(), Some(&org), &slug, &permission).await?))
}

/// `GET /authorization/permissions`
pub async fn list_permissions(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    Ok(list(s.app.list_permissions(env.id(), q.page_of(vestibule_ids::Kind::Permission)?).await?))
}

/// `POST /authorization/permissions`
pub async fn create_permission(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_permission(env.id(), &body).await?))
}

/// `GET /authorization/permissions/{slug}`
pub async fn get_permission(State(s): State<AppState>, env: Env, Path(slug): Path<String>) -> ApiResult<Response> {
    Ok(ok(s.app.get_permission(env.id(), &slug).await?))
}

/// `PATCH /authorization/permissions/{slug}`
pub async fn update_permission(
    State(s): State<AppState>, env: Env, Path(slug): Path<String>, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_permission(env.id(), &slug, &body).await?))
}

/// `DELETE /authorization/permissions/{slug}`
pub async fn delete_permission(State(s): State<AppState>, env: Env, Path(slug): Path<String>) -> ApiResult<Response> {
    s.app.delete_permission(env.id(), &slug).await?;
    Ok(no_content())
}
