//! Once a minute: what expires is deleted and stale planner statistics refreshed.

use std::time::Duration;
use tokio::sync::watch;
use vestibule_core::kernel::idempotency::TTL_MILLIS;
use vestibule_core::{Timestamp, Vestibule};

/// Deletes expired idempotency keys, old rate-limit windows, and audit-log events past
/// their retention once a minute, and refreshes planner statistics the database leaves
/// stale (PostgreSQL without autovacuum).
pub async fn run(app: Vestibule, window_ms: i64, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = Timestamp::now();
        if let Err(e) = app.store.purge_idempotency_keys(now.plus_millis(-TTL_MILLIS)).await {
            tracing::warn!(error = %e, "purging idempotency keys failed");
        }
        if let Err(e) = app.store.purge_rate_limits(now.millis() - 2 * window_ms.max(1000)).await {
            tracing::warn!(error = %e, "purging rate-limit windows failed");
        }
        if let Err(e) = app.store.purge_sso(now).await {
            tracing::warn!(error = %e, "purging expired SSO requests and codes failed");
        }
        if let Err(e) = app.store.purge_authentication(now, now.millis() - 2 * 3600 * 1000).await {
            tracing::warn!(error = %e, "purging expired sign-in codes and sessions failed");
        }
        if let Err(e) = app.purge_audit_logs(now).await {
            tracing::warn!(error = ?e, "purging audit logs failed");
        }
        match app.store.refresh_statistics().await {
            Ok(tables) if !tables.is_empty() => tracing::info!(?tables, "analyzed tables autovacuum does not cover"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
        }
    }
}
