//! The storage contract: one trait per area, gathered in [`Store`]. The store crate
//! implements all of them for SQLite and PostgreSQL.

use crate::audit_logs::AuditLogStore;
use crate::authorization::AuthorizationStore;
use crate::directory_sync::DirectoryStore;
use crate::environments::EnvironmentStore;
use crate::events::EventStore;
use crate::events::webhooks::WebhookStore;
use crate::kernel::error::StoreError;
use crate::kernel::idempotency::IdempotencyStore;
use crate::kernel::rate_limit::RateLimitStore;
use crate::organizations::OrganizationStore;
use crate::sso::SsoStore;
use crate::user_management::auth_store::AuthStore;
use crate::user_management::invitations::InvitationStore;
use crate::user_management::mail::MailStore;
use crate::user_management::memberships::MembershipStore;
use crate::user_management::users::UserStore;

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
    + AuthStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Whether other server instances may write this database too (PostgreSQL): rate
    /// limits are then counted in the store, and cached reads follow [`Store::subscribe_changes`].
    fn is_shared(&self) -> bool;

    /// Subscribes to the changes every instance commits to a shared store; `None` for a
    /// store that only this process writes.
    async fn subscribe_changes(&self) -> Result<Option<Box<dyn ChangeStream>>, StoreError>;

    /// Keeps the query planner's statistics fresh where the database itself does not: on
    /// PostgreSQL, analyzes each table that autovacuum does not cover (turned off for the
    /// server or the table) and that changed by more than autovacuum's default threshold
    /// (50 rows and 10%) since its last analysis. Returns the tables analyzed.
    async fn refresh_statistics(&self) -> Result<Vec<String>, StoreError>;

    /// Whether any stored secret is sealed (was written under a master key): such a
    /// database must not be given a new key.
    async fn holds_sealed_secrets(&self) -> Result<bool, StoreError>;

    /// Folds SQLite's write-ahead log into the database file, so that the file alone holds
    /// every committed write (at shutdown); nothing on PostgreSQL.
    async fn checkpoint(&self) -> Result<(), StoreError>;

    /// Writes a consistent copy of a SQLite database to `path` while it serves (`VACUUM
    /// INTO`). PostgreSQL is backed up with its own tools: refused there.
    async fn backup_to(&self, path: &str) -> Result<(), StoreError>;
}

/// The change a new audit-log schema version announces on the change feed (it writes no event).
pub const AUDIT_LOG_SCHEMA_CREATED: &str = "audit_log_schema.created";

/// A committed change, as the change feed announces it: the event it wrote and its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The event name, e.g. `organization.updated`.
    pub event: String,
    /// The environment it happened in.
    pub environment_id: String,
}

/// A live subscription to the change feed of a shared store.
#[async_trait::async_trait]
pub trait ChangeStream: Send {
    /// The next change, or `None` once the subscription is lost: changes may have been
    /// missed since, and the caller should subscribe again.
    async fn next(&mut self) -> Option<Change>;
}
