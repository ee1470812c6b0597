//! The Vestibule product: one module per API area, each with its model, its use cases
//! and the store trait it needs. Nothing here knows about HTTP or SQL.
#![forbid(unsafe_code)]

pub mod dns;
pub mod environments;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod metadata;
pub mod organizations;
pub mod pagination;
pub mod rate_limit;
pub mod secrets;
pub mod seed;
pub mod store;
pub mod time;

pub use error::{CoreError, FieldError};
pub use store::{Store, StoreError};
pub use time::Timestamp;

use std::sync::Arc;

/// The application: the store and the outbound ports every use case works through.
#[derive(Clone)]
pub struct Vestibule {
    /// Where every fact lives.
    pub store: Arc<dyn Store>,
    /// Looks up DNS TXT records for domain verification.
    pub dns: Arc<dyn dns::TxtResolver>,
}

impl Vestibule {
    /// Builds the application from its store and ports.
    pub fn new(store: Arc<dyn Store>, dns: Arc<dyn dns::TxtResolver>) -> Self {
        Self { store, dns }
    }
}
