//! The HTTP API: one module per area. Handlers parse, call one use case, and shape the
//! response; nothing else.

pub mod audit_logs;
pub mod authorization;
pub mod dev;
pub mod directory_sync;
pub mod events;
pub mod organizations;
pub mod sso;
pub mod system;
pub mod user_management;

use crate::error::ApiError;
use crate::middleware;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::routing::{get, post, put};
use user_management::sign_in;

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
        .route("/organization_domains", post(organizations::create_organization_domain))
        .route(
            "/organization_domains/{id}",
            get(organizations::get_organization_domain).delete(organizations::delete_organization_domain),
        )
        .route("/organization_domains/{id}/verify", post(organizations::verify_organization_domain))
        .route("/events", get(events::list_events))
        .route("/directories", get(directory_sync::list_directories).post(directory_sync::create_directory))
        .route(
            "/directories/{id}",
            get(directory_sync::get_directory)
                .patch(directory_sync::update_directory)
                .delete(directory_sync::delete_directory),
        )
        .route("/directories/{id}/scim_token", post(directory_sync::rotate_directory_token))
        .route("/directory_users", get(directory_sync::list_directory_users))
        .route("/directory_users/{id}", get(directory_sync::get_directory_user))
        .route("/directory_groups", get(directory_sync::list_directory_groups))
        .route("/directory_groups/{id}", get(directory_sync::get_directory_group))
        .route("/user_management/users", get(user_management::list_users).post(user_management::create_user))
        .route("/user_management/users/external_id/{external_id}", get(user_management::get_user_by_external_id))
        .route(
            "/user_management/users/{id}",
            get(user_management::get_user).put(user_management::update_user).delete(user_management::delete_user),
        )
        .route(
            "/user_management/organization_memberships",
            get(user_management::list_memberships).post(user_management::create_membership),
        )
        .route(
            "/user_management/organization_memberships/{id}",
            get(user_management::get_membership)
                .put(user_management::update_membership)
                .delete(user_management::delete_membership),
        )
        .route("/user_management/organization_memberships/{id}/deactivate", put(user_management::deactivate_membership))
        .route("/user_management/organization_memberships/{id}/reactivate", put(user_management::reactivate_membership))
        .route("/authorization/organization_memberships/{id}/check", post(user_management::check))
        .route(
            "/user_management/invitations",
            get(user_management::list_invitations).post(user_management::create_invitation),
        )
        .route("/user_management/invitations/by_token/{token}", get(user_management::get_invitation_by_token))
        .route("/user_management/invitations/{id}", get(user_management::get_invitation))
        .route("/user_management/invitations/{id}/accept", post(user_management::accept_invitation))
        .route("/user_management/invitations/{id}/resend", post(user_management::resend_invitation))
        .route("/user_management/invitations/{id}/revoke", post(user_management::revoke_invitation))
        .route("/authorization/roles", get(authorization::list_roles).post(authorization::create_role))
        .route("/authorization/roles/{slug}", get(authorization::get_role).patch(authorization::update_role))
        .route(
            "/authorization/roles/{slug}/permissions",
            put(authorization::set_role_permissions).post(authorization::add_role_permission),
        )
        .route(
            "/authorization/organizations/{organization_id}/roles",
            get(authorization::list_organization_roles).post(authorization::create_organization_role),
        )
        .route(
            "/authorization/organizations/{organization_id}/roles/{slug}",
            get(authorization::get_organization_role)
                .patch(authorization::update_organization_role)
                .delete(authorization::delete_organization_role),
        )
        .route(
            "/authorization/organizations/{organization_id}/roles/{slug}/permissions",
            put(authorization::set_organization_role_permissions).post(authorization::add_organization_role_permission),
        )
        .route(
            "/authorization/organizations/{organization_id}/roles/{slug}/permissions/{permission}",
            axum::routing::delete(authorization::remove_organization_role_permission),
        )
        .route(
            "/authorization/permissions",
            get(authorization::list_permissions).post(authorization::create_permission),
        )
        .route(
            "/authorization/permissions/{slug}",
            get(authorization::get_permission)
                .patch(authorization::update_permission)
                .delete(authorization::delete_permission),
        )
        .route("/_dev/emails", get(dev::list_emails))
        .route("/webhook_endpoints", get(events::list_webhook_endpoints).post(events::create_webhook_endpoint))
        .route(
            "/webhook_endpoints/{id}",
            get(events::get_webhook_endpoint)
                .patch(events::update_webhook_endpoint)
                .delete(events::delete_webhook_endpoint),
        )
        .route("/webhook_endpoints/{id}/deliveries", get(events::list_webhook_deliveries))
        .route("/webhook_endpoints/{id}/deliveries/{delivery_id}/retry", post(events::retry_webhook_delivery))
        .route(
            "/audit_logs/events",
            post(audit_logs::create_audit_log_event).layer(DefaultBodyLimit::max(
                state.config.max_body_bytes.min(vestibule_core::audit_logs::MAX_EVENT_BODY_BYTES),
            )),
        )
        .route("/audit_logs/actions", get(audit_logs::list_audit_log_actions))
        .route(
            "/audit_logs/actions/{action}/schemas",
            get(audit_logs::list_audit_log_schemas).post(audit_logs::create_audit_log_schema),
        )
        .route("/audit_logs/exports", post(audit_logs::create_audit_log_export))
        .route("/audit_logs/exports/{id}", get(audit_logs::get_audit_log_export))
        .route(
            "/organizations/{id}/audit_logs_retention",
            get(audit_logs::get_audit_logs_retention).put(audit_logs::set_audit_logs_retention),
        )
        .route("/organizations/{id}/audit_log_configuration", get(audit_logs::get_audit_log_configuration))
        .route("/connections", get(sso::list_connections).post(sso::create_connection))
        .route(
            "/connections/{id}",
            get(sso::get_connection).patch(sso::update_connection).delete(sso::delete_connection),
        )
        .route("/connections/{id}/login_attempts", get(sso::list_login_attempts))
        .route("/user_management/redirect_uris", get(sso::list_redirect_uris).post(sso::create_redirect_uri))
        .route("/user_management/redirect_uris/{id}", axum::routing::delete(sso::delete_redirect_uri))
        .route("/sso/logout/authorize", post(sso::authorize_logout))
        .route("/signing_keys/rotate", post(sso::rotate_signing_key))
        .route("/user_management/users/{id}/sessions", get(sign_in::list_sessions))
        .route("/user_management/sessions/revoke", post(sign_in::revoke_session))
        .route("/user_management/authorize/device/approve", post(sign_in::approve_device))
        .route("/user_management/authorize/device/deny", post(sign_in::deny_device))
        .route("/user_management/magic_auth", post(sign_in::create_magic_auth))
        .route("/user_management/magic_auth/{id}", get(sign_in::get_magic_auth))
        .route("/user_management/users/{id}/email_verification/send", post(sign_in::send_verification_email))
        .route("/user_management/users/{id}/email_verification/confirm", post(sign_in::verify_email))
        .route("/user_management/email_verification/{id}", get(sign_in::get_email_verification))
        .route("/user_management/password_reset", post(sign_in::create_password_reset))
        .route("/user_management/password_reset/confirm", post(sign_in::confirm_password_reset))
        .route("/user_management/password_reset/{id}", get(sign_in::get_password_reset))
        .route("/user_management/users/{id}/email_change/send", post(sign_in::send_email_change))
        .route("/user_management/users/{id}/email_change/confirm", post(sign_in::confirm_email_change))
        .route("/user_management/users/{id}/identities", get(sign_in::list_identities))
        .route("/user_management/users/{id}/authorized_applications", get(sign_in::list_authorized_applications))
        .route(
            "/user_management/users/{id}/authorized_applications/{application_id}",
            axum::routing::delete(sign_in::delete_authorized_application),
        )
        .route(
            "/user_management/users/{id}/auth_factors",
            get(sign_in::list_user_factors).post(sign_in::enroll_user_factor),
        )
        .route("/auth/factors/enroll", post(sign_in::enroll_factor))
        .route("/auth/factors/{id}", get(sign_in::get_factor).delete(sign_in::delete_factor))
        .route("/auth/factors/{id}/challenge", post(sign_in::challenge_factor))
        .route("/auth/challenges/{id}/verify", post(sign_in::verify_challenge))
        .route("/user_management/jwt_template", get(sign_in::get_jwt_template).put(sign_in::put_jwt_template))
        .route("/user_management/cors_origins", get(sign_in::list_cors_origins).post(sign_in::create_cors_origin))
        .layer(middleware::ApiKeyLayer(state.clone()));
    // Each group takes one layer of its own: axum applies a layer to every route, and
    // each layer costs a request a clone of the route's service stack and a boxed
    // future, so a read goes through one hop, not one per concern.
    let public = Router::new()
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        // Signed links are their own credential: export downloads take no API key.
        .route("/audit_logs/exports/{id}/download", get(audit_logs::download_audit_log_export))
        // Browser- and IdP-facing SSO endpoints: their credentials are the code, the
        // access token, the client secret in the body, or the IdP's signature.
        .merge(crate::sso::router())
        // Signing in: the client secret (or a refresh token, or PKCE) in the body, and
        // the browser's logout redirect.
        .merge(crate::user_management::router())
        // The identity provider's SCIM endpoint: its own bearer token, never an API key.
        .merge(crate::scim::router(state.clone()))
        .layer(axum::middleware::from_fn(middleware::observe));
    public
        .merge(authenticated)
        .fallback(|req: Request| {
            middleware::observed(req, |req| middleware::reject(req, 1024 * 1024, ApiError::RouteNotFound))
        })
        .method_not_allowed_fallback(|req: Request| {
            middleware::observed(req, |req| middleware::reject(req, 1024 * 1024, ApiError::MethodNotAllowed))
        })
        .with_state(state)
}
