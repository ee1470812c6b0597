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

use vestibule_core::store::ChangeStream;
pub use vestibule_core::store::{AUDIT_LOG_SCHEMA_CREATED, Change};

/// `EVENT ENVIRONMENT`: both are identifiers without spaces.
pub(crate) fn payload(event: &str, environment_id: &str) -> String {
    format!("{event} {environment_id}")
}

/// A live subscription to the change feed.
pub struct ChangeFeed {
    listener: PgListener,
}

impl ChangeFeed {
    /// Starts listening on a connection of `pool`'s database.
    pub async fn connect_with(pool: &sqlx::PgPool) -> Result<Self, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self { listener })
    }
}

#[async_trait::async_trait]
impl ChangeStream for ChangeFeed {
    async fn next(&mut self) -> Option<Change> {
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

impl crate::PgStore {
    /// The store's side of [`vestibule_core::Store::subscribe_changes`]: PostgreSQL has a feed.
    pub(crate) async fn subscribe_feed(&self) -> Result<Option<Box<dyn ChangeStream>>, vestibule_core::StoreError> {
        let feed = ChangeFeed::connect_with(&self.write).await.map_err(crate::common::map_err)?;
        Ok(Some(Box::new(feed)))
    }
}

impl crate::SqliteStore {
    /// One process owns a SQLite file: there is no one else to hear from.
    pub(crate) async fn subscribe_feed(&self) -> Result<Option<Box<dyn ChangeStream>>, vestibule_core::StoreError> {
        Ok(None)
    }
}
