//! `Idempotency-Key` on POST: the first completed response is kept for 24 hours and
//! replayed for the same key and body; the same key with another body is refused.
//!
//! While its request runs, a key is marked in flight. The marker never outlives the
//! request: a request holding a key is cut off after [`REQUEST_LIMIT_MILLIS`] (its
//! transaction rolls back), a request whose client goes away releases its key, and a
//! marker left by a process that died is taken over once it is [`IN_FLIGHT_LEASE_MILLIS`]
//! old, longer than any request may run.

use crate::kernel::error::StoreError;
use crate::kernel::time::Timestamp;
use async_trait::async_trait;

/// How long a key's response is kept.
pub const TTL_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// The longest a request holding a key may run.
pub const REQUEST_LIMIT_MILLIS: i64 = 30 * 1000;

/// The age at which an in-flight marker is known to be abandoned: twice the request limit.
pub const IN_FLIGHT_LEASE_MILLIS: i64 = 2 * REQUEST_LIMIT_MILLIS;

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
    /// `expired_before`, and in-flight markers older than [`IN_FLIGHT_LEASE_MILLIS`]
    /// before `now` (their request is gone), are treated as unused.
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
