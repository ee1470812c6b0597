//! The `vestibule` binary: the server, its admin commands, and a client for the WorkOS API
//! (Vestibule's or WorkOS's own) with one command per API operation.
#![forbid(unsafe_code)]

mod admin;
mod api;
mod catalog;
mod follow;
mod output;
mod settings;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use vestibule_server::FileConfig;

/// Vestibule: a self-hostable server for the WorkOS API, and a client for it.
#[derive(Parser)]
#[command(
    name = "vestibule",
    version,
    about,
    propagate_version = true,
    after_help = "Examples:\n  vestibule server --dev\n  \
        WORKOS_API_KEY=sk_test_default vestibule organizations create --name Acme --domains acme.com\n  \
        vestibule organizations list --all --jsonl\n  vestibule request GET /events --query limit=5"
)]
struct Cli {
    #[command(flatten)]
    client: ClientFlags,
    #[command(subcommand)]
    command: Command,
}

/// Flags of every client command (accepted anywhere on the command line).
#[derive(clap::Args)]
#[command(next_help_heading = "Client options")]
struct ClientFlags {
    /// API key (sk_…); also WORKOS_TOKEN. Never printed.
    #[arg(long, env = "WORKOS_API_KEY", hide_env_values = true, global = true, value_name = "KEY")]
    api_key: Option<String>,
    /// API base URL [default: http://127.0.0.1:4100].
    #[arg(long, env = "WORKOS_BASE_URL", global = true, value_name = "URL")]
    base_url: Option<String>,
    /// Named profile in the client config file ($VESTIBULE_CLIENT_CONFIG or ~/.config/vestibule/config.toml).
    #[arg(long, env = "VESTIBULE_PROFILE", global = true, value_name = "NAME")]
    profile: Option<String>,
    /// One JSON document on stdout (the default when it is not a terminal); errors as JSON on stderr.
    #[arg(long, global = true, conflicts_with = "jsonl")]
    json: bool,
    /// One JSON object per line; list items one per line.
    #[arg(long, global = true)]
    jsonl: bool,
    /// Follow list_metadata.after to the end of a list, page by page.
    #[arg(long, global = true)]
    all: bool,
    /// Per-request timeout in seconds [default: 30].
    #[arg(long, global = true, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Retries on 408, 429, 5xx and connection errors, with backoff [default: 3].
    #[arg(long, global = true, value_name = "N")]
    max_retries: Option<u32>,
}

// Parsed once per run, so the size of the server's arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    #[command(after_help = "Example:\n  vestibule server --dev --addr 127.0.0.1:4100")]
    Server(ServerArgs),
    /// Manage environments and API keys directly in the server's database.
    #[command(after_help = "Example:\n  vestibule admin api-keys create --environment environment_01H…")]
    Admin(admin::AdminArgs),
    /// Send any API request: METHOD PATH [--data JSON|@file|-].
    Request(api::RequestArgs),
    /// Check seed files without a server.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  vestibule completions bash > /etc/bash_completion.d/vestibule")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Subcommand)]
enum SeedCommand {
    /// Check a seed file (YAML or JSON) as the server would, without applying it: every
    /// problem is listed, one per line; exit 1 when there is any.
    #[command(after_help = "Example:\n  vestibule seed check seed.yaml")]
    Check {
        /// The seed file.
        file: PathBuf,
    },
}

/// A mistake in the command line or its inputs (exit code 2); nothing was sent.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The whole command tree: the derived commands plus one per API resource.
fn command() -> clap::Command {
    api::resource_commands().into_iter().fold(Cli::command(), clap::Command::subcommand)
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Pretty,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "VESTIBULE_ADDR", value_name = "IP:PORT")]
    addr: Option<SocketAddr>,
    /// Database URL: sqlite://PATH (default ./vestibule.db), sqlite::memory: or postgres://…
    #[arg(long, env = "VESTIBULE_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// External base URL, used in links handed to identity providers and browsers.
    #[arg(long, env = "VESTIBULE_PUBLIC_URL", value_name = "URL")]
    public_url: Option<url::Url>,
    /// Seed file (workos-emulate format, YAML or JSON) applied at start.
    #[arg(long, env = "VESTIBULE_SEED", value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Emulator mode: in-memory database, key sk_test_default, client id client_test_default.
    #[arg(long, env = "VESTIBULE_DEV")]
    dev: bool,
    /// TOML configuration file; flags and VESTIBULE_* variables override it.
    #[arg(long, env = "VESTIBULE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Requests per API key per window (0 = off). Default 6000, or off in --dev.
    #[arg(long, env = "VESTIBULE_RATE_LIMIT", value_name = "N")]
    rate_limit: Option<u64>,
    /// Rate-limit window in seconds (default 60).
    #[arg(long, env = "VESTIBULE_RATE_LIMIT_WINDOW", value_name = "SECONDS")]
    rate_limit_window: Option<u64>,
    /// In --dev, enforce WorkOS's published rate limits so applications can test 429s.
    #[arg(long, env = "VESTIBULE_DEV_RATE_LIMITS")]
    dev_rate_limits: bool,
    /// Largest request body accepted, in bytes (default 1 MiB).
    #[arg(long, env = "VESTIBULE_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,
    /// DNS server for domain verification (default: the system resolver).
    #[arg(long, env = "VESTIBULE_DNS_RESOLVER", value_name = "IP:PORT")]
    dns_resolver: Option<SocketAddr>,
    /// SMTP server for outbound mail, e.g. smtp://127.0.0.1:2525 (in --dev, mail is kept at GET /_dev/emails).
    #[arg(long, env = "VESTIBULE_SMTP_URL", value_name = "URL")]
    smtp_url: Option<String>,
    /// Seconds a domain may stay pending before a failed DNS lookup fails it (default 7 days).
    #[arg(long, env = "VESTIBULE_DOMAIN_VERIFICATION_PERIOD", value_name = "SECONDS")]
    domain_verification_period: Option<u64>,
    /// Let webhook endpoints point at private networks and loopback (refused by default).
    #[arg(long, env = "VESTIBULE_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    /// Seconds of clock difference tolerated with SAML and OIDC identity providers (default 60, at most 600).
    #[arg(long, env = "VESTIBULE_SSO_CLOCK_SKEW_SECS", value_name = "SECONDS")]
    sso_clock_skew_secs: Option<u64>,
    /// Connections served at once (default 4096); more wait until one closes.
    #[arg(long, env = "VESTIBULE_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// Seconds a client has to send a request head, idle kept-alive connections included (default 30).
    #[arg(long, env = "VESTIBULE_HEADER_READ_TIMEOUT_SECS", value_name = "SECONDS")]
    header_read_timeout_secs: Option<u64>,
    /// Seconds an access token stays valid (default 300, as WorkOS; 30 to 86400).
    #[arg(long, env = "VESTIBULE_ACCESS_TOKEN_TTL_SECS", value_name = "SECONDS")]
    access_token_ttl_secs: Option<u64>,
    /// Sender of outbound mail.
    #[arg(long, env = "VESTIBULE_SMTP_FROM", value_name = "ADDRESS")]
    smtp_from: Option<String>,
    /// File holding the key that seals stored secrets (created if missing; default on SQLite:
    /// the database file + ".key"; on PostgreSQL every instance must be given the same file).
    #[arg(long, env = "VESTIBULE_MASTER_KEY_FILE", value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "VESTIBULE_LOG_FORMAT", value_enum, default_value = "json")]
    log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VESTIBULE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A log line that cannot be written is dropped: never reported on stderr (reporting
    // panics when stderr is the broken pipe), never blocking a request or the shutdown.
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).log_internal_errors(false);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        LogFormat::Pretty => builder.compact().init(),
    }
}

/// One server per SQLite file: each runs the background workers (webhooks, mail, exports,
/// housekeeping) that assume they are alone on it. The lock is an advisory lock on the
/// database file itself (SQLite's own locks are separate), held until the process ends;
/// admin commands do not take it.
fn lock_sqlite_file(database: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some((path, _)) = vestibule_store::sqlite_parts(database) else { return Ok(None) };
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open the database file {path}: {e}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another vestibule server is already running on {path}; one server per SQLite file \
             (use PostgreSQL for several instances)"
        ),
        Err(std::fs::TryLockError::Error(e)) => anyhow::bail!("cannot lock the database file {path}: {e}"),
    }
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let over = FileConfig {
        addr: args.addr,
        database: args.database,
        public_url: args.public_url,
        seed: args.seed,
        dev: args.dev.then_some(true),
        rate_limit: args.rate_limit,
        rate_limit_window_secs: args.rate_limit_window,
        dev_rate_limits: args.dev_rate_limits.then_some(true),
        max_body_bytes: args.max_body_bytes,
        dns_resolver: args.dns_resolver,
        smtp_url: args.smtp_url,
        smtp_from: args.smtp_from,
        domain_verification_period_secs: args.domain_verification_period,
        webhook_allow_private: args.webhook_allow_private.then_some(true),
        // Retry schedules are set in the TOML file only.
        webhook_retry_delays_ms: None,
        sso_clock_skew_secs: args.sso_clock_skew_secs,
        master_key_file: args.master_key_file,
        access_token_ttl_secs: args.access_token_ttl_secs,
        max_connections: args.max_connections,
        header_read_timeout_secs: args.header_read_timeout_secs,
        // Set in the TOML file only.
        require_email_verification: None,
    };
    let config = file.resolve(over)?;
    tracing::info!(config = ?config, "starting");
    let _exclusive = lock_sqlite_file(&config.database)?;
    let running = vestibule_server::start(config).await?;
    // Signal handlers go in before the address is printed: whoever reads that line may
    // send SIGTERM at once.
    let stop = running.shutdown_handle();
    let signals = Signals::install()?;
    tokio::spawn(async move {
        signals.wait().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    let mut out = std::io::stdout().lock();
    if let Some(boot) = &running.bootstrap {
        writeln!(out, "initial API key: {}", boot.api_key)?;
        writeln!(out, "client id: {}", boot.client_id)?;
        writeln!(out, "(the key is stored hashed and will not be shown again)")?;
    }
    writeln!(out, "vestibule listening on http://{}", running.addr)?;
    out.flush()?;
    drop(out);
    running.wait().await
}

/// SIGINT and SIGTERM, registered up front so that neither can arrive unhandled.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn dispatch(matches: &clap::ArgMatches) -> anyhow::Result<()> {
    if let Some((name, sub)) = matches.subcommand()
        && let Some(resource) = catalog::resource(name)
    {
        return api::run_resource(resource, matches, sub).await;
    }
    let cli = Cli::from_arg_matches(matches)?;
    match cli.command {
        Command::Server(args) => serve(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Request(args) => api::run_request(args, matches).await,
        Command::Seed(SeedCommand::Check { file }) => {
            let doc = vestibule_server::read_seed(&file)?;
            let mut out = std::io::stdout().lock();
            match vestibule_core::seed::validate(&doc) {
                Ok(()) => {
                    writeln!(out, "{}: ok", file.display())?;
                    Ok(())
                }
                Err(vestibule_core::CoreError::Invalid(errors)) => {
                    for e in &errors {
                        writeln!(out, "{}: {}", e.field, e.message.as_deref().unwrap_or(&e.code))?;
                    }
                    anyhow::bail!("{}: {} problem(s)", file.display(), errors.len())
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Completions { shell } => {
            // Rendered first, then written: a reader that stops early (`| head -1`) is a broken
            // pipe to report like any other, not a panic inside the generator.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "vestibule", &mut script);
            let mut out = std::io::stdout().lock();
            out.write_all(&script).and_then(|()| out.flush())?;
            Ok(())
        }
    }
}

/// Prints a failure on one line (or as JSON) and picks the exit code: 2 usage, 1 the rest.
fn report(e: &anyhow::Error, json: bool) -> ExitCode {
    if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
        return ExitCode::SUCCESS;
    }
    let (code, body) = if let Some(usage) = e.downcast_ref::<UsageError>() {
        (2, serde_json::json!({"message": usage.0, "code": "usage_error"}))
    } else if let Some(client) = e.downcast_ref::<vestibule_client::Error>() {
        let body = match client.api() {
            Some(api) => api.to_json(),
            None => serde_json::json!({"message": client.to_string(), "code": "connection_error"}),
        };
        (1, body)
    } else {
        (1, serde_json::json!({"message": format!("{e:#}")}))
    };
    if json {
        eprintln!("{}", serde_json::json!({ "error": body }));
    } else if let Some(client) = e.downcast_ref::<vestibule_client::Error>() {
        eprintln!("error: {client}");
    } else {
        eprintln!("error: {e:#}");
    }
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let json = matches.get_flag("json") || matches.get_flag("jsonl");
    let is_server = matches!(matches.subcommand_name(), Some("server"));
    if !is_server && std::env::var_os("VESTIBULE_LOG").is_some() {
        init_logs(LogFormat::Pretty);
    }
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime") {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        };
    match runtime.block_on(dispatch(&matches)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, json),
    }
}
