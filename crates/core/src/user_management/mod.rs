//! User management: users, organization memberships, invitations, password hashing and
//! the mail outbox; and AuthKit sign-in: `authenticate` with every grant, sessions and
//! their tokens, one-time codes (magic auth, email verification, password reset, email
//! change), MFA, failure counting, and the JWT template and CORS origins.

pub mod auth_store;
pub mod authenticate;
pub mod codes;
pub mod cors_origins;
pub mod device;
pub mod invitations;
pub mod jwt_template;
pub mod lockout;
pub mod mail;
pub mod memberships;
pub mod mfa;
pub mod passwords;
pub mod sessions;
pub mod users;

/// How sign-in behaves in an environment.
#[derive(Debug, Clone)]
pub struct AuthKitSettings {
    /// Lifetime of an access token, in seconds (WorkOS: 5 minutes).
    pub access_token_ttl_secs: i64,
    /// Lifetime of a session (and so of its refresh tokens), in milliseconds.
    pub session_ttl_ms: i64,
    /// Whether a user must verify their email before a password or magic-auth sign-in
    /// gives a session (`email_verification_required`).
    pub require_email_verification: bool,
    /// Failed sign-ins per email address within [`Self::lockout_window_ms`] before that
    /// address is refused until the window ends.
    pub max_failures_per_email: i64,
    /// Failed sign-ins per client IP address within the window before it is refused.
    pub max_failures_per_ip: i64,
    /// The counting window, in milliseconds.
    pub lockout_window_ms: i64,
}

impl Default for AuthKitSettings {
    fn default() -> Self {
        AuthKitSettings {
            access_token_ttl_secs: 300,
            session_ttl_ms: 30 * 24 * 3600 * 1000,
            require_email_verification: true,
            max_failures_per_email: 10,
            max_failures_per_ip: 100,
            lockout_window_ms: 15 * 60 * 1000,
        }
    }
}
