//! What signing in needs behind the API key: sessions (list, revoke), magic auth, email
//! verification, password reset, email change, MFA factors and challenges, the JWT
//! template and CORS origins. The credential-taking endpoints (`authenticate`, logout)
//! are public, in `crate::user_management`.

use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, list, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_ids::Kind;

// --- Sessions ------------------------------------------------------------------

/// `GET /user_management/users/{id}/sessions`
pub async fn list_sessions(State(s): State<AppState>, env: Env, Segment(id): Segment, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::Session)?;
    Ok(list(s.app.list_user_sessions(env.id(), &id, page).await?))
}

/// `POST /user_management/sessions/revoke`
pub async fn revoke_session(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    s.app.revoke_session(env.id(), &body).await?;
    Ok(ok(json!({})))
}

/// `POST /user_management/authorize/device/approve {user_code, user_id}` (extension): the
/// signed-in user approves a device.
pub async fn approve_device(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.decide_device(env.id(), &body, true).await?))
}

/// `POST /user_management/authorize/device/deny {user_code}` (extension).
pub async fn deny_device(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.decide_device(env.id(), &body, false).await?))
}

// --- One-time codes ------------------------------------------------------------

/// `POST /user_management/magic_auth`
pub async fn create_magic_auth(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_magic_auth(env.id(), &body).await?))
}

/// `GET /user_management/magic_auth/{id}`
pub async fn get_magic_auth(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_magic_auth(env.id(), &id).await?))
}

/// `POST /user_management/users/{id}/email_verification/send`
pub async fn send_verification_email(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.send_verification_email(env.id(), &id).await?))
}

/// `POST /user_management/users/{id}/email_verification/confirm`
pub async fn verify_email(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.verify_email(env.id(), &id, &body).await?))
}

/// `GET /user_management/email_verification/{id}`
pub async fn get_email_verification(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_email_verification(env.id(), &id).await?))
}

/// `POST /user_management/password_reset`
pub async fn create_password_reset(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_password_reset(env.id(), &body).await?))
}

/// `GET /user_management/password_reset/{id}`
pub async fn get_password_reset(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_password_reset(env.id(), &id).await?))
}

/// `POST /user_management/password_reset/confirm`
pub async fn confirm_password_reset(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.confirm_password_reset(env.id(), &body).await?))
}

/// `POST /user_management/users/{id}/email_change/send`
pub async fn send_email_change(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.send_email_change(env.id(), &id, &body).await?))
}

/// `POST /user_management/users/{id}/email_change/confirm`
pub async fn confirm_email_change(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.confirm_email_change(env.id(), &id, &body).await?))
}

// --- MFA -----------------------------------------------------------------------

/// `POST /auth/factors/enroll`
pub async fn enroll_factor(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.enroll_factor(env.id(), &body).await?))
}

/// `GET /auth/factors/{id}`
pub async fn get_factor(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_factor(env.id(), &id).await?))
}

/// `DELETE /auth/factors/{id}`
pub async fn delete_factor(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_factor(env.id(), &id).await?;
    Ok(no_content())
}

/// `POST /auth/factors/{id}/challenge`
pub async fn challenge_factor(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(created(s.app.challenge_factor(env.id(), &id).await?))
}

/// `POST /auth/challenges/{id}/verify`
pub async fn verify_challenge(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(created(s.app.verify_challenge(env.id(), &id, &body).await?))
}

/// `POST /user_management/users/{id}/auth_factors`
pub async fn enroll_user_factor(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(created(s.app.enroll_user_factor(env.id(), &id, &body).await?))
}

/// `GET /user_management/users/{id}/auth_factors`
pub async fn list_user_factors(
    State(s): State<AppState>, env: Env, Segment(id): Segment, q: Query,
) -> ApiResult<Response> {
    let page = q.page_of(Kind::AuthenticationFactor)?;
    Ok(list(s.app.list_user_factors(env.id(), &id, page).await?))
}

// --- Configuration -------------------------------------------------------------

/// `GET /user_management/jwt_template`
pub async fn get_jwt_template(State(s): State<AppState>, env: Env) -> ApiResult<Response> {
    Ok(ok(s.app.get_jwt_template(env.id()).await?))
}

/// `PUT /user_management/jwt_template`
pub async fn put_jwt_template(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.put_jwt_template(env.id(), &body).await?))
}

/// `GET /user_management/cors_origins`
pub async fn list_cors_origins(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::CorsOrigin)?;
    Ok(list(s.app.list_cors_origins(env.id(), page).await?))
}

/// `POST /user_management/cors_origins`
pub async fn create_cors_origin(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_cors_origin(env.id(), &body).await?))
}

/// `GET /user_management/users/{id}/identities`: the OAuth identities linked to a user.
/// Vestibule signs users in with passwords, codes and SSO connections only, so the list
/// is empty for every user that exists.
pub async fn list_identities(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.get_user(env.id(), &id).await?;
    Ok(ok(json!([])))
}

/// `GET /user_management/users/{id}/authorized_applications`: the Connect applications a
/// user authorized. Vestibule has no Connect applications, so the list is empty for every
/// user that exists.
pub async fn list_authorized_applications(
    State(s): State<AppState>, env: Env, Segment(id): Segment, q: Query,
) -> ApiResult<Response> {
    q.page()?;
    s.app.get_user(env.id(), &id).await?;
    Ok(ok(json!({"object": "list", "data": [], "list_metadata": {"before": null, "after": null}})))
}

/// `DELETE /user_management/users/{id}/authorized_applications/{application_id}`: no
/// application is ever authorized, so there is none to remove.
pub async fn delete_authorized_application(
    State(s): State<AppState>, env: Env, uri: axum::http::Uri,
) -> ApiResult<Response> {
    // /user_management/users/{id}/authorized_applications/{application_id}
    let parts: Vec<&str> = uri.path().split('/').collect();
    let (id, application) = (parts.get(3).copied().unwrap_or_default(), parts.get(5).copied().unwrap_or_default());
    s.app.get_user(env.id(), id).await?;
    Err(vestibule_core::CoreError::NotFound { entity: "Authorized application", id: application.to_owned() }.into())
}
