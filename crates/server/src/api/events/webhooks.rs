//! `webhooks` tag, plus the delivery log (extension).

use crate::api::{created, list, no_content, ok};
use crate::error::ApiResult;
use crate::extract::{Body, Params, Query, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_ids::Kind;

/// `GET /webhook_endpoints`
pub async fn list_webhook_endpoints(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    Ok(list(s.app.list_webhook_endpoints(env.id(), q.page_of(Kind::WebhookEndpoint)?).await?))
}

/// `POST /webhook_endpoints`
pub async fn create_webhook_endpoint(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_webhook_endpoint(env.id(), &body).await?))
}

/// `GET /webhook_endpoints/{id}` (extension: the spec lists only list/create/update/delete)
pub async fn get_webhook_endpoint(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_webhook_endpoint(env.id(), &id).await?))
}

/// `PATCH /webhook_endpoints/{id}`
pub async fn update_webhook_endpoint(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_webhook_endpoint(env.id(), &id, &body).await?))
}

/// `DELETE /webhook_endpoints/{id}`
pub async fn delete_webhook_endpoint(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_webhook_endpoint(env.id(), &id).await?;
    Ok(no_content())
}

/// `GET /webhook_endpoints/{id}/deliveries` (extension)
pub async fn list_webhook_deliveries(
    State(s): State<AppState>, env: Env, Segment(id): Segment, q: Query,
) -> ApiResult<Response> {
    Ok(list(s.app.list_webhook_deliveries(env.id(), &id, q.page_of(Kind::Event)?).await?))
}

/// `POST /webhook_endpoints/{id}/deliveries/{delivery_id}/retry` (extension)
pub async fn retry_webhook_delivery(
    State(s): State<AppState>, env: Env, Params((id, delivery)): Params<(String, String)>,
) -> ApiResult<Response> {
    s.app.retry_webhook_delivery(env.id(), &id, &delivery).await?;
    Ok(crate::api::accepted(json!({"id": delivery, "state": "pending"})))
}
