//! The Vestibule HTTP server: configuration, startup, routing, the one error mapping,
//! and background housekeeping. `vestibule server` runs [`start`] and waits for a
//! signal; tests run it in-process on port 0.
#![forbid(unsafe_code)]

pub mod adapters;
pub mod api;
pub mod config;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod listener;
pub mod master_key;
pub mod middleware;
pub mod respond;
pub mod scim;
pub mod sso;
pub mod state;
pub mod user_management;

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vestibule_core::Vestibule;
use vestibule_core::environments::EnvironmentKind;

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
                .set_buckets_for_metric(
                    Matcher::Full("vestibule_http_request_duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
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
        tracing::warn!(
            "no --master-key-file: webhook secrets, OIDC client secrets and SAML and token keys are stored unsealed"
        );
    }
    // A key file is made only for a database that has never had one: a missing file in
    // front of sealed secrets is a lost key, and a new one would open none of them.
    if let master_key::KeySource::File(path) = &source
        && !path.exists()
    {
        let unsealed = vestibule_store::open(&config.database)
            .await
            .with_context(|| format!("cannot open database {}", config::redact_url(&config.database)))?;
        if unsealed.holds_sealed_secrets().await? {
            anyhow::bail!(
                "the master key file {} is missing, but the database holds secrets sealed with a master key: \
                 restore the file (or point --master-key-file at it); a new key would open none of them",
                path.display()
            );
        }
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
    let dns = adapters::dns::HickoryTxt::new(config.dns_resolver).context("cannot set up the DNS resolver")?;
    Ok(Vestibule::new(store, Arc::new(dns)))
}

/// Creates the first environment of an empty database.
async fn bootstrap(app: &Vestibule, dev: bool) -> anyhow::Result<Option<Bootstrap>> {
    if !app.store.list_environments().await?.is_empty() {
        return Ok(None);
    }
    let (name, client, key) =
        if dev { ("Development", Some(DEV_CLIENT_ID), Some(DEV_API_KEY)) } else { ("Default", None, None) };
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
            vestibule_core::CoreError::Invalid(errs) => {
                let lines: Vec<String> = errs.iter().map(|e| format!("  {}: {}", e.field, e.code)).collect();
                anyhow::anyhow!("seed file {} is invalid:\n{}", path.display(), lines.join("\n"))
            }
            e => anyhow::anyhow!("seeding failed: {e}"),
        })?;
        tracing::info!(organizations = report.organizations, api_keys = report.api_keys, "seed applied");
    }
    let shared = app.store.is_shared().then(|| app.store.clone());
    let limiter = middleware::Limiter::new(config.rate_limit, config.rate_limit_window_secs, shared);
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let policy = match (config.webhook_allow_private, config.dev) {
        (true, _) => adapters::webhook_guard::TargetPolicy::AllowPrivate,
        (false, true) => adapters::webhook_guard::TargetPolicy::AllowLoopback,
        (false, false) => adapters::webhook_guard::TargetPolicy::PublicOnly,
    };
    let guard: Arc<dyn vestibule_core::events::webhooks::TargetGuard> =
        Arc::new(adapters::webhook_guard::DnsTargetGuard { policy });
    let sso = vestibule_core::sso::SsoSettings {
        clock_skew_secs: config.sso_clock_skew_secs as i64,
        accept_localhost_redirects: config.dev,
        oidc_http: Arc::new(adapters::oidc_http::ReqwestOidcHttp::new().context("cannot build the OIDC HTTP client")?),
        ..Default::default()
    };
    let app = app
        .with_public_url(&config.public_base(addr))
        .with_domain_verification_period_ms((config.domain_verification_period_secs as i64).saturating_mul(1000))
        .with_sso(sso)
        .with_authkit(vestibule_core::user_management::AuthKitSettings {
            access_token_ttl_secs: config.access_token_ttl_secs as i64,
            require_email_verification: config.require_email_verification,
            ..Default::default()
        })
        .with_webhook_targets(guard.clone());
    let delivery = jobs::webhooks::DeliverySettings {
        schedule: match (&config.webhook_retry_delays_ms, config.dev) {
            (Some(delays), _) => delays.clone().into(),
            (None, true) => vestibule_core::events::webhooks::DEV_SCHEDULE_MS.into(),
            (None, false) => vestibule_core::events::webhooks::PRODUCTION_SCHEDULE_MS.into(),
        },
        timeout: if config.dev { Duration::from_secs(5) } else { Duration::from_secs(10) },
        guard,
        clients: Default::default(),
    };
    let (mailer, mailbox): (Arc<dyn vestibule_core::user_management::mail::Mailer>, _) =
        match (&config.smtp_url, config.dev) {
            (Some(url), _) => (
                Arc::new(
                    adapters::mailer::SmtpMailer::new(url, &config.smtp_from)
                        .context("invalid --smtp-url or --smtp-from")?,
                ),
                None,
            ),
            (None, true) => {
                let mailbox = Arc::new(adapters::mailer::DevMailbox::default());
                (mailbox.clone() as Arc<dyn vestibule_core::user_management::mail::Mailer>, Some(mailbox))
            }
            (None, false) => (Arc::new(adapters::mailer::NoMailer), None),
        };
    let state = AppState::new(state::Shared {
        app: app.clone(),
        config: Arc::new(config),
        limiter: Arc::new(limiter),
        metrics: metrics_handle(),
        mailbox,
    });
    let window_ms = (state.config.rate_limit_window_secs as i64) * 1000;
    let (state_config_max_connections, state_config_header_read_timeout) =
        (state.config.max_connections, state.config.header_read_timeout_secs);
    let state_metrics = state.metrics.clone();
    let body_limit = axum::extract::DefaultBodyLimit::max(state.config.max_body_bytes);
    let router = api::router(state);
    // Around the router, so that they run once per request, not once per route.
    let service =
        tower::ServiceBuilder::new().map_request(middleware::normalize_path).layer(body_limit).service(router);
    let (tx, rx) = watch::channel(false);
    let housekeeping = tokio::spawn(jobs::housekeeping::run(app.clone(), window_ms, tx.subscribe()));
    let metrics_upkeep = tokio::spawn(jobs::metrics_upkeep(state_metrics, tx.subscribe()));
    let change_feed = app.store.is_shared().then(|| {
        // Other instances write too: serve cached reads only while their changes are heard.
        app.organizations_cache.set_enabled(false);
        app.audit_log_schemas_cache.set_enabled(false);
        tokio::spawn(jobs::change_feed::follow(app.clone(), tx.subscribe()))
    });
    let mail_worker = tokio::spawn(jobs::mail::run_worker(app.clone(), mailer, tx.subscribe()));
    let webhook_worker = tokio::spawn(jobs::webhooks::run_worker(app.clone(), delivery, tx.subscribe()));
    let export_worker = tokio::spawn(jobs::audit_log_exports::run_worker(app.clone(), tx.subscribe()));
    let store = app.store.clone();
    let limits = listener::Limits {
        max_connections: state_config_max_connections,
        header_read_timeout: Duration::from_secs(state_config_header_read_timeout),
    };
    let task = tokio::spawn(async move {
        // Bounded connections and header reads, TCP_NODELAY, and JSON in place of the empty
        // refusals hyper answers by itself: see `listener`.
        let served = listener::serve(listener, service, limits, rx).await;
        housekeeping.abort();
        metrics_upkeep.abort();
        if let Some(feed) = change_feed {
            feed.abort();
        }
        let _ = mail_worker.await;
        let _ = webhook_worker.await;
        let _ = export_worker.await;
        // Last: the database file alone then holds every write (a copy of it is a backup).
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "checkpointing the database at shutdown failed");
        }
        served
    });
    Ok(Running { addr, bootstrap: boot, app, shutdown: tx, task })
}

/// Request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
