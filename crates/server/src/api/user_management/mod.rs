//! `user-management` tag: users, organization memberships (and the permission check), and
//! invitations; what signing in needs behind the API key is in `sign_in.rs`.

pub mod sign_in;

use crate::error::ApiResult;
use crate::extract::{Body, Query, Segment};
use crate::middleware::Env;
use crate::respond::{created, list, no_content, ok};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use vestibule_core::user_management::invitations::InvitationFilter;
use vestibule_core::user_management::memberships::MembershipFilter;
use vestibule_core::user_management::users::UserFilter;

// --- Users -------------------------------------------------------------------

/// `GET /user_management/users`
pub async fn list_users(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::User)?;
    let filter = UserFilter {
        email: q.get("email").map(str::to_owned),
        organization_id: q.get("organization_id").or_else(|| q.get("organization")).map(str::to_owned),
    };
    Ok(list(s.app.list_users(env.id(), filter, page).await?))
}

/// `POST /user_management/users`
pub async fn create_user(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_user(env.id(), &body).await?))
}

/// `GET /user_management/users/{id}`
pub async fn get_user(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_user(env.id(), &id).await?))
}

/// `GET /user_management/users/external_id/{external_id}`
pub async fn get_user_by_external_id(
    State(s): State<AppState>, env: Env, Segment(ext): Segment,
) -> ApiResult<Response> {
    Ok(ok(s.app.get_user_by_external_id(env.id(), &ext).await?))
}

/// `PUT /user_management/users/{id}`
pub async fn update_user(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_user(env.id(), &id, &body).await?))
}

/// `DELETE /user_management/users/{id}`
pub async fn delete_user(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_user(env.id(), &id).await?;
    Ok(no_content())
}

// --- Organization memberships ------------------------------------------------

/// `GET /user_management/organization_memberships`
pub async fn list_memberships(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(vestibule_ids::Kind::OrganizationMembership)?;
    let filter = MembershipFilter {
        user_id: q.get("user_id").map(str::to_owned),
        organization_id: q.get("organization_id").map(str::to_owned),
        statuses: q.list("statuses"),
    };
    Ok(list(s.app.list_memberships(env.id(), filter, page).await?))
}

/// `POST /user_management/organization_memberships`
pub async fn create_membership(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_membership(env.id(), &body).await?))
}

/// `GET /user_management/organization_memberships/{id}`
pub async fn get_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_membership(env.id(), &id).await?))
}

/// `PUT /user_management/organization_memberships/{id}`
pub async fn update_membership(
    State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body,
) -> ApiResult<Response> {
    Ok(ok(s.app.update_membership(env.id(), &id, &body).await?))
}

/// `PUT /user_management/organization_memberships/{id}/deactivate`
pub async fn deactivate_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.deactivate_membership(env.id(), &id).await?))
}

/// `PUT /user_management/organization_memberships/{id}/reactivate`
pub async fn reactivate_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.reactivate_membership(env.id(), &id).await?))
}

/// `DELETE /user_management/organization_memberships/{id}`
pub async fn delete_membership(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_membership(env.id(), &id).await?;
    Ok(no_content())
}

/// `POST /authorization/organization_memberships/{id}/check`
pub async fn check(State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body) -> ApiResult<Response> {
    let authorized = s.app.check_permission(env.id(), &id, &body).await?;
    Ok(ok(json!({ "authorized": authorized })))
}

// --- Invitations -------------------------------------------------------------

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
