//! What every handler can reach.

use crate::config::Config;
use crate::middleware::Limiter;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use vestibule_core::Vestibule;

/// Shared application state: one pointer, so that the clone every middleware layer and
/// handler takes per request costs one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `state` with every request.
    pub fn new(state: Shared) -> Self {
        Self(Arc::new(state))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] points to.
pub struct Shared {
    /// The use cases.
    pub app: Vestibule,
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// Per-key request limits.
    pub limiter: Arc<Limiter>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The dev mailbox, in `--dev` without SMTP.
    pub mailbox: Option<Arc<crate::adapters::mailer::DevMailbox>>,
}
