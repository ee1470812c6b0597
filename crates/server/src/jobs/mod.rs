//! The server's background work: one worker per queue (mail, webhook deliveries,
//! audit-log exports), housekeeping, metrics upkeep, and the change feed of a shared
//! database. Each runs until the shutdown signal.

pub mod audit_log_exports;
pub mod change_feed;
pub mod housekeeping;
pub mod mail;
pub mod webhooks;

use metrics_exporter_prometheus::PrometheusHandle;
use std::time::Duration;
use tokio::sync::watch;

/// Folds recorded latency samples into the histograms every second. Without it the
/// samples pile up in memory until someone scrapes `/metrics`; folding them often keeps
/// each pass short, so it never holds up requests for long.
pub async fn metrics_upkeep(handle: PrometheusHandle, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            _ = stop.changed() => return,
        }
    }
}
