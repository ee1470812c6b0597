//! The OAuth 2.0 envelope (RFC 6749 §5.2) of `POST /sso/token`: `{"error",
//! "error_description"}`, 400 for a request that cannot be exchanged, 401 for a client
//! that does not prove itself, 500 `server_error` for everything else (its cause is
//! logged, never shown).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vestibule_core::CoreError;

/// The error codes of RFC 6749 §5.2, and of the device grant (RFC 8628 §3.5), a refusal
/// may carry to the client.
const OAUTH_CODES: &[&str] = &[
    "invalid_request",
    "invalid_grant",
    "unsupported_grant_type",
    "invalid_scope",
    "authorization_pending",
    "slow_down",
    "expired_token",
    "access_denied",
];

/// A failed token request, answered as OAuth spells it.
pub struct OAuthError(pub CoreError);

impl OAuthError {
    /// A 400 with `error` and `description`, before any use case ran.
    pub fn invalid_request(description: &str) -> Self {
        OAuthError(CoreError::refused("invalid_request", description.to_owned()))
    }
}

fn answer(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self.0 {
            CoreError::Refused { code, message, .. } if OAUTH_CODES.contains(&code) => {
                answer(StatusCode::BAD_REQUEST, code, &message)
            }
            CoreError::Forbidden { code: "invalid_client", message } => {
                answer(StatusCode::UNAUTHORIZED, "invalid_client", &message)
            }
            other => {
                tracing::error!(error = %other, "token exchange failed");
                answer(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "The server could not complete the request.")
            }
        }
    }
}
