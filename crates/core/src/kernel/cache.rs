//! In-process read caches, so that the hottest reads run no SQL.
//!
//! - [`ReadCache`] holds reads of an area per environment: serialized organization
//!   responses, audit-log schemas.
//!   Every write to that area bumps the environment's epoch *after* its transaction
//!   commits; an entry is served only while the epoch it was read under is current, so a
//!   read that raced a write can never be served later. Other instances learn of writes
//!   through the database's change feed (PostgreSQL `NOTIFY`); while that feed is down the
//!   cache is bypassed, and when it comes back everything is invalidated, since writes may
//!   have been missed.
//! - [`KeyCache`] remembers resolved API keys for [`KEY_TTL`]: a key revoked by any process
//!   (`vestibule admin api-keys revoke` writes the database directly) stops working within
//!   that time. Unknown keys are never cached.

use crate::environments::Caller;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a resolved API key is trusted without asking the database again.
pub const KEY_TTL: Duration = Duration::from_secs(1);

/// Upper bounds that keep the caches small whatever the traffic.
const MAX_ENTRIES: usize = 20_000;
const MAX_BYTES: usize = 32 << 20;
const MAX_KEYS: usize = 10_000;
const MAX_KEY_LEN: usize = 512;

/// The version of everything cached, for one environment or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    all: u64,
    env: u64,
}

/// What a cached value costs, in bytes, against the cache's bound.
pub trait Weight {
    /// Approximate size in memory.
    fn weight(&self) -> usize;
}

impl Weight for bytes::Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

/// Reads by environment and key, valid while nothing in the area was written.
pub struct ReadCache<V = bytes::Bytes> {
    enabled: AtomicBool,
    all: AtomicU64,
    epochs: RwLock<HashMap<String, u64>>,
    entries: Mutex<Entries<V>>,
}

/// Entries by environment, then key: a lookup borrows both and allocates nothing.
struct Entries<V> {
    map: HashMap<String, HashMap<String, (Stamp, V)>>,
    count: usize,
    bytes: usize,
}

impl<V: Clone + Weight> ReadCache<V> {
    /// A cache that serves entries at once (one instance, or a live change feed).
    pub fn new(enabled: bool) -> Self {
        let entries = Entries { map: HashMap::new(), count: 0, bytes: 0 };
        Self {
            enabled: AtomicBool::new(enabled),
            all: AtomicU64::new(0),
            epochs: RwLock::default(),
            entries: Mutex::new(entries),
        }
    }

    /// The current version for `env`; take it *before* reading the database.
    pub fn stamp(&self, env: &str) -> Stamp {
        let env = self.epochs.read().expect("epochs lock").get(env).copied().unwrap_or(0);
        Stamp { all: self.all.load(Ordering::Acquire), env }
    }

    /// The cached value for `key` in `env`, if it is still current.
    pub fn get(&self, env: &str, key: &str) -> Option<V> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let now = self.stamp(env);
        let entries = self.entries.lock().expect("cache lock");
        match entries.map.get(env).and_then(|keys| keys.get(key)) {
            Some((stamp, value)) if *stamp == now => Some(value.clone()),
            _ => None,
        }
    }

    /// Stores `value`, read under `stamp`; ignored when a write has happened since.
    pub fn put(&self, env: &str, key: &str, stamp: Stamp, value: V) {
        let weight = value.weight();
        if !self.enabled.load(Ordering::Acquire)
            || key.len() > MAX_KEY_LEN
            || weight > MAX_BYTES / 16
            || self.stamp(env) != stamp
        {
            return;
        }
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.count >= MAX_ENTRIES || entries.bytes + weight > MAX_BYTES {
            // Stale entries are never evicted one by one; a full cache starts over.
            entries.map.clear();
            entries.count = 0;
            entries.bytes = 0;
        }
        entries.bytes += weight;
        match entries.map.entry(env.to_owned()).or_default().insert(key.to_owned(), (stamp, value)) {
            Some((_, old)) => entries.bytes -= old.weight(),
            None => entries.count += 1,
        }
    }

    /// The cached value for `key` in `env`, or the result of `read`, cached when no write
    /// happened while it ran. `read` starts only here, after the stamp is taken.
    pub async fn get_or_read<E>(
        &self, env: &str, key: &str, read: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if let Some(value) = self.get(env, key) {
            return Ok(value);
        }
        let stamp = self.stamp(env);
        let value = read.await?;
        self.put(env, key, stamp, value.clone());
        Ok(value)
    }

    /// Something in `env` changed (called after the change committed).
    pub fn invalidate(&self, env: &str) {
        *self.epochs.write().expect("epochs lock").entry(env.to_owned()).or_insert(0) += 1;
    }

    /// Anything may have changed: changes from other instances may have been missed.
    pub fn invalidate_all(&self) {
        self.all.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.entries.lock().expect("cache lock");
        entries.map.clear();
        entries.count = 0;
        entries.bytes = 0;
    }

    /// Serves entries again (`true`, after [`Self::invalidate_all`]) or bypasses the cache.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
    }
}

/// API keys resolved recently, by the SHA-256 digest of their secret (never the secret).
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<[u8; 32], (Caller, Instant)>>,
}

impl KeyCache {
    /// The caller of `digest`, if it was resolved less than [`KEY_TTL`] ago.
    pub fn get(&self, digest: &[u8; 32]) -> Option<Caller> {
        let keys = self.keys.lock().expect("key cache lock");
        keys.get(digest).filter(|(_, at)| at.elapsed() < KEY_TTL).map(|(caller, _)| caller.clone())
    }

    /// Remembers a key that resolved to `caller` just now.
    pub fn put(&self, digest: [u8; 32], caller: Caller) {
        let mut keys = self.keys.lock().expect("key cache lock");
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, (_, at)| at.elapsed() < KEY_TTL);
        }
        if keys.len() < MAX_KEYS {
            keys.insert(digest, (caller, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> bytes::Bytes {
        bytes::Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn entries_serve_until_their_environment_changes() {
        let c: ReadCache = ReadCache::new(true);
        let stamp = c.stamp("env_a");
        c.put("env_a", "/organizations/org_1", stamp, body("v1"));
        c.put("env_b", "/organizations/org_1", c.stamp("env_b"), body("b"));
        assert_eq!(c.get("env_a", "/organizations/org_1"), Some(body("v1")));
        c.invalidate("env_a");
        assert_eq!(c.get("env_a", "/organizations/org_1"), None);
        assert_eq!(c.get("env_b", "/organizations/org_1"), Some(body("b")), "other environments keep theirs");
    }

    #[test]
    fn a_read_that_raced_a_write_is_never_stored() {
        let c: ReadCache = ReadCache::new(true);
        let before = c.stamp("env_a"); // a reader starts, reads the old row …
        c.invalidate("env_a"); // … a writer commits meanwhile …
        c.put("env_a", "k", before, body("old")); // … the reader's result is refused.
        assert_eq!(c.get("env_a", "k"), None);
    }

    #[test]
    fn a_disabled_cache_serves_nothing_and_invalidate_all_drops_everything() {
        let c: ReadCache = ReadCache::new(false);
        c.put("env_a", "k", c.stamp("env_a"), body("x"));
        assert_eq!(c.get("env_a", "k"), None);
        c.set_enabled(true);
        let stamp = c.stamp("env_a");
        c.put("env_a", "k", stamp, body("x"));
        assert_eq!(c.get("env_a", "k"), Some(body("x")));
        c.invalidate_all();
        assert_eq!(c.get("env_a", "k"), None);
        c.put("env_a", "k", stamp, body("x"));
        assert_eq!(c.get("env_a", "k"), None, "a stamp from before invalidate_all is stale");
    }

    #[tokio::test]
    async fn get_or_read_reads_once_and_never_keeps_a_read_that_raced_a_write() {
        let c: ReadCache = ReadCache::new(true);
        let first = c.get_or_read("env_a", "k", async { Ok::<_, ()>(body("v1")) }).await;
        assert_eq!(first, Ok(body("v1")));
        let again = c.get_or_read("env_a", "k", async { Ok::<_, ()>(body("not read")) }).await;
        assert_eq!(again, Ok(body("v1")), "served from the cache");
        c.invalidate("env_a");
        let raced = c.get_or_read("env_a", "k", async {
            c.invalidate("env_a"); // a write commits while the read runs
            Ok::<_, ()>(body("stale"))
        });
        assert_eq!(raced.await, Ok(body("stale")), "the caller still gets its answer");
        assert_eq!(c.get("env_a", "k"), None, "but it is not kept");
        assert_eq!(c.get_or_read("env_a", "k", async { Err::<bytes::Bytes, _>("down") }).await, Err("down"));
        assert_eq!(c.get("env_a", "k"), None, "failures are not cached");
    }

    #[test]
    fn keys_resolve_only_once_seen() {
        let k = KeyCache::default();
        let caller = Caller { environment_id: "environment_1".into(), api_key_id: "api_key_1".into() };
        k.put([1; 32], caller.clone());
        assert_eq!(k.get(&[1; 32]), Some(caller));
        assert_eq!(k.get(&[2; 32]), None);
    }
}
