//! Environments and their API keys. Every row in the system belongs to one environment,
//! and an API key authenticates as exactly one.

use crate::Vestibule;
use crate::kernel::error::Result;
use crate::kernel::error::StoreError;
use crate::kernel::secrets;
use crate::kernel::time::Timestamp;
use async_trait::async_trait;
use std::sync::Arc;
use vestibule_ids::Kind;

/// Whether an environment holds test or production data; it shows in key prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentKind {
    /// Keys look like `sk_test_…`.
    Test,
    /// Keys look like `sk_live_…`.
    Live,
}

impl EnvironmentKind {
    /// Stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentKind::Test => "test",
            EnvironmentKind::Live => "live",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test" => Some(EnvironmentKind::Test),
            "live" => Some(EnvironmentKind::Live),
            _ => None,
        }
    }
}

/// A tenant of the server: its own organizations, users, keys and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// `environment_…`
    pub id: String,
    /// Human name.
    pub name: String,
    /// Test or live.
    pub kind: EnvironmentKind,
    /// The public `client_…` id used by browser flows.
    pub client_id: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// An API key as stored: only its digest, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// `api_key_…`
    pub id: String,
    /// The environment it authenticates as.
    pub environment_id: String,
    /// Human name.
    pub name: String,
    /// SHA-256 of the key, hex.
    pub key_digest: String,
    /// The key with all but its prefix and last four characters hidden.
    pub obfuscated: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// A freshly created key: the only moment its plaintext exists.
#[derive(Debug)]
pub struct IssuedKey {
    /// The stored record.
    pub record: ApiKey,
    /// The plaintext key, shown once.
    pub secret: String,
}

/// Storage for environments and API keys.
#[async_trait]
pub trait EnvironmentStore {
    /// Inserts an environment.
    async fn insert_environment(&self, env: &Environment) -> Result<(), StoreError>;
    /// All environments, oldest first.
    async fn list_environments(&self) -> Result<Vec<Environment>, StoreError>;
    /// One environment by id.
    async fn get_environment(&self, id: &str) -> Result<Option<Environment>, StoreError>;
    /// Inserts an API key record.
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// The key whose digest is `digest`, revoked or not.
    async fn find_api_key(&self, digest: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Keys of one environment, or of all when `None`.
    async fn list_api_keys(&self, environment_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError>;
    /// Marks a key revoked; false when no live key has that id.
    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError>;
}

/// Who is calling: the environment an API key resolved to (cheap to clone: every
/// request carries one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The environment every query of this request is scoped to.
    pub environment_id: Arc<str>,
    /// The key used, for logs and rate limits.
    pub api_key_id: Arc<str>,
}

fn obfuscate(secret: &str) -> String {
    let cut = secret.rfind('_').map_or(0, |i| i + 1);
    let tail = &secret[secret.len().saturating_sub(4)..];
    format!("{}…{}", &secret[..cut], tail)
}

impl Vestibule {
    /// Creates an environment. `client_id` is generated unless given (dev mode pins it).
    pub async fn create_environment(
        &self, name: &str, kind: EnvironmentKind, client_id: Option<&str>,
    ) -> Result<Environment> {
        let env = Environment {
            id: vestibule_ids::generate(Kind::Environment),
            name: name.to_owned(),
            kind,
            client_id: client_id.map_or_else(|| vestibule_ids::generate(Kind::Client), str::to_owned),
            created_at: Timestamp::now(),
        };
        self.store.insert_environment(&env).await?;
        self.create_default_role(&env.id).await?;
        Ok(env)
    }

    /// Issues a new API key for `env`; `secret` pins its value (seeds and dev mode).
    pub async fn create_api_key(&self, env: &Environment, name: &str, secret: Option<&str>) -> Result<IssuedKey> {
        let secret =
            secret.map_or_else(|| format!("sk_{}_{}", env.kind.as_str(), secrets::random_base62(48)), str::to_owned);
        let record = ApiKey {
            id: vestibule_ids::generate(Kind::ApiKey),
            environment_id: env.id.clone(),
            name: name.to_owned(),
            key_digest: secrets::digest(&secret),
            obfuscated: obfuscate(&secret),
            created_at: Timestamp::now(),
            revoked_at: None,
        };
        self.store.insert_api_key(&record).await.map_err(|e| match e {
            StoreError::Conflict(_) => crate::CoreError::Conflict {
                code: "api_key_exists",
                message: "An API key with that value already exists.".into(),
            },
            e => e.into(),
        })?;
        Ok(IssuedKey { record, secret })
    }

    /// Resolves a bearer token to its caller. Unknown, malformed and revoked keys all
    /// give `None`, so a caller learns nothing about which it was.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>> {
        if !token.starts_with("sk_") || token.len() > 200 {
            return Ok(None);
        }
        let raw = secrets::raw_digest(token);
        if let Some(caller) = self.keys.get(&raw) {
            return Ok(Some(caller));
        }
        let digest = hex::encode(raw);
        let Some(key) = self.store.find_api_key(&digest).await? else { return Ok(None) };
        if key.revoked_at.is_some() || !secrets::digests_match(&key.key_digest, &digest) {
            return Ok(None);
        }
        let caller = Caller { environment_id: key.environment_id.into(), api_key_id: key.id.into() };
        self.keys.put(raw, caller.clone());
        Ok(Some(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscation_keeps_prefix_and_tail_only() {
        assert_eq!(obfuscate("sk_test_abcdefghijkl"), "sk_test_…ijkl");
        assert_eq!(obfuscate("sk_test_default"), "sk_test_…ault");
    }
}
