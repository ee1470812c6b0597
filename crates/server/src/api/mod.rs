//! The HTTP API: one module per area. Handlers parse, call one use case, and shape the
//! response; nothing else.

pub mod events;
pub mod organization_domains;
pub mod organizations;
pub mod system;

use crate::error::ApiError;
use crate::middleware;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use vestibule_core::pagination::{ListEnvelope, Page};

/// 200 with a JSON body.
pub fn ok<T: Serialize>(v: T) -> Response {
    Json(v).into_response()
}

/// 201 with a JSON body.
pub fn created<T: Serialize>(v: T) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

/// 204 with no body and no content type.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A list envelope.
pub fn list<T: Serialize>(page: Page<T>) -> Response {
    Json(ListEnvelope::from(page)).into_response()
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/organizations", get(organizations::list_organizations).post(organizations::create_organization))
        .route("/organizations/external_id/{external_id}", get(organizations::get_organization_by_external_id))
        .route(
            "/organizations/{id}",
            get(organizations::get_organization)
                .put(organizations::update_organization)
                .delete(organizations::delete_organization),
        )
        .route("/organization_domains", post(organization_domains::create_organization_domain))
        .route(
            "/organization_domains/{id}",
            get(organization_domains::get_organization_domain).delete(organization_domains::delete_organization_domain),
        )
        .route("/organization_domains/{id}/verify", post(organization_domains::verify_organization_domain))
        .route("/events", get(events::list_events))
        // Layers run bottom-up: authenticate, then rate-limit, then idempotency.
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::idempotency))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::rate_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate));
    Router::new()
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .merge(authenticated)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(middleware::observe))
        .with_state(state)
}
