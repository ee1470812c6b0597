//! The audit-log export worker: takes pending exports from the database (each one by a
//! single instance, under a lease) and writes their CSV; woken when an export is
//! requested, and every second for retries and exports requested on other instances.

use std::time::Duration;
use tokio::sync::watch;
use vestibule_core::Vestibule;

/// Runs exports until `stop`. Stopping mid-export drops the work in progress; its
/// lease runs out and the export is taken up again, here or by another instance.
pub async fn run_worker(app: Vestibule, mut stop: watch::Receiver<bool>) {
    loop {
        let outcome = tokio::select! {
            r = app.process_next_audit_log_export() => r,
            _ = stop.changed() => return,
        };
        match outcome {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(error = ?e, "audit-log export failed"),
        }
        tokio::select! {
            _ = app.audit_log_exports_queued.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}
