//! The Vestibule HTTP server: configuration, startup, routing, the one error mapping,
//! and background housekeeping. `vestibule server` runs [`start`] and waits for a
//! signal; tests run it in-process on port 0.
#![forbid(unsafe_code)]

pub mod api;
pub mod audit_log_exports;
pub mod config;
pub mod dns;
pub mod error;
pub mod extract;
pub mod mailer;
pub mod master_key;
pub mod scim;
pub mod middleware;
pub mod oidc_http;
pub mod state;
pub mod webhooks;

use anyhow::Context;
use axum::ServiceExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vestibule_core::environments::EnvironmentKind;
use vestibule_core::idempotency::TTL_MILLIS;
use vestibule_core::{Timestamp, Vestibule};

pub use config::{Config, FileConfig};
pub use state::AppState;

/// The well-known API key of `--dev`.
pub const DEV_API_KEY: &str = "sk_test_default";
/// The well-known client id of `--dev`.
pub const DEV_CLIENT_ID: &str = "client_test_default";

/// What the first start of an empty database created; printed once by the CLI.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The new environment's client id.
    pub client_id: String,
    /// The new API key, in plaintext; never retrievable again.
    pub api_key: String,
}

/// A running server.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Set when this start created the first environment.
    pub bootstrap: Option<Bootstrap>,
    /// The application, for tests that reach behind the API.
    pub app: Vestibule,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await??;
        Ok(())
    }

    /// Waits until the server stops by itself (it does not, short of an error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }

    /// A handle that triggers shutdown from elsewhere (signal handlers).
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// The process-wide Prometheus recorder; installed once, shared by every server.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Fixed buckets: a histogram aggregates across instances (a summary cannot), and
            // folding a sample into buckets is a few comparisons.
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("vestibule_http_request_duration_seconds".into()), &LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Opens the database and builds the application on it.
pub async fn open_app(config: &Config) -> anyhow::Result<Vestibule> {
    let source = master_key::source(&config.database, config.master_key_file.as_deref());
    if source == master_key::KeySource::None {
        tracing::warn!("no --master-key-file: webhook secrets, OIDC client secrets and SAML and token keys are stored unsealed");
    }
    let sealer = Arc::new(master_key::sealer(&source)?);
    let store = vestibule_store::open_sealed(&config.database, sealer)
        .await
        .with_context(|| format!("cannot open database {}", config::redact_url(&config.database)))?;
    // Secrets stored before there was a master key are sealed now, not at their next write.
    let resealed = store.reseal_webhook_secrets().await? + store.reseal_sso_secrets().await?;
    if resealed > 0 {
        tracing::info!(rows = resealed, "sealed secrets stored before the master key");
    }
    let dns = dns::HickoryTxt::new(config.dns_resolver).context("cannot set up the DNS resolver")?;
    Ok(Vestibule::new(store, Arc::new(dns)))
}

/// Creates the first environment of an empty database.
async fn bootstrap(app: &Vestibule, dev: bool) -> anyhow::Result<Option<Bootstrap>> {
    if !app.store.list_environments().await?.is_empty() {
        return Ok(None);
    }
    let (name, client, key) = if dev {
        ("Development", Some(DEV_CLIENT_ID), Some(DEV_API_KEY))
    } else {
        ("Default", None, None)
    };
    let env = app.create_environment(name, EnvironmentKind::Test, client).await?;
    let issued = app.create_api_key(&env, "Initial key", key).await?;
    Ok(Some(Bootstrap { client_id: env.client_id, api_key: issued.secret }))
}

/// Reads a seed file: JSON by extension, YAML otherwise (YAML also reads JSON).
pub fn read_seed(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read seed file {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("seed file {} is not valid JSON", path.display()))
    } else {
        serde_norway::from_str(&text).with_context(|| format!("seed file {} is not valid YAML", path.display()))
    }
}

/// Starts the server: database, migrations, first environment, seed, listener.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let app = open_app(&config).await?;
    let boot = bootstrap(&app, config.dev).await?;
    if let Some(path) = &config.seed {
        let doc = read_seed(path)?;
        let env = app.store.list_environments().await?.into_iter().next().context("no environment to seed")?;
        let report = app.apply_seed(&env, &doc).await.map_err(|e| match e {
            vestibule_core::CoreError::Validation(errs) => {
                let lines: Vec<String> = errs.iter().map(|e| format!("  {}: {}", e.field, e.code)).collect();
                anyhow::anyhow!("seed file {} is invalid:\n{}", path.display(), lines.join("\n"))
            }
            e => anyhow::anyhow!("seeding failed: {e}"),
        })?;
        tracing::info!(organizations = report.organizations, api_keys = report.api_keys, "seed applied");
    }
    let shared = (app.store.backend() == "postgres").then(|| app.store.clone());
    let limiter = middleware::Limiter::new(config.rate_limit, config.rate_limit_window_secs, shared);
    let listener = tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let mut app = app.with_public_url(&config.public_base(addr));
    app.domain_verification_period_ms = (config.domain_verification_period_secs as i64).saturating_mul(1000);
    app.sso.clock_skew_secs = config.sso_clock_skew_secs as i64;
    app.sso.accept_localhost_redirects = config.dev;
    app.sso.oidc_http = Arc::new(oidc_http::ReqwestOidcHttp::new().context("cannot build the OIDC HTTP client")?);
    let policy = match (config.webhook_allow_private, config.dev) {
        (true, _) => webhooks::TargetPolicy::AllowPrivate,
        (false, true) => webhooks::TargetPolicy::AllowLoopback,
        (false, false) => webhooks::TargetPolicy::PublicOnly,
    };
    let guard: Arc<dyn vestibule_core::webhooks::TargetGuard> = Arc::new(webhooks::DnsTargetGuard { policy });
    app.webhook_targets = guard.clone();
    let delivery = webhooks::DeliverySettings {
        schedule: match (&config.webhook_retry_delays_ms, config.dev) {
            (Some(delays), _) => delays.clone().into(),
            (None, true) => vestibule_core::webhooks::DEV_SCHEDULE_MS.into(),
            (None, false) => vestibule_core::webhooks::PRODUCTION_SCHEDULE_MS.into(),
        },
        timeout: if config.dev { Duration::from_secs(5) } else { Duration::from_secs(10) },
        guard,
        clients: Default::default(),
    };
    let (mailer, mailbox): (Arc<dyn vestibule_core::mail::Mailer>, _) = match (&config.smtp_url, config.dev) {
        (Some(url), _) => (Arc::new(mailer::SmtpMailer::new(url, &config.smtp_from).context("invalid --smtp-url or --smtp-from")?), None),
        (None, true) => {
            let mailbox = Arc::new(mailer::DevMailbox::default());
            (mailbox.clone() as Arc<dyn vestibule_core::mail::Mailer>, Some(mailbox))
        }
        (None, false) => (Arc::new(mailer::NoMailer), None),
    };
    let state = AppState::new(state::Shared {
        app: app.clone(),
        config: Arc::new(config),
        limiter: Arc::new(limiter),
        metrics: metrics_handle(),
        mailbox,
    });
    let window_ms = (state.config.rate_limit_window_secs as i64) * 1000;
    let database = state.config.database.clone();
    let state_metrics = state.metrics.clone();
    let body_limit = axum::extract::DefaultBodyLimit::max(state.config.max_body_bytes);
    let router = api::router(state);
    // Around the router, so that they run once per request, not once per route.
    let service = tower::ServiceBuilder::new()
        .map_request(middleware::normalize_path)
        .layer(body_limit)
        .service(router);
    let (tx, mut rx) = watch::channel(false);
    let housekeeping = tokio::spawn(housekeeping(app.clone(), window_ms, tx.subscribe()));
    let metrics_upkeep = tokio::spawn(metrics_upkeep(state_metrics, tx.subscribe()));
    let change_feed = (app.store.backend() == "postgres").then(|| {
        // Other instances write too: serve cached reads only while their changes are heard.
        app.organizations_cache.set_enabled(false);
        app.audit_log_schemas_cache.set_enabled(false);
        tokio::spawn(follow_changes(app.clone(), database, tx.subscribe()))
    });
    let mail_worker = tokio::spawn(mailer::run_worker(app.clone(), mailer, tx.subscribe()));
    let webhook_worker = tokio::spawn(webhooks::run_worker(app.clone(), delivery, tx.subscribe()));
    let export_worker = tokio::spawn(audit_log_exports::run_worker(app.clone(), tx.subscribe()));
    let task = tokio::spawn(async move {
        // Responses go out as soon as they are written: with Nagle's algorithm, the tail of
        // a large response can wait for the client's delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, ServiceExt::<axum::extract::Request>::into_make_service(service))
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await;
        housekeeping.abort();
        metrics_upkeep.abort();
        if let Some(feed) = change_feed {
            feed.abort();
        }
        let _ = mail_worker.await;
        let _ = webhook_worker.await;
        let _ = export_worker.await;
        served
    });
    Ok(Running { addr, bootstrap: boot, app, shutdown: tx, task })
}

/// Follows the PostgreSQL change feed: drops cached organization reads and audit-log
/// schemas when another instance (or this one) changes them. While the feed is down the
/// caches are bypassed; on every (re)connection everything cached is dropped, since
/// changes may have been missed in between.
async fn follow_changes(app: Vestibule, database: String, mut stop: watch::Receiver<bool>) {
    let (orgs, schemas) = (&app.organizations_cache, &app.audit_log_schemas_cache);
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = tokio::select! {
            c = vestibule_store::changes::ChangeFeed::connect(&database) => c,
            _ = stop.changed() => return,
        };
        let mut feed = match connected {
            Ok(feed) => feed,
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
            } else if change.event == vestibule_store::changes::AUDIT_LOG_SCHEMA_CREATED {
                schemas.invalidate(&change.environment_id);
            }
        }
        orgs.set_enabled(false);
        schemas.set_enabled(false);
        tracing::warn!("lost the change feed; reconnecting");
    }
}

/// Request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Folds recorded latency samples into the histograms every second. Without it the
/// samples pile up in memory until someone scrapes `/metrics`; folding them often keeps
/// each pass short, so it never holds up requests for long.
async fn metrics_upkeep(handle: PrometheusHandle, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            _ = stop.changed() => return,
        }
    }
}

/// Deletes expired idempotency keys, old rate-limit windows, and audit-log events past
/// their retention once a minute, and refreshes planner statistics the database leaves
/// stale (PostgreSQL without autovacuum).
async fn housekeeping(app: Vestibule, window_ms: i64, mut stop: watch::Receiver<bool>) {
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
