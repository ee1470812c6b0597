//! What SSO needs from the store.

use super::model::*;
use crate::events::Event;
use crate::kernel::error::Result;
use crate::kernel::error::StoreError;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use async_trait::async_trait;
use serde_json::Value;

/// Storage for SSO.
#[async_trait]
pub trait SsoStore {
    /// Inserts a connection with its events.
    async fn insert_connection(&self, env: &str, c: &Connection, events: &[Event]) -> Result<(), StoreError>;
    /// One connection.
    async fn get_connection(&self, env: &str, id: &str) -> Result<Option<Connection>, StoreError>;
    /// A connection by its external key, in any environment, with its environment id.
    async fn find_connection_by_key(&self, external_key: &str) -> Result<Option<(String, Connection)>, StoreError>;
    /// Replaces a connection row, with its events.
    async fn update_connection(&self, env: &str, c: &Connection, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes a connection; false if it did not exist.
    async fn delete_connection(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// A page of connections.
    async fn list_connections(
        &self, env: &str, filter: &ConnectionFilter, page: &PageRequest,
    ) -> Result<Page<Connection>, StoreError>;
    /// Inserts a redirect URI.
    async fn insert_redirect_uri(&self, env: &str, r: &RedirectUri) -> Result<(), StoreError>;
    /// Deletes a redirect URI; if it was the default, the oldest remaining one becomes the
    /// default. False if it did not exist.
    async fn delete_redirect_uri(&self, env: &str, id: &str) -> Result<bool, StoreError>;
    /// Every redirect URI of an environment.
    async fn list_redirect_uris(&self, env: &str) -> Result<Vec<RedirectUri>, StoreError>;
    /// Records a pending authorization.
    async fn insert_sso_request(&self, env: &str, r: &SsoRequest) -> Result<(), StoreError>;
    /// A pending authorization that has not expired.
    async fn get_sso_request(&self, env: &str, id: &str, now: Timestamp) -> Result<Option<SsoRequest>, StoreError>;
    /// Consumes a pending authorization; false if it was already consumed or expired.
    async fn consume_sso_request(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError>;
    /// Remembers an assertion id until `expires_at`; false if it was seen before.
    async fn remember_assertion(
        &self, env: &str, connection_id: &str, assertion_id: &str, expires_at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Inserts or refreshes the profile of (connection, idp_id); returns its stable id.
    async fn upsert_profile(
        &self, env: &str, connection_id: &str, idp_id: &str, new_id: &str, data: &Value, now: Timestamp,
    ) -> Result<String, StoreError>;
    /// A stored profile by id.
    async fn get_profile(&self, env: &str, id: &str) -> Result<Option<Value>, StoreError>;
    /// Stores a code or access token under `digest`.
    async fn insert_sso_grant(&self, env: &str, digest: &str, g: &SsoGrant) -> Result<(), StoreError>;
    /// Removes and returns an unexpired code (single use).
    async fn take_sso_grant(
        &self, digest: &str, kind: &str, now: Timestamp,
    ) -> Result<Option<(String, SsoGrant)>, StoreError>;
    /// An unexpired grant without consuming it, with its environment.
    async fn get_sso_grant(
        &self, digest: &str, kind: &str, now: Timestamp,
    ) -> Result<Option<(String, SsoGrant)>, StoreError>;
    /// Records a login attempt.
    async fn insert_login_attempt(&self, env: &str, a: &LoginAttempt) -> Result<(), StoreError>;
    /// A page of a connection's login attempts.
    async fn list_login_attempts(
        &self, env: &str, connection_id: &str, page: &PageRequest,
    ) -> Result<Page<LoginAttempt>, StoreError>;
    /// The environment's token signing key, if it has one yet.
    async fn get_signing_key(&self, env: &str) -> Result<Option<crate::sso::jwks::SigningKey>, StoreError>;
    /// Stores the environment's signing key unless it already has one (the first stays).
    async fn insert_signing_key(&self, env: &str, key: &crate::sso::jwks::SigningKey) -> Result<(), StoreError>;
    /// Replaces the environment's signing key with `fresh`, keeping the old one's
    /// certificate as retired at `now`.
    async fn rotate_signing_key(
        &self, env: &str, fresh: &crate::sso::jwks::SigningKey, now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The retired keys of an environment retired after `since`: (kid, certificate DER as
    /// base64), newest first.
    async fn retired_signing_keys(&self, env: &str, since: Timestamp) -> Result<Vec<(String, String)>, StoreError>;
    /// Drops expired requests, grants and replay-cache entries.
    async fn purge_sso(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// Seals connection secrets and signing keys stored before the server had a master key;
    /// how many rows it sealed.
    async fn reseal_sso_secrets(&self) -> Result<u64, StoreError>;
}
