//! The success responses every endpoint shapes its answer with: a JSON body and its
//! status, or a list envelope.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vestibule_core::kernel::pagination::{ListEnvelope, Page};

/// 200 with a JSON body.
pub fn ok<T: Serialize>(v: T) -> Response {
    Json(v).into_response()
}

/// 201 with a JSON body.
pub fn created<T: Serialize>(v: T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

/// 202 with a JSON body.
pub fn accepted<T: Serialize>(v: T) -> Response {
    (StatusCode::ACCEPTED, Json(v)).into_response()
}

/// 204 with no body and no content type.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A list envelope.
pub fn list<T: Serialize>(page: Page<T>) -> Response {
    Json(ListEnvelope::from(page)).into_response()
}
