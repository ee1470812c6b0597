//! Outbound email: messages are written to an outbox in the same transaction as the
//! change that causes them, and a worker hands them to the [`Mailer`] port with retries.

use crate::kernel::error::StoreError;
use crate::kernel::time::Timestamp;
use async_trait::async_trait;

/// One queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Row id (`mail_…`).
    pub id: String,
    /// The environment that sent it.
    pub environment_id: String,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: Timestamp,
}

impl OutboxMail {
    /// A new message for `to`.
    pub fn new(env: &str, to: &str, subject: String, body: String) -> Self {
        OutboxMail {
            id: format!("mail_{}", crate::kernel::secrets::random_base62(24)),
            environment_id: env.to_owned(),
            to: to.to_owned(),
            subject,
            body,
            attempts: 0,
            created_at: Timestamp::now(),
        }
    }
}

/// Sends a message; the error text is kept on the outbox row.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers `mail` or says why not.
    async fn send(&self, mail: &OutboxMail) -> Result<(), String>;
}

/// Most delivery attempts before a message is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// Storage for the outbox.
#[async_trait]
pub trait MailStore {
    /// Claims up to `limit` due messages for `lease_ms`, counting an attempt on each.
    async fn claim_mail(&self, now: Timestamp, lease_ms: i64, limit: u32) -> Result<Vec<OutboxMail>, StoreError>;
    /// Marks a message delivered.
    async fn mark_mail_sent(&self, id: &str, at: Timestamp) -> Result<(), StoreError>;
    /// Records a failure; `retry_at` `None` gives up.
    async fn mark_mail_failed(&self, id: &str, error: &str, retry_at: Option<Timestamp>) -> Result<(), StoreError>;
}
