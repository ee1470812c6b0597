//! Webhook delivery: the worker that drains the delivery queue, signing each body and
//! retrying on the schedule.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;
use vestibule_core::events::webhooks::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, TargetGuard, delivery_body, next_attempt, signature_header,
};
use vestibule_core::{Timestamp, Vestibule};

/// How the worker delivers.
#[derive(Clone)]
pub struct DeliverySettings {
    /// Delays between attempts; its length plus one is the number of attempts.
    pub schedule: Arc<[i64]>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Checks and pins the target address of each request.
    pub guard: Arc<dyn TargetGuard>,
    /// HTTP clients by (host, pinned address), reused across deliveries.
    pub clients: Arc<ClientCache>,
}

/// HTTP clients by (host, pinned address).
pub type ClientCache = std::sync::Mutex<std::collections::HashMap<(String, Option<SocketAddr>), reqwest::Client>>;

/// Drains the webhook queue until `stop`, several deliveries at a time.
pub async fn run_worker(app: Vestibule, settings: DeliverySettings, mut stop: watch::Receiver<bool>) {
    let lease_ms = settings.timeout.as_millis() as i64 + 30_000;
    loop {
        match app.store.claim_webhook_deliveries(Timestamp::now(), lease_ms, 32).await {
            Ok(batch) if !batch.is_empty() => {
                let mut set = JoinSet::new();
                for d in batch {
                    let (app, settings) = (app.clone(), settings.clone());
                    set.spawn(async move { deliver(&app, &settings, d).await });
                }
                while set.join_next().await.is_some() {}
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "claiming webhook deliveries failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(app: &Vestibule, settings: &DeliverySettings, d: ClaimedDelivery) {
    let started = Instant::now();
    let attempted_at = Timestamp::now();
    let (event, endpoint) = match (
        app.store.get_event(&d.environment_id, &d.event_id).await,
        app.store.get_webhook_endpoint(&d.environment_id, &d.endpoint_id).await,
    ) {
        (Ok(Some(e)), Ok(Some(ep))) => (e, ep),
        (Ok(_), Ok(_)) => {
            let attempt = DeliveryAttempt {
                attempt: d.attempt,
                status_code: None,
                latency_ms: 0,
                error: Some("the event or endpoint no longer exists".into()),
                attempted_at,
            };
            let _ = app.store.record_webhook_attempt(&d, &attempt, &AttemptOutcome::Abandon).await;
            return;
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "loading a webhook delivery failed");
            return;
        }
    };
    let body = delivery_body(&event);
    let result = send(settings, &endpoint.endpoint_url, &endpoint.secret, body).await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let (status_code, error) = match &result {
        Ok(status) if (200..300).contains(status) => (Some(i64::from(*status)), None),
        Ok(status) => (Some(i64::from(*status)), Some(format!("the endpoint answered {status}"))),
        Err(e) => (None, Some(e.clone())),
    };
    let outcome = if error.is_none() {
        AttemptOutcome::Delivered
    } else {
        match next_attempt(&settings.schedule, d.attempt, Timestamp::now()) {
            Some(at) => AttemptOutcome::RetryAt(at),
            None => AttemptOutcome::GiveUp(format!(
                "Disabled after {} failed delivery attempts of event {}; last error: {}",
                d.attempt,
                d.event_id,
                error.as_deref().unwrap_or_default()
            )),
        }
    };
    metrics::counter!("vestibule_webhook_attempts_total", "outcome" => if error.is_none() { "delivered" } else { "failed" }).increment(1);
    let attempt = DeliveryAttempt { attempt: d.attempt, status_code, latency_ms, error, attempted_at };
    if let Err(e) = app.store.record_webhook_attempt(&d, &attempt, &outcome).await {
        tracing::error!(error = %e, "recording a webhook attempt failed");
    }
}

/// POSTs `body` signed with `secret`; the HTTP status, or why there was none.
async fn send(settings: &DeliverySettings, url: &str, secret: &str, body: Vec<u8>) -> Result<u16, String> {
    // Resolve and check now, then connect to exactly the checked address: a second
    // lookup by the HTTP client could be answered differently (DNS rebinding).
    let addrs = settings.guard.resolve(url).await?;
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let key = (host.clone(), addrs.first().copied());
    let cached = settings.clients.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
    let client = match cached {
        Some(c) => c,
        None => {
            let mut builder =
                reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(settings.timeout);
            if let Some(addr) = addrs.first() {
                builder = builder.resolve(host.trim_start_matches('[').trim_end_matches(']'), *addr);
            }
            let c = builder.build().map_err(|e| e.to_string())?;
            let mut clients = settings.clients.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: a client per distinct target, dropped wholesale if it ever grows large.
            if clients.len() > 1024 {
                clients.clear();
            }
            clients.insert(key, c.clone());
            c
        }
    };
    let signature = signature_header(secret, Timestamp::now().millis(), &body);
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("Vestibule-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("workos-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(
            |e| if e.is_timeout() { "the endpoint timed out".to_owned() } else { format!("request failed: {e}") },
        )?;
    Ok(resp.status().as_u16())
}
