//! `user-management.invitations` tag.

use crate::api::{created, list, ok};
use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use vestibule_core::user_management::invitations::InvitationFilter;

/// `GET /user_management/invitations`
pub async fn list_invitations(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::Invitation)?;
    let filter = InvitationFilter {
        organization_id: q.get("organization_id").map(str::to_owned),
        email: q.get("email").map(str::to_owned),
    };
    Ok(list(s.app.list_invitations(env.id(), filter, page).await?))
}

/// `POST /user_management/invitations`
pub async fn create_invitation(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_invitation(env.id(), &body).await?))
}

/// `GET /user_management/invitations/{id}`
pub async fn get_invitation(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_invitation(env.id(), &id).await?))
}

/// `GET /user_management/invitations/by_token/{token}`
pub async fn get_invitation_by_token(
    State(s): State<AppState>, env: Env, Segment(token): Segment,
) -> ApiResult<Response> {
    Ok(ok(s.app.get_invitation_by_token(env.id(), &token).await?))
}

/// `POST /user_management/invitations/{id}/accept`
pub async fn accept_invitation(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.accept_invitation(env.id(), &id).await?))
}

/// `POST /user_management/invitations/{id}/resend`
pub async fn resend_invitation(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.resend_invitation(env.id(), &id).await?))
}

/// `POST /user_management/invitations/{id}/revoke`
pub async fn revoke_invitation(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.revoke_invitation(env.id(), &id).await?))
}
