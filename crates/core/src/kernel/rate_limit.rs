//! Rate-limit counters that several server instances share through the database.

use crate::kernel::error::StoreError;
use async_trait::async_trait;

/// Fixed-window counters.
#[async_trait]
pub trait RateLimitStore {
    /// Adds one hit to `bucket` in the window starting at `window_start` (ms) and
    /// returns the window's count including it.
    async fn hit_rate_limit(&self, bucket: &str, window_start: i64) -> Result<u64, StoreError>;
    /// Deletes windows that started before `before` (ms).
    async fn purge_rate_limits(&self, before: i64) -> Result<u64, StoreError>;
}
