//! `events` tag (the event stream, oldest first) and `webhooks` tag, with the delivery log
//! (extension).

use crate::error::{ApiResult, validation};
use crate::extract::{Body, Params, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, list, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_core::events::EventFilter;
use vestibule_core::{FieldError, Timestamp};
use vestibule_ids::Kind;

fn event_name_ok(name: &str) -> bool {
    name.len() <= 100
        && name.contains('.')
        && name.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// `GET /events`. `order` and `before` are accepted and ignored: the stream is always
/// chronological, and consumers page forward with `after`.
pub async fn list_events(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let mut errors = Vec::new();
    let limit = q.limit(&mut errors);
    let after = q.cursor_of("after", Some(vestibule_ids::Kind::Event), &mut errors);
    let events = q.list("events");
    if let Some(bad) = events.iter().position(|e| !event_name_ok(e)) {
        errors.push(FieldError::new(format!("events[{bad}]"), "invalid_event_type"));
    }
    let mut time = |key: &str| {
        q.get(key).and_then(|v| {
            let t = Timestamp::parse(v);
            if t.is_none() {
                errors.push(FieldError::new(key, "invalid_date"));
            }
            t
        })
    };
    let range_start = time("range_start");
    let range_end = time("range_end");
    let organization_id = q.get("organization_id").map(str::to_owned);
    if organization_id.as_deref().is_some_and(|o| !vestibule_ids::is_plausible(o)) {
        errors.push(FieldError::new("organization_id", "invalid"));
    }
    if !errors.is_empty() {
        return Err(validation(errors));
    }
    let filter = EventFilter { events, organization_id, range_start, range_end, after, limit };
    let data = s.app.list_events(env.id(), filter).await?;
    let after = data.last().map(|e| e.id.clone());
    Ok(ok(json!({"object": "list", "data": data, "list_metadata": {"after": after}})))
}

// --- Webhook endpoints -------------------------------------------------------

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
    Ok(crate::respond::accepted(json!({"id": delivery, "state": "pending"})))
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_names() {
        assert!(super::event_name_ok("organization_domain.verified"));
        assert!(super::event_name_ok("dsync.group.user_added"));
        assert!(!super::event_name_ok("organization"));
        assert!(!super::event_name_ok("Organization.Created"));
        assert!(!super::event_name_ok("a..b"));
    }
}
