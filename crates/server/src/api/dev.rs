//! Emulator conveniences (`--dev` only): the mailbox of messages the server "sent".

use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::middleware::Env;
use crate::respond::ok;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

/// `GET /_dev/emails[?to=ADDRESS]`: messages kept by the dev mailer, oldest first,
/// only the caller's environment's.
pub async fn list_emails(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let Some(mailbox) = &s.mailbox else { return Err(ApiError::RouteNotFound) };
    let to = q.get("to").map(str::to_lowercase);
    let data: Vec<_> = mailbox
        .messages()
        .into_iter()
        .filter(|m| m.environment_id == env.id() && to.as_ref().is_none_or(|t| m.to == *t))
        .map(|m| json!({"id": m.id, "to": m.to, "subject": m.subject, "body": m.body, "created_at": m.created_at}))
        .collect();
    Ok(ok(json!({"object": "list", "data": data})))
}
