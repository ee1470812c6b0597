//! Group commit for audit-log events: requests arriving together share one transaction.
//!
//! Each request hands its checked event to one writer task and waits for the commit
//! that contains it, so an acknowledged event is as durable as before. While the writer
//! commits one batch, the next requests queue up and go into the following batch: there
//! is no timer, a lone request is written at once, and under load each commit (one fsync
//! on PostgreSQL, one WAL append on SQLite) carries many events.

use crate::audit_logs::AuditLogEvent;
use crate::{Store, StoreError};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Most events in one batch.
const MAX_BATCH: usize = 512;
/// Events that may wait for the writer before senders wait for room.
const QUEUE: usize = 4096;

struct Pending {
    env: String,
    event: AuditLogEvent,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The writer of audit-log events, started by the first event.
pub struct EventWriter {
    store: Arc<dyn Store>,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl EventWriter {
    /// A writer into `store`; its task starts with the first event.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, queue: OnceLock::new() }
    }

    /// Stores `event` and returns once the transaction holding it has committed.
    pub async fn insert(&self, env: &str, event: AuditLogEvent) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(self.store.clone(), rx));
            tx
        });
        let (done, outcome) = oneshot::channel();
        match queue.send(Pending { env: env.to_owned(), event, done }).await {
            Ok(()) => outcome.await.unwrap_or_else(|_| Err(StoreError::Backend("the audit-log writer stopped".into()))),
            // The writer's runtime has gone (a test runtime that ended): write directly.
            Err(mpsc::error::SendError(p)) => self.store.insert_audit_log_events(&[(&p.env, &p.event)]).await,
        }
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rows: Vec<(&str, &AuditLogEvent)> = batch.iter().map(|p| (p.env.as_str(), &p.event)).collect();
        let outcome = store.insert_audit_log_events(&rows).await;
        drop(rows);
        match outcome {
            Ok(()) => {
                for p in batch.drain(..) {
                    let _ = p.done.send(Ok(()));
                }
            }
            // One failing row must not fail the others: write them one by one.
            Err(_) if batch.len() > 1 => {
                for p in batch.drain(..) {
                    let outcome = store.insert_audit_log_events(&[(&p.env, &p.event)]).await;
                    let _ = p.done.send(outcome);
                }
            }
            Err(e) => {
                if let Some(p) = batch.pop() {
                    let _ = p.done.send(Err(e));
                }
            }
        }
    }
}
