//! The `vestibule` binary: the server, its admin commands, and (as areas land) a
//! client for the WorkOS API.
#![forbid(unsafe_code)]

mod admin;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use vestibule_server::FileConfig;

/// Vestibule: a self-hostable server for the WorkOS API.
#[derive(Parser)]
#[command(name = "vestibule", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    ///
    /// Example: vestibule server --dev
    Server(ServerArgs),
    /// Manage environments and API keys directly in the server's database.
    ///
    /// Example: vestibule admin api-keys create --environment environment_01H…
    Admin(admin::AdminArgs),
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
    /// Sender of outbound mail.
    #[arg(long, env = "VESTIBULE_SMTP_FROM", value_name = "ADDRESS")]
    smtp_from: Option<String>,
    /// Log format on stderr.
    #[arg(long, env = "VESTIBULE_LOG_FORMAT", value_enum, default_value = "json")]
    log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VESTIBULE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
        LogFormat::Pretty => builder.compact().init(),
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
    };
    let config = file.resolve(over)?;
    tracing::info!(config = ?config, "starting");
    let running = vestibule_server::start(config).await?;
    let mut out = std::io::stdout().lock();
    if let Some(boot) = &running.bootstrap {
        writeln!(out, "initial API key: {}", boot.api_key)?;
        writeln!(out, "client id: {}", boot.client_id)?;
        writeln!(out, "(the key is stored hashed and will not be shown again)")?;
    }
    writeln!(out, "vestibule listening on http://{}", running.addr)?;
    out.flush()?;
    drop(out);
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    running.wait().await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime") {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => serve(args).await,
            Command::Admin(args) => admin::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
