//! The change feed: how one instance learns what the others wrote.
//!
//! On PostgreSQL every event written (and every change writes one, in its transaction)
//! also sends a `NOTIFY` on [`CHANNEL`] naming the event and its environment; a new
//! audit-log schema version, which writes no event, sends [`AUDIT_LOG_SCHEMA_CREATED`]. PostgreSQL
//! delivers notifications only when the transaction commits, so a listener hears of a
//! change after it became visible. SQLite needs no feed: one process owns the file.

use sqlx::postgres::PgListener;

/// The notification channel.
pub const CHANNEL: &str = "vestibule_changes";

/// The change a new audit-log schema version announces (it writes no event).
pub const AUDIT_LOG_SCHEMA_CREATED: &str = "audit_log_schema.created";

/// A committed change: the event it wrote and its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The event name, e.g. `organization.updated`.
    pub event: String,
    /// The environment it happened in.
    pub environment_id: String,
}

/// `EVENT ENVIRONMENT`: both are identifiers without spaces.
pub(crate) fn payload(event: &str, environment_id: &str) -> String {
    format!("{event} {environment_id}")
}

/// A live subscription to the change feed.
pub struct ChangeFeed {
    listener: PgListener,
}

impl ChangeFeed {
    /// Connects to the PostgreSQL database at `url` and starts listening.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self { listener })
    }

    /// The next change, or `None` once the connection is lost: changes may have been
    /// missed since, and the caller should reconnect.
    pub async fn next(&mut self) -> Option<Change> {
        loop {
            match self.listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some((event, env)) = n.payload().split_once(' ') {
                        return Some(Change { event: event.to_owned(), environment_id: env.to_owned() });
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }
}
