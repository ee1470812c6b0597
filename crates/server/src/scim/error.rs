//! The SCIM envelope (RFC 7644 §3.12): every failure a SCIM client sees, as
//! `application/scim+json` with `status`, `scimType` and `detail`. Core errors map here
//! by meaning; none carries internal text to the client.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use vestibule_core::CoreError;
use vestibule_scim::ScimError;

/// A SCIM failure, answered as an RFC 7644 §3.12 error body.
#[derive(Debug)]
pub struct ScimFailure(pub ScimError);

impl From<CoreError> for ScimFailure {
    fn from(e: CoreError) -> Self {
        let err = |status: u16, scim_type: Option<&'static str>, detail: String| {
            ScimFailure(ScimError { status, scim_type, detail })
        };
        match e {
            CoreError::Scim(e) => ScimFailure(e),
            CoreError::NotFound { entity, id } => err(404, None, format!("{entity} '{id}' not found.")),
            CoreError::Invalid(errors) => {
                let fields: Vec<String> = errors.iter().map(|f| format!("{}: {}", f.field, f.code)).collect();
                err(400, Some("invalidValue"), fields.join("; "))
            }
            CoreError::Conflict { message, .. } => err(409, None, message),
            // Messages we wrote for the client; nothing internal.
            CoreError::Unusable { message, .. }
            | CoreError::Refused { message, .. }
            | CoreError::Forbidden { message, .. } => err(400, Some("invalidValue"), message),
            CoreError::InvalidAuditLogEvent(_) | CoreError::NextStep { .. } => {
                err(400, Some("invalidValue"), "The request is not valid.".into())
            }
            CoreError::Throttled { .. } => err(429, None, "Too many requests.".into()),
            CoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "upstream failure");
                err(502, None, "A service this request depends on did not answer; try again.".into())
            }
            CoreError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                err(500, None, "Something went wrong on our side.".into())
            }
        }
    }
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(e)
    }
}

/// A SCIM JSON response.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
    r
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut body =
            json!({"schemas": [vestibule_scim::ERROR], "status": self.0.status.to_string(), "detail": self.0.detail});
        if let Some(t) = self.0.scim_type {
            body["scimType"] = json!(t);
        }
        let mut r = scim_json(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer realm=\"SCIM\""));
        }
        r
    }
}

pub(crate) type ScimResult = Result<Response, ScimFailure>;

pub(crate) fn failure(status: u16, scim_type: Option<&'static str>, detail: &str) -> ScimFailure {
    ScimFailure(ScimError { status, scim_type, detail: detail.into() })
}
