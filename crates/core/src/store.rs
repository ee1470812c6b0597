//! The storage contract: one trait per area, gathered in [`Store`]. The store crate
//! implements all of them for SQLite and PostgreSQL.

use crate::audit_logs::AuditLogStore;
use crate::authorization::AuthorizationStore;
use crate::directories::DirectoryStore;
use crate::environments::EnvironmentStore;
use crate::invitations::InvitationStore;
use crate::mail::MailStore;
use crate::memberships::MembershipStore;
use crate::users::UserStore;
use crate::webhooks::WebhookStore;
use crate::events::EventStore;
use crate::idempotency::IdempotencyStore;
use crate::organizations::OrganizationStore;
use crate::rate_limit::RateLimitStore;
use crate::sso::SsoStore;

/// Failures a store reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated; carries a stable name of what collided.
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// A concurrent writer changed the row first; the caller may retry.
    #[error("concurrent modification")]
    Contended,
    /// The database failed; the message is for logs only.
    #[error("database error: {0}")]
    Backend(String),
}

/// Everything the application stores, behind one object chosen at startup.
#[async_trait::async_trait]
pub trait Store:
    EnvironmentStore
    + OrganizationStore
    + EventStore
    + IdempotencyStore
    + RateLimitStore
    + UserStore
    + MembershipStore
    + AuthorizationStore
    + InvitationStore
    + MailStore
    + WebhookStore
    + AuditLogStore
    + DirectoryStore
    + SsoStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Keeps the query planner's statistics fresh where the database itself does not: on
    /// PostgreSQL, analyzes each table that autovacuum does not cover (turned off for the
    /// server or the table) and that changed by more than autovacuum's default threshold
    /// (50 rows and 10%) since its last analysis. Returns the tables analyzed.
    async fn refresh_statistics(&self) -> Result<Vec<String>, StoreError>;
}
