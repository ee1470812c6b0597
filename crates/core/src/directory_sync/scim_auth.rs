//! SCIM bearer tokens resolved to their directory, trusted for a second: an identity
//! provider's burst costs one lookup, and a rotation or deletion by this process applies
//! at once.

use super::model::*;
use crate::kernel::secrets;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a SCIM bearer token, once resolved to its directory, is trusted without asking
/// the database again. A token rotated or a directory deleted by this process stops working
/// at once; by another process (or instance) within this time.
pub const SCIM_AUTH_TTL: Duration = Duration::from_secs(1);

const MAX_SCIM_AUTH_ENTRIES: usize = 10_000;

/// Directories resolved recently by the key in their SCIM URL, with the digest of the token
/// that opened them, so that a busy SCIM client costs no lookup per request. Only linked
/// directories reached with their valid token are remembered; a wrong token always goes to
/// the database.
#[derive(Default)]
pub struct ScimAuthCache {
    entries: Mutex<HashMap<String, (DirectoryCredentials, Instant)>>,
    generation: AtomicU64,
}

impl ScimAuthCache {
    /// The generation to pass to [`Self::put`]; take it *before* reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The directory of `external_key` if it was resolved less than [`SCIM_AUTH_TTL`]
    /// before `now` with a token whose digest is `digest`.
    pub fn get(&self, external_key: &str, digest: &str, now: Instant) -> Option<DirectoryCredentials> {
        let entries = self.entries.lock().expect("scim auth cache lock");
        let (creds, at) = entries.get(external_key)?;
        let fresh = now.checked_duration_since(*at).is_some_and(|age| age < SCIM_AUTH_TTL);
        (fresh && secrets::digests_match(&creds.token_digest, digest)).then(|| creds.clone())
    }

    /// Remembers `creds`, read from the database under `generation`; ignored when
    /// something was forgotten since (the read may predate a rotation).
    pub fn put(&self, creds: &DirectoryCredentials, generation: u64, now: Instant) {
        let mut entries = self.entries.lock().expect("scim auth cache lock");
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_SCIM_AUTH_ENTRIES {
            entries.retain(|_, (_, at)| now.checked_duration_since(*at).is_some_and(|age| age < SCIM_AUTH_TTL));
        }
        if entries.len() < MAX_SCIM_AUTH_ENTRIES {
            entries.insert(creds.directory.external_key.clone(), (creds.clone(), now));
        }
    }

    /// Forgets the directory of `external_key` (its token, state or mapping changed).
    pub fn forget(&self, external_key: &str) {
        let mut entries = self.entries.lock().expect("scim auth cache lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(external_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::time::Timestamp;
    use std::collections::BTreeMap;

    fn creds(key: &str, token: &str) -> DirectoryCredentials {
        let now = Timestamp::now();
        DirectoryCredentials {
            directory: Directory {
                object: "directory",
                id: "directory_1".into(),
                organization_id: "org_1".into(),
                external_key: key.into(),
                kind: "generic scim v2.0".into(),
                state: "linked".into(),
                name: "D".into(),
                domain: None,
                created_at: now,
                updated_at: now,
                custom_attribute_mapping: BTreeMap::new(),
            },
            environment_id: "environment_1".into(),
            token_digest: secrets::digest(token),
        }
    }

    #[test]
    fn scim_tokens_are_trusted_for_a_second_and_only_with_their_digest() {
        let c = ScimAuthCache::default();
        let t0 = Instant::now();
        c.put(&creds("k1", "secret"), c.generation(), t0);
        assert!(c.get("k1", &secrets::digest("secret"), t0).is_some());
        assert!(c.get("k1", &secrets::digest("other"), t0).is_none(), "another token is never served from memory");
        assert!(c.get("k2", &secrets::digest("secret"), t0).is_none());
        assert!(c.get("k1", &secrets::digest("secret"), t0 + SCIM_AUTH_TTL - Duration::from_millis(1)).is_some());
        assert!(c.get("k1", &secrets::digest("secret"), t0 + SCIM_AUTH_TTL).is_none(), "expired after the TTL");
        c.forget("k1");
        assert!(c.get("k1", &secrets::digest("secret"), t0).is_none(), "forgotten at once");
    }

    #[test]
    fn a_lookup_that_raced_a_rotation_is_never_remembered() {
        let c = ScimAuthCache::default();
        let before = c.generation(); // a request reads the directory with its old digest …
        c.forget("k1"); // … the token is rotated meanwhile …
        c.put(&creds("k1", "old"), before, Instant::now()); // … the stale read is refused.
        assert!(c.get("k1", &secrets::digest("old"), Instant::now()).is_none());
    }
}
