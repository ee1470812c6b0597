//! `sso` and `connections` tags under an API key: connections (with the
//! connection-management extensions), redirect URIs and logout authorization. The
//! browser- and IdP-facing endpoints are in [`crate::sso`].

use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, list, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_core::sso::ConnectionFilter;
use vestibule_ids::Kind;

/// `GET /connections`
pub async fn list_connections(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::Connection)?;
    let filter = ConnectionFilter {
        organization_id: q.get("organization_id").map(str::to_owned),
        organization_ids: None,
        connection_type: q.get("connection_type").map(str::to_owned),
    };
    Ok(list(s.app.list_connections(env.id(), filter, q.get("domain").map(str::to_owned), page).await?))
}

/// `POST /connections` (extension)
pub async fn create_connection(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_connection(env.id(), &body).await?))
}

/// `GET /connections/{id}`
pub async fn get_connection(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_connection(env.id(), &id).await?))
}

/// `PATCH /connections/{id}` (extension)
pub async fn update_connection(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_connection(env.id(), &id, &body).await?))
}

/// `DELETE /connections/{id}`
pub async fn delete_connection(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_connection(env.id(), &id).await?;
    Ok(no_content())
}

/// `GET /connections/{id}/login_attempts` (extension)
pub async fn list_login_attempts(
    State(s): State<AppState>, env: Env, Segment(id): Segment, q: Query,
) -> ApiResult<Response> {
    Ok(list(s.app.list_login_attempts(env.id(), &id, q.page_of(Kind::LoginAttempt)?).await?))
}

/// `POST /user_management/redirect_uris`
pub async fn create_redirect_uri(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_redirect_uri(env.id(), &body).await?))
}

/// `DELETE /user_management/redirect_uris/{id}`
pub async fn delete_redirect_uri(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_redirect_uri(env.id(), &id).await?;
    Ok(no_content())
}

/// `GET /user_management/redirect_uris` (extension)
pub async fn list_redirect_uris(State(s): State<AppState>, env: Env) -> ApiResult<Response> {
    let data = s.app.list_redirect_uris(env.id()).await?;
    Ok(ok(json!({"object": "list", "data": data, "list_metadata": {"before": null, "after": null}})))
}

/// `POST /sso/logout/authorize`
pub async fn authorize_logout(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.authorize_sso_logout(env.id(), &body).await?))
}

/// `POST /signing_keys/rotate` (extension): a new token signing key; the old one stays in
/// the JWKS until the tokens it signed have expired.
pub async fn rotate_signing_key(State(s): State<AppState>, env: Env) -> ApiResult<Response> {
    Ok(ok(s.app.rotate_signing_key(env.id()).await?))
}
