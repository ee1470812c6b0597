//! `user-management.users` tag.

use crate::api::{created, list, no_content, ok};
use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use vestibule_core::user_management::users::UserFilter;

/// `GET /user_management/users`
pub async fn list_users(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::User)?;
    let filter = UserFilter {
        email: q.get("email").map(str::to_owned),
        organization_id: q.get("organization_id").or_else(|| q.get("organization")).map(str::to_owned),
    };
    Ok(list(s.app.list_users(env.id(), filter, page).await?))
}

/// `POST /user_management/users`
pub async fn create_user(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_user(env.id(), &body).await?))
}

/// `GET /user_management/users/{id}`
pub async fn get_user(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_user(env.id(), &id).await?))
}

/// `GET /user_management/users/external_id/{external_id}`
pub async fn get_user_by_external_id(
    State(s): State<AppState>, env: Env, Segment(ext): Segment,
) -> ApiResult<Response> {
    Ok(ok(s.app.get_user_by_external_id(env.id(), &ext).await?))
}

/// `PUT /user_management/users/{id}`
pub async fn update_user(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_user(env.id(), &id, &body).await?))
}

/// `DELETE /user_management/users/{id}`
pub async fn delete_user(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_user(env.id(), &id).await?;
    Ok(no_content())
}
