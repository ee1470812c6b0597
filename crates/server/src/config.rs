//! Server configuration: one struct, layered defaults → TOML file → `VESTIBULE_*`
//! environment → flags (the CLI resolves the last two), validated at start.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

/// The resolved configuration of one server process.
#[derive(Clone)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `sqlite://PATH`, `sqlite::memory:` or `postgres://…`.
    pub database: String,
    /// The external base URL (links in SCIM endpoints, ACS URLs, export downloads).
    pub public_url: Option<Url>,
    /// A seed file applied at start.
    pub seed: Option<PathBuf>,
    /// Emulator mode: in-memory database, well-known key and client id.
    pub dev: bool,
    /// Requests allowed per API key per window; `0` turns rate limiting off.
    pub rate_limit: u64,
    /// Length of a rate-limit window, in seconds.
    pub rate_limit_window_secs: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Name server used for domain verification; the system resolver when unset.
    pub dns_resolver: Option<SocketAddr>,
    /// SMTP server for outbound mail (`smtp://host:port`); none keeps mail in the dev mailbox.
    pub smtp_url: Option<String>,
    /// Sender address of outbound mail.
    pub smtp_from: String,
    /// How long a domain may stay pending before a failed DNS lookup fails it.
    pub domain_verification_period_secs: u64,
    /// Let webhook endpoints point at private networks and loopback.
    pub webhook_allow_private: bool,
    /// Delays between webhook attempts, in ms; the production or `--dev` schedule when unset.
    pub webhook_retry_delays_ms: Option<Vec<i64>>,
    /// Tolerated clock difference with SAML and OIDC identity providers, in seconds.
    pub sso_clock_skew_secs: u64,
    /// The file holding the master key that seals stored secrets (see `master_key`).
    pub master_key_file: Option<PathBuf>,
    /// Lifetime of an access token, in seconds (WorkOS: 300).
    pub access_token_ttl_secs: u64,
    /// Whether users must verify their email before a password sign-in gives a session.
    pub require_email_verification: bool,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Seconds a client has to send a request head (idle keep-alive connections included).
    pub header_read_timeout_secs: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database", &redact_url(&self.database))
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .field("seed", &self.seed)
            .field("dev", &self.dev)
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_window_secs", &self.rate_limit_window_secs)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("dns_resolver", &self.dns_resolver)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("smtp_from", &self.smtp_from)
            .field("domain_verification_period_secs", &self.domain_verification_period_secs)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("webhook_retry_delays_ms", &self.webhook_retry_delays_ms)
            .field("sso_clock_skew_secs", &self.sso_clock_skew_secs)
            .field("master_key_file", &self.master_key_file)
            .finish()
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// WorkOS's published general limit: 6,000 requests per 60 seconds per API key.
pub const WORKOS_RATE_LIMIT: u64 = 6_000;
/// The window of [`WORKOS_RATE_LIMIT`].
pub const WORKOS_RATE_WINDOW_SECS: u64 = 60;

/// Clock skew tolerated with identity providers by default: one minute.
pub const DEFAULT_SSO_CLOCK_SKEW_SECS: u64 = 60;

/// Connections served at once by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Seconds a client has by default to send a request head (as hyper's own default).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 30;

/// Settings as they appear in a TOML file; every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See [`Config::addr`].
    pub addr: Option<SocketAddr>,
    /// See [`Config::database`].
    pub database: Option<String>,
    /// See [`Config::public_url`].
    pub public_url: Option<Url>,
    /// See [`Config::seed`].
    pub seed: Option<PathBuf>,
    /// See [`Config::dev`].
    pub dev: Option<bool>,
    /// See [`Config::rate_limit`].
    pub rate_limit: Option<u64>,
    /// See [`Config::rate_limit_window_secs`].
    pub rate_limit_window_secs: Option<u64>,
    /// Turns WorkOS's published limits on in `--dev`.
    pub dev_rate_limits: Option<bool>,
    /// See [`Config::max_body_bytes`].
    pub max_body_bytes: Option<usize>,
    /// See [`Config::dns_resolver`].
    pub dns_resolver: Option<SocketAddr>,
    /// See [`Config::smtp_url`].
    pub smtp_url: Option<String>,
    /// See [`Config::smtp_from`].
    pub smtp_from: Option<String>,
    /// See [`Config::domain_verification_period_secs`].
    pub domain_verification_period_secs: Option<u64>,
    /// See [`Config::webhook_allow_private`].
    pub webhook_allow_private: Option<bool>,
    /// See [`Config::webhook_retry_delays_ms`].
    pub webhook_retry_delays_ms: Option<Vec<i64>>,
    /// See [`Config::sso_clock_skew_secs`].
    pub sso_clock_skew_secs: Option<u64>,
    /// See [`Config::master_key_file`].
    pub master_key_file: Option<PathBuf>,
    /// See [`Config::access_token_ttl_secs`].
    pub access_token_ttl_secs: Option<u64>,
    /// See [`Config::require_email_verification`].
    pub require_email_verification: Option<bool>,
    /// See [`Config::max_connections`].
    pub max_connections: Option<usize>,
    /// See [`Config::header_read_timeout_secs`].
    pub header_read_timeout_secs: Option<u64>,
}

impl FileConfig {
    /// Reads a TOML file; unknown keys are errors.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
    }

    /// Lays `over` (environment and flags) on top of this file and the defaults.
    pub fn resolve(self, over: FileConfig) -> anyhow::Result<Config> {
        let dev = over.dev.or(self.dev).unwrap_or(false);
        let dev_limits = over.dev_rate_limits.or(self.dev_rate_limits).unwrap_or(false);
        let default_limit = if dev && !dev_limits { 0 } else { WORKOS_RATE_LIMIT };
        let database = over
            .database
            .or(self.database)
            .unwrap_or_else(|| if dev { "sqlite::memory:".to_owned() } else { "sqlite://./vestibule.db".to_owned() });
        let config = Config {
            addr: over.addr.or(self.addr).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4100))),
            database,
            public_url: over.public_url.or(self.public_url),
            seed: over.seed.or(self.seed),
            dev,
            rate_limit: over.rate_limit.or(self.rate_limit).unwrap_or(default_limit),
            rate_limit_window_secs: over
                .rate_limit_window_secs
                .or(self.rate_limit_window_secs)
                .unwrap_or(WORKOS_RATE_WINDOW_SECS),
            max_body_bytes: over.max_body_bytes.or(self.max_body_bytes).unwrap_or(1024 * 1024),
            dns_resolver: over.dns_resolver.or(self.dns_resolver),
            smtp_url: over.smtp_url.or(self.smtp_url),
            smtp_from: over.smtp_from.or(self.smtp_from).unwrap_or_else(|| "Vestibule <no-reply@localhost>".to_owned()),
            domain_verification_period_secs: over
                .domain_verification_period_secs
                .or(self.domain_verification_period_secs)
                .unwrap_or((vestibule_core::organizations::VERIFICATION_PERIOD_MS / 1000) as u64),
            webhook_allow_private: over.webhook_allow_private.or(self.webhook_allow_private).unwrap_or(false),
            webhook_retry_delays_ms: over.webhook_retry_delays_ms.or(self.webhook_retry_delays_ms),
            sso_clock_skew_secs: over
                .sso_clock_skew_secs
                .or(self.sso_clock_skew_secs)
                .unwrap_or(DEFAULT_SSO_CLOCK_SKEW_SECS),
            master_key_file: over.master_key_file.or(self.master_key_file),
            access_token_ttl_secs: over.access_token_ttl_secs.or(self.access_token_ttl_secs).unwrap_or(300),
            require_email_verification: over
                .require_email_verification
                .or(self.require_email_verification)
                .unwrap_or(true),
            max_connections: over.max_connections.or(self.max_connections).unwrap_or(DEFAULT_MAX_CONNECTIONS),
            header_read_timeout_secs: over
                .header_read_timeout_secs
                .or(self.header_read_timeout_secs)
                .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT_SECS),
        };
        config.validate()?;
        Ok(config)
    }
}

impl Config {
    /// A development configuration on port 0, for tests.
    pub fn for_tests(database: &str) -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: database.to_owned(),
            public_url: None,
            seed: None,
            dev: true,
            rate_limit: 0,
            rate_limit_window_secs: WORKOS_RATE_WINDOW_SECS,
            max_body_bytes: 1024 * 1024,
            dns_resolver: None,
            smtp_url: None,
            smtp_from: "Vestibule <no-reply@localhost>".to_owned(),
            domain_verification_period_secs: (vestibule_core::organizations::VERIFICATION_PERIOD_MS / 1000) as u64,
            webhook_allow_private: false,
            webhook_retry_delays_ms: None,
            sso_clock_skew_secs: DEFAULT_SSO_CLOCK_SKEW_SECS,
            master_key_file: None,
            access_token_ttl_secs: 300,
            require_email_verification: true,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
        }
    }

    /// The external base URL: `--public-url`, else the listening address.
    pub fn public_base(&self, bound: SocketAddr) -> String {
        self.public_url
            .as_ref()
            .map_or_else(|| format!("http://{bound}"), |u| u.as_str().trim_end_matches('/').to_owned())
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.database.starts_with("sqlite:")
            || self.database.starts_with("postgres://")
            || self.database.starts_with("postgresql://"))
        {
            anyhow::bail!("--database must be sqlite://PATH, sqlite::memory: or postgres://…");
        }
        if self.rate_limit_window_secs == 0 {
            anyhow::bail!("--rate-limit-window must be at least 1 second");
        }
        if self.sso_clock_skew_secs > 600 {
            anyhow::bail!("--sso-clock-skew-secs must be at most 600");
        }
        if self.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1");
        }
        if !(1..=3600).contains(&self.header_read_timeout_secs) {
            anyhow::bail!("--header-read-timeout-secs must be between 1 and 3600");
        }
        if !(30..=86_400).contains(&self.access_token_ttl_secs) {
            anyhow::bail!("--access-token-ttl-secs must be between 30 and 86400");
        }
        if self.max_body_bytes < 1024 {
            anyhow::bail!("--max-body-bytes must be at least 1024");
        }
        if let Some(u) = &self.public_url
            && !matches!(u.scheme(), "http" | "https")
        {
            anyhow::bail!("--public-url must be an http(s) URL");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_flags_over_file_over_defaults() {
        let file: FileConfig = toml::from_str("addr = \"127.0.0.1:5000\"\nrate_limit = 10\ndev = true").unwrap();
        let over = FileConfig { rate_limit: Some(20), ..Default::default() };
        let c = file.resolve(over).unwrap();
        assert_eq!(c.addr.port(), 5000);
        assert_eq!(c.rate_limit, 20);
        assert!(c.dev);
        assert_eq!(c.database, "sqlite::memory:");
    }

    #[test]
    fn dev_turns_limits_off_unless_asked() {
        let dev = FileConfig { dev: Some(true), ..Default::default() };
        assert_eq!(FileConfig::default().resolve(dev).unwrap().rate_limit, 0);
        let dev = FileConfig { dev: Some(true), dev_rate_limits: Some(true), ..Default::default() };
        assert_eq!(FileConfig::default().resolve(dev).unwrap().rate_limit, WORKOS_RATE_LIMIT);
        let prod = FileConfig::default().resolve(FileConfig::default()).unwrap();
        assert_eq!(prod.rate_limit, WORKOS_RATE_LIMIT);
        assert_eq!(prod.database, "sqlite://./vestibule.db");
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
        let bad = FileConfig { database: Some("mysql://x".into()), ..Default::default() };
        assert!(FileConfig::default().resolve(bad).is_err());
    }

    #[test]
    fn debug_hides_database_password() {
        let mut c = Config::for_tests("postgres://u:secret@localhost/db");
        c.dev = false;
        assert!(!format!("{c:?}").contains("secret"));
    }
}
