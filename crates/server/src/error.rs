//! The WorkOS envelope: every failure of the WorkOS API leaves as `{"message", "code"}`
//! (with `errors` where WorkOS lists them), its status chosen here by what happened
//! ([`CoreError`]'s variants say which to use where). Internal causes are logged once and
//! never sent.
//!
//! The server has two more envelopes, each in one module, for the clients that speak
//! another protocol: SCIM clients get RFC 7644 bodies from `crate::scim` (`scim/error.rs`),
//! and `POST /sso/token` answers RFC 6749 errors from `crate::sso` (`sso/oauth.rs`).
//! Extractors (`crate::extract`, `scim/extract.rs`) own every rejection, so malformed input
//! gets the envelope of its endpoint, never axum's plain text.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vestibule_core::{CoreError, FieldError};

/// An API failure.
#[derive(Debug)]
pub enum ApiError {
    /// A use case failed.
    Core(CoreError),
    /// Missing, malformed or unknown API key.
    Unauthorized,
    /// Missing, unknown or expired access token at `GET /sso/profile`: the same 401,
    /// with the `error: "Unauthorized"` that route's contract requires besides the envelope.
    ProfileUnauthorized,
    /// Too many requests; retry after this many seconds.
    RateLimited(u64),
    /// The body is over the configured limit.
    PayloadTooLarge,
    /// The body or a parameter could not be parsed at all.
    Malformed(String),
    /// No route matches the path.
    RouteNotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// An `Idempotency-Key` was reused with another request, or is still in flight.
    Idempotency(&'static str),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError::Core(e)
    }
}

impl From<vestibule_core::StoreError> for ApiError {
    fn from(e: vestibule_core::StoreError) -> Self {
        ApiError::Core(e.into())
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

fn body(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A 422 naming the invalid fields.
pub fn validation(errors: Vec<FieldError>) -> ApiError {
    ApiError::Core(CoreError::Invalid(errors))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Core(CoreError::NotFound { entity, id }) => body(
                StatusCode::NOT_FOUND,
                json!({"message": format!("{entity} not found: '{id}'."), "code": "entity_not_found"}),
            ),
            ApiError::Core(CoreError::Invalid(errors)) => body(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Validation failed.", "code": "invalid_request_parameters", "errors": errors}),
            ),
            ApiError::Core(CoreError::Conflict { code, message }) => {
                body(StatusCode::CONFLICT, json!({"message": message, "code": code}))
            }
            ApiError::Core(CoreError::Unusable { code, message }) => {
                body(StatusCode::UNPROCESSABLE_ENTITY, json!({"message": message, "code": code}))
            }
            ApiError::Core(CoreError::Refused { code, message, errors }) if errors.is_empty() => {
                body(StatusCode::BAD_REQUEST, json!({"message": message, "code": code}))
            }
            ApiError::Core(CoreError::Refused { code, message, errors }) => {
                body(StatusCode::BAD_REQUEST, json!({"message": message, "code": code, "errors": errors}))
            }
            ApiError::Core(CoreError::Forbidden { code, message }) => {
                body(StatusCode::FORBIDDEN, json!({"message": message, "code": code}))
            }
            ApiError::Core(CoreError::NextStep { code, message, details }) => {
                let mut v = serde_json::Map::new();
                v.insert("code".into(), json!(code));
                v.insert("message".into(), json!(message));
                v.extend(details);
                body(StatusCode::FORBIDDEN, serde_json::Value::Object(v))
            }
            ApiError::Core(CoreError::Throttled { retry_after_secs }) => {
                ApiError::RateLimited(retry_after_secs).into_response()
            }
            ApiError::Core(CoreError::InvalidAuditLogEvent(errors)) => body(
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid Audit Log event.", "code": "invalid_audit_log_event", "errors": errors}),
            ),
            ApiError::Core(CoreError::Internal(e)) => {
                tracing::error!(error = %e, "internal failure");
                body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"message": "Something went wrong on our side.", "code": "server_error"}),
                )
            }
            ApiError::Core(CoreError::Scim(e)) => body(
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                json!({"message": e.detail, "code": e.scim_type.unwrap_or("invalid_request")}),
            ),
            ApiError::Core(CoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "upstream failure");
                body(
                    StatusCode::BAD_GATEWAY,
                    json!({"message": "An upstream service did not answer; try again.", "code": "upstream_error"}),
                )
            }
            ApiError::Unauthorized => {
                body(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized", "code": "unauthorized"}))
            }
            ApiError::ProfileUnauthorized => body(
                StatusCode::UNAUTHORIZED,
                json!({"error": "Unauthorized", "message": "Unauthorized", "code": "unauthorized"}),
            ),
            ApiError::RateLimited(secs) => {
                let mut r = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({"message": "Too many requests.", "code": "rate_limit_exceeded"}),
                );
                r.headers_mut().insert("retry-after", HeaderValue::from(secs.max(1)));
                r
            }
            ApiError::PayloadTooLarge => body(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"message": "The request body is too large.", "code": "payload_too_large"}),
            ),
            ApiError::Malformed(message) => {
                body(StatusCode::BAD_REQUEST, json!({"message": message, "code": "invalid_request"}))
            }
            ApiError::RouteNotFound => {
                body(StatusCode::NOT_FOUND, json!({"message": "Not Found", "code": "not_found"}))
            }
            ApiError::MethodNotAllowed => body(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "Method Not Allowed", "code": "method_not_allowed"}),
            ),
            ApiError::Idempotency(message) => {
                body(StatusCode::CONFLICT, json!({"message": message, "code": "idempotency_error"}))
            }
        }
    }
}
