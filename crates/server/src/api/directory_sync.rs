//! `directories`, `directory-users` and `directory-groups` tags, plus the extensions that
//! create a directory and rotate its SCIM token.

use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, list, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use vestibule_core::directory_sync::{DirectoryFilter, DirectoryMemberFilter};
use vestibule_ids::Kind;

/// `GET /directories`
pub async fn list_directories(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::Directory)?;
    let filter = DirectoryFilter {
        organization_id: q.get("organization_id").map(str::to_owned),
        search: q.get("search").map(str::to_owned),
        domain: q.get("domain").map(str::to_owned),
    };
    Ok(list(s.app.list_directories(env.id(), filter, page).await?))
}

/// `POST /directories` (extension): the answer carries the SCIM endpoint and token.
pub async fn create_directory(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_directory(env.id(), &body).await?))
}

/// `GET /directories/{id}`
pub async fn get_directory(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_directory(env.id(), &id).await?))
}

/// `PATCH /directories/{id}` (extension): rename, or replace the custom attribute mapping.
pub async fn update_directory(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_directory(env.id(), &id, &body).await?))
}

/// `DELETE /directories/{id}`
pub async fn delete_directory(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_directory(env.id(), &id).await?;
    Ok(no_content())
}

/// `POST /directories/{id}/scim_token` (extension)
pub async fn rotate_directory_token(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(created(s.app.rotate_directory_token(env.id(), &id).await?))
}

/// `GET /directory_users`
pub async fn list_directory_users(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::DirectoryUser)?;
    let filter = DirectoryMemberFilter {
        directory_id: q.get("directory").map(str::to_owned),
        related_id: q.get("group").map(str::to_owned),
        idp_id: q.get("idp_id").map(str::to_owned),
        email: q.get("email").map(str::to_owned),
    };
    Ok(list(s.app.list_directory_users(env.id(), filter, page).await?))
}

/// `GET /directory_users/{id}`
pub async fn get_directory_user(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_directory_user(env.id(), &id).await?))
}

/// `GET /directory_groups`
pub async fn list_directory_groups(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::DirectoryGroup)?;
    let filter = DirectoryMemberFilter {
        directory_id: q.get("directory").map(str::to_owned),
        related_id: q.get("user").map(str::to_owned),
        ..Default::default()
    };
    Ok(list(s.app.list_directory_groups(env.id(), filter, page).await?))
}

/// `GET /directory_groups/{id}`
pub async fn get_directory_group(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_directory_group(env.id(), &id).await?))
}
