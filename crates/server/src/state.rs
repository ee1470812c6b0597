//! What every handler can reach.

use crate::config::Config;
use crate::middleware::Limiter;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use vestibule_core::Vestibule;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: Vestibule,
    /// The resolved configuration.
    pub config: Arc<Config>,
    /// Per-key request limits.
    pub limiter: Arc<Limiter>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The dev mailbox, in `--dev` without SMTP.
    pub mailbox: Option<Arc<crate::mailer::DevMailbox>>,
}
