//! The DNS port used to verify organization domains.

use async_trait::async_trait;

/// Looks up TXT records.
#[async_trait]
pub trait TxtResolver: Send + Sync {
    /// The TXT strings at `name`; an empty list when the name has none.
    async fn txt(&self, name: &str) -> Result<Vec<String>, String>;
}
