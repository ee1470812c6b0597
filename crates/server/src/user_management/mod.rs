//! The public sign-in endpoints, outside the API key: `POST /user_management/authenticate`
//! (the client secret, a refresh token or a PKCE verifier in the body is the credential)
//! the device flow's `POST /user_management/authorize/device`, and the browser's
//! `GET /user_management/sessions/logout`.
//!
//! `authenticate` answers in two envelopes, as the WorkOS document does: OAuth failures
//! (`invalid_client`, `invalid_grant`, `unsupported_grant_type`, `invalid_request`) as
//! RFC 6749 `{error, error_description}`, everything else (wrong credentials, one-time
//! codes, the 403 steps) as the WorkOS `{code, message}`.

use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::respond::ok;
use crate::sso::grant_fields;
use crate::sso::oauth::OAuthError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use vestibule_core::CoreError;

/// The public sign-in routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user_management/authenticate", post(authenticate))
        .route("/user_management/sessions/logout", get(logout))
        .route("/user_management/authorize/device", post(authorize_device))
}

/// `POST /user_management/authorize/device {client_id}` (JSON or form): the device flow's codes.
pub async fn authorize_device(State(s): State<AppState>, q: Query, req: Request) -> Response {
    let fields = match grant_fields(&q, req, s.config.max_body_bytes).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.app.authorize_device(&fields).await {
        Ok(v) => ok(v),
        Err(e) => OAuthError(e).into_response(),
    }
}

/// The OAuth error codes of `authenticate`, answered in the OAuth envelope.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_grant",
    "unsupported_grant_type",
    "authorization_pending",
    "slow_down",
    "expired_token",
    "access_denied",
];

/// `POST /user_management/authenticate`.
pub async fn authenticate(State(s): State<AppState>, q: Query, req: Request) -> Response {
    let fields = match grant_fields(&q, req, s.config.max_body_bytes).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.app.authenticate_user(&fields).await {
        Ok(v) => ok(v),
        Err(e @ CoreError::Refused { code, .. }) if OAUTH_ERRORS.contains(&code) => OAuthError(e).into_response(),
        Err(e @ CoreError::Forbidden { code: "invalid_client", .. }) => OAuthError(e).into_response(),
        Err(e) => ApiError::Core(e).into_response(),
    }
}

/// `GET /user_management/sessions/logout?session_id=…&return_to=…`: ends the session and
/// sends the browser back to the application (a registered origin only).
pub async fn logout(State(s): State<AppState>, q: Query) -> ApiResult<Response> {
    match s.app.logout(q.get("session_id"), q.get("return_to")).await? {
        Some(to) => {
            let mut r = StatusCode::FOUND.into_response();
            let v =
                HeaderValue::from_str(&to).map_err(|_| ApiError::Malformed("return_to is not a valid URL.".into()))?;
            r.headers_mut().insert(LOCATION, v);
            Ok(r)
        }
        None => Ok(ok(json!({}))),
    }
}
