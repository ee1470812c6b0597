//! The Vestibule product: one module per API area, each with its model, its use cases
//! and the store trait it needs. Nothing here knows about HTTP or SQL.
#![forbid(unsafe_code)]

pub mod kernel;

pub mod audit_logs;
pub mod authorization;
pub mod directory_sync;
pub mod environments;
pub mod events;
pub mod organizations;
pub mod seed;
pub mod sso;
pub mod store;
pub mod user_management;

pub use kernel::error::{CoreError, FieldError, SchemaViolation, StoreError};
pub use kernel::time::Timestamp;
pub use store::Store;

use std::sync::Arc;

/// A model as the JSON it is served as (event payloads are built from it).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("models serialize")
}

/// Whether `id` could name an object of `kind` at all; anything else is a plain 404.
pub(crate) fn plausible(kind: vestibule_ids::Kind, id: &str) -> bool {
    vestibule_ids::parse(kind, id, false).is_ok()
}

/// The application: the store and the outbound ports every use case works through. Built
/// by [`Vestibule::new`] with defaults and the `with_*` methods; its settings are read-only
/// outside the core.
#[derive(Clone)]
pub struct Vestibule {
    /// Where every fact lives.
    pub store: Arc<dyn Store>,
    /// Looks up DNS TXT records for domain verification.
    pub(crate) dns: Arc<dyn organizations::dns::TxtResolver>,
    /// The external base URL, for links in emails.
    pub(crate) public_url: String,
    /// Woken when a message is queued, so the mail worker sends it at once.
    pub mail_queued: Arc<tokio::sync::Notify>,
    /// How long a domain may stay pending before a failed lookup fails it for good.
    pub(crate) domain_verification_period_ms: i64,
    /// Decides which webhook targets may be called.
    pub(crate) webhook_targets: Arc<dyn events::webhooks::TargetGuard>,
    /// Woken when an audit-log export is requested, so the export worker starts at once.
    pub audit_log_exports_queued: Arc<tokio::sync::Notify>,
    /// Serialized organization reads, invalidated by every organization or domain write.
    pub organizations_cache: Arc<kernel::cache::ReadCache>,
    /// Audit-log schemas by action and version, invalidated by every schema written.
    pub audit_log_schemas_cache: Arc<kernel::cache::ReadCache<Option<Arc<audit_logs::AuditLogSchema>>>>,
    /// Writes audit-log events in shared transactions.
    pub audit_log_writer: Arc<kernel::group_commit::EventWriter>,
    /// API keys resolved in the last second.
    pub keys: Arc<kernel::cache::KeyCache>,
    /// SCIM bearer tokens resolved to their directory in the last second.
    pub scim_auth: Arc<directory_sync::ScimAuthCache>,
    /// How SSO verifies responses and which redirect URIs it accepts unregistered.
    pub(crate) sso: sso::SsoSettings,
    pub(crate) authkit: user_management::AuthKitSettings,
    /// Each environment's parsed token signing key.
    pub(crate) signers: Arc<sso::jwks::SignerCache>,
}

impl Vestibule {
    /// Sets the external base URL used in links.
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = url.trim_end_matches('/').to_owned();
        self
    }

    /// Sets how long a domain may stay pending before a failed lookup fails it for good.
    pub fn with_domain_verification_period_ms(mut self, ms: i64) -> Self {
        self.domain_verification_period_ms = ms;
        self
    }

    /// Sets how SSO verifies responses, reaches OIDC providers and treats redirect URIs.
    pub fn with_sso(mut self, sso: sso::SsoSettings) -> Self {
        self.sso = sso;
        self
    }

    /// Sign-in settings: token lifetimes, email verification, lockout thresholds.
    pub fn with_authkit(mut self, authkit: user_management::AuthKitSettings) -> Self {
        self.authkit = authkit;
        self
    }

    /// Sets the guard that decides which webhook targets may be called.
    pub fn with_webhook_targets(mut self, guard: Arc<dyn events::webhooks::TargetGuard>) -> Self {
        self.webhook_targets = guard;
        self
    }

    /// Builds the application from its store and ports.
    pub fn new(store: Arc<dyn Store>, dns: Arc<dyn organizations::dns::TxtResolver>) -> Self {
        Self {
            audit_log_writer: Arc::new(kernel::group_commit::EventWriter::new(store.clone())),
            store,
            dns,
            public_url: "http://127.0.0.1:4100".into(),
            mail_queued: Arc::new(tokio::sync::Notify::new()),
            domain_verification_period_ms: organizations::VERIFICATION_PERIOD_MS,
            webhook_targets: Arc::new(events::webhooks::AllowAll),
            audit_log_exports_queued: Arc::new(tokio::sync::Notify::new()),
            organizations_cache: Arc::new(kernel::cache::ReadCache::new(true)),
            audit_log_schemas_cache: Arc::new(kernel::cache::ReadCache::new(true)),
            keys: Arc::default(),
            scim_auth: Arc::default(),
            sso: sso::SsoSettings::default(),
            authkit: user_management::AuthKitSettings::default(),
            signers: Arc::default(),
        }
    }
}
