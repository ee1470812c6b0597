//! The change feed of a shared database: how one instance learns what the others wrote,
//! so that its caches stay true.

use std::time::Duration;
use tokio::sync::watch;
use vestibule_core::Vestibule;
use vestibule_core::store::AUDIT_LOG_SCHEMA_CREATED;

/// Follows the PostgreSQL change feed: drops cached organization reads and audit-log
/// schemas when another instance (or this one) changes them. While the feed is down the
/// caches are bypassed; on every (re)connection everything cached is dropped, since
/// changes may have been missed in between.
pub async fn follow(app: Vestibule, mut stop: watch::Receiver<bool>) {
    let (orgs, schemas) = (&app.organizations_cache, &app.audit_log_schemas_cache);
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::select! {
            c = app.store.subscribe_changes() => c,
            _ = stop.changed() => return,
        };
        let mut feed = match connected {
            Ok(Some(feed)) => feed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the change feed; organization reads are not cached");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        orgs.invalidate_all();
        orgs.set_enabled(true);
        schemas.invalidate_all();
        schemas.set_enabled(true);
        loop {
            let change = tokio::select! {
                c = feed.next() => c,
                _ = stop.changed() => return,
            };
            let Some(change) = change else { break };
            if change.event.starts_with("organization.") || change.event.starts_with("organization_domain.") {
                orgs.invalidate(&change.environment_id);
            } else if change.event == AUDIT_LOG_SCHEMA_CREATED {
                schemas.invalidate(&change.environment_id);
            }
        }
        orgs.set_enabled(false);
        schemas.set_enabled(false);
        tracing::warn!("lost the change feed; reconnecting");
    }
}
