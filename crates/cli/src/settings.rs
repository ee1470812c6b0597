//! Where client commands send requests and with which key: flags, environment, profiles.
//!
//! Precedence, highest first: the flag; the profile named by `--profile`; `WORKOS_API_KEY`
//! (or `WORKOS_TOKEN`) and `WORKOS_BASE_URL`; the config file's `default_profile` (only when
//! no `--profile` is given); built-in defaults. A profile's key comes from that profile, or
//! from flags and the environment, never from another profile. The key is only ever handed
//! to the HTTP client, never printed.

use crate::UsageError;
use anyhow::Context;
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use vestibule_client::{ApiKey, Client, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, RetryPolicy};

/// Environment variable naming the client config file.
pub const CONFIG_ENV: &str = "VESTIBULE_CLIENT_CONFIG";

/// The client config file (`~/.config/vestibule/config.toml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Profile used when `--profile` is not given.
    default_profile: Option<String>,
    /// Named profiles.
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// One named target.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    base_url: Option<String>,
    api_key: Option<String>,
    /// Read the key from this environment variable instead of storing it in the file.
    api_key_env: Option<String>,
    timeout: Option<f64>,
    max_retries: Option<u32>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Profile {
    /// The profile's own key: `api_key`, or the variable `api_key_env` names. A named
    /// variable that is unset is an error naming it, never a reason to look elsewhere.
    fn key(&self) -> Result<Option<String>, UsageError> {
        if let Some(key) = &self.api_key {
            return Ok(Some(key.clone()));
        }
        match &self.api_key_env {
            None => Ok(None),
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.is_empty() => Ok(Some(key)),
                _ => Err(UsageError(format!("the profile's api_key_env names {var}, which is not set"))),
            },
        }
    }
}

fn config_path() -> Option<(PathBuf, bool)> {
    if let Some(p) = std::env::var_os(CONFIG_ENV) {
        return Some((PathBuf::from(p), true));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some((base.join("vestibule").join("config.toml"), false))
}

fn load_config() -> anyhow::Result<ConfigFile> {
    let Some((path, explicit)) = config_path() else { return Ok(ConfigFile::default()) };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            Ok(toml::from_str(&text).map_err(|e| UsageError(format!("invalid config file {}: {e}", path.display())))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(ConfigFile::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    }
}

/// Builds the API client from the global flags in `m`.
pub fn client(m: &ArgMatches) -> anyhow::Result<Client> {
    let file = load_config()?;
    let named = m.get_one::<String>("profile").cloned();
    let explicit = match &named {
        Some(name) => Some(file.profiles.get(name).ok_or_else(|| {
            UsageError(format!(
                "no profile {name:?} in the config file (set {CONFIG_ENV} or ~/.config/vestibule/config.toml)"
            ))
        })?),
        None => None,
    };
    let default = file.default_profile.as_ref().and_then(|n| file.profiles.get(n));
    let from_flag = |id: &str| {
        (m.value_source(id) == Some(ValueSource::CommandLine)).then(|| m.get_one::<String>(id).cloned()).flatten()
    };
    let from_env = |id: &str| {
        (m.value_source(id) == Some(ValueSource::EnvVariable)).then(|| m.get_one::<String>(id).cloned()).flatten()
    };

    // One profile at most supplies the target: the one `--profile` names, or else the
    // default. Its key never goes to another profile's URL, and another profile's key never
    // goes to its URL.
    let env_key = || from_env("api_key").or_else(|| std::env::var("WORKOS_TOKEN").ok().filter(|t| !t.is_empty()));
    let key = match (from_flag("api_key"), explicit) {
        (Some(flag), _) => Some(flag),
        (None, Some(named)) => match named.key()? {
            Some(key) => Some(key),
            None => env_key(),
        },
        (None, None) => match env_key() {
            Some(key) => Some(key),
            None => default.map(Profile::key).transpose()?.flatten(),
        },
    }
    .ok_or_else(|| UsageError("no API key: pass --api-key, set WORKOS_API_KEY, or configure a profile".into()))?;
    let base_url = from_flag("base_url")
        .or_else(|| explicit.and_then(|p| p.base_url.clone()))
        .or_else(|| from_env("base_url"))
        .or_else(|| if explicit.is_none() { default.and_then(|p| p.base_url.clone()) } else { None })
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let profile = explicit.or(default);
    let timeout = match m.get_one::<f64>("timeout").copied().or_else(|| profile.and_then(|p| p.timeout)) {
        Some(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
        Some(secs) => {
            return Err(UsageError(format!("--timeout must be a positive number of seconds, not {secs}")).into());
        }
        None => DEFAULT_TIMEOUT,
    };
    let max_retries = m.get_one::<u32>("max_retries").copied().or_else(|| profile.and_then(|p| p.max_retries));
    let retry = RetryPolicy {
        max_retries: max_retries.unwrap_or(RetryPolicy::default().max_retries),
        ..RetryPolicy::default()
    };
    Client::builder(base_url)
        .api_key(ApiKey::new(key))
        .timeout(timeout)
        .retry(retry)
        .build()
        .map_err(|e| UsageError(e.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profiles_and_rejects_unknown_keys() {
        let f: ConfigFile = toml::from_str(
            "default_profile = \"local\"\n[profiles.local]\nbase_url = \"http://127.0.0.1:4100\"\napi_key = \"sk_test_default\"\n",
        )
        .unwrap();
        assert_eq!(f.profiles["local"].key().unwrap().as_deref(), Some("sk_test_default"));
        assert!(!format!("{f:?}").contains("sk_test_default"));
        assert!(toml::from_str::<ConfigFile>("[profiles.x]\napikey = \"typo\"\n").is_err());
    }
}
