//! `Idempotency-Key` on POST: the first completed response is kept for 24 hours and
//! replayed for the same key and body; the same key with another body is refused.

use crate::kernel::error::StoreError;
use crate::kernel::time::Timestamp;
use async_trait::async_trait;

/// How long a key's response is kept.
pub const TTL_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// What the store found when a request claimed a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: run the request, then record its response.
    Fresh,
    /// The key completed before with the same request: replay this response.
    Replay {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: Vec<u8>,
    },
    /// The key was used with a different request.
    Mismatch,
    /// The same request is still being processed.
    InFlight,
}

/// Storage for idempotency keys, scoped by environment.
#[async_trait]
pub trait IdempotencyStore {
    /// Claims `key` for a request whose fingerprint is `fingerprint`. Keys older than
    /// `expired_before` are treated as unused.
    async fn claim_idempotency_key(
        &self, environment_id: &str, key: &str, fingerprint: &str, now: Timestamp, expired_before: Timestamp,
    ) -> Result<Claim, StoreError>;
    /// Records the response of a claimed key.
    async fn complete_idempotency_key(
        &self, environment_id: &str, key: &str, status: u16, body: &[u8],
    ) -> Result<(), StoreError>;
    /// Releases a claimed key whose request failed, so a retry runs again.
    async fn release_idempotency_key(&self, environment_id: &str, key: &str) -> Result<(), StoreError>;
    /// Deletes keys older than `before`.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StoreError>;
}
