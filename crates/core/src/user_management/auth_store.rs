//! What signing in needs from the store: sessions and refresh tokens, one-time codes,
//! MFA factors and challenges, failure counters, and the AuthKit configuration.

use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::user_management::mail::OutboxMail;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

/// A signed-in user's session, as `GET /user_management/users/{id}/sessions` serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// Always `session`.
    pub object: &'static str,
    /// `session_…` (the access token's `sid`).
    pub id: String,
    /// The user signed in.
    pub user_id: String,
    /// The organization the session is in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// How the user signed in: `password`, `magic_code`, `sso`, ….
    pub auth_method: String,
    /// The client's address, as the application reported it.
    pub ip_address: Option<String>,
    /// The client's user agent, as the application reported it.
    pub user_agent: Option<String>,
    /// `active`, `revoked` or (served only) `expired`.
    pub status: String,
    /// When the session ends unless revoked first.
    pub expires_at: Timestamp,
    /// When it was revoked.
    pub ended_at: Option<Timestamp>,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl HasId for Session {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Session {
    /// An active session past its end is served as `expired`.
    pub fn refresh_status(mut self, now: Timestamp) -> Self {
        if self.status == "active" && self.expires_at <= now {
            self.status = "expired".into();
        }
        self
    }
}

/// What a refresh token redeemed to.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// The token was live: it is now used, its successor stored. The session, with
    /// `organization_id` as the successor carries it.
    Rotated(Box<Session>),
    /// Unknown, already used, or its session revoked or expired.
    Refused,
}

/// A one-time code or token: magic auth, email verification, password reset, email
/// change, or a pending authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthCode {
    /// `magic_auth_…`, `email_verification_…`, `password_reset_…`, `email_change_…` or
    /// `pending_auth_…`.
    pub id: String,
    /// `magic_auth`, `email_verification`, `password_reset`, `email_change` or
    /// `pending_authentication`.
    pub kind: &'static str,
    /// The user it is for (none for nobody yet).
    pub user_id: Option<String>,
    /// The address it was sent to.
    pub email: String,
    /// SHA-256 of the code (salted with the id for six-digit codes), what is compared.
    pub digest: String,
    /// The code or token itself: sealed at rest, served where WorkOS serves it.
    pub secret: String,
    /// Kind-specific state (the new email of a change, the pending sign-in's method, …).
    pub data: Value,
    /// Wrong guesses so far.
    pub attempts: i64,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was used.
    pub consumed_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A TOTP factor as stored; the secret is sealed at rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// `auth_factor_…`
    pub id: String,
    /// The user it belongs to (none for factors enrolled through the MFA API alone).
    pub user_id: Option<String>,
    /// `totp`.
    pub factor_type: String,
    /// The issuer shown in authenticator apps.
    pub issuer: String,
    /// The account name shown in authenticator apps.
    pub account: String,
    /// The base32 TOTP secret.
    pub secret: String,
    /// The last RFC 6238 time step accepted.
    pub last_step: i64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl HasId for Factor {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A challenge of a factor.
#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    /// `auth_challenge_…`
    pub id: String,
    /// The factor challenged.
    pub factor_id: String,
    /// Wrong codes so far.
    pub attempts: i64,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When a right code was given.
    pub consumed_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A device authorization (RFC 8628) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// `device_auth_…`
    pub id: String,
    /// SHA-256 of the device code.
    pub device_digest: String,
    /// SHA-256 of the normalized user code.
    pub user_code_digest: String,
    /// `pending`, `approved`, `denied` or `used`.
    pub status: String,
    /// The user who approved it.
    pub user_id: Option<String>,
    /// Seconds a device must wait between polls.
    pub interval_secs: i64,
    /// The last poll.
    pub last_poll_at: Timestamp,
    /// When the codes stop working.
    pub expires_at: Timestamp,
    /// Creation time.
    pub created_at: Timestamp,
}

/// An origin allowed to call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorsOrigin {
    /// Always `cors_origin`.
    pub object: &'static str,
    /// `cors_origin_…`
    pub id: String,
    /// `scheme://host[:port]`.
    pub origin: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl HasId for CorsOrigin {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Storage for signing in. Writes commit their events (and mail) with them.
#[async_trait]
pub trait AuthStore {
    /// Opens a session with its first refresh token, stamps the user's last sign-in.
    async fn insert_session(
        &self, env: &str, s: &Session, refresh_digest: &str, events: &[Event],
    ) -> Result<(), StoreError>;
    /// One session.
    async fn get_session(&self, env: &str, id: &str) -> Result<Option<Session>, StoreError>;
    /// A session by id, in any environment, with its environment.
    async fn find_session(&self, id: &str) -> Result<Option<(String, Session)>, StoreError>;
    /// A page of a user's sessions.
    async fn list_sessions(&self, env: &str, user_id: &str, page: &PageRequest) -> Result<Page<Session>, StoreError>;
    /// Revokes an active session (its refresh tokens die with it); false if it was not active.
    async fn revoke_session(&self, env: &str, id: &str, at: Timestamp, events: &[Event]) -> Result<bool, StoreError>;
    /// The live session of a live refresh token of `env`, without using the token.
    async fn peek_refresh_token(&self, env: &str, digest: &str, now: Timestamp) -> Result<Option<Session>, StoreError>;
    /// Redeems a live refresh token of a live session of `env`: marks it used and stores
    /// `next_digest` for the same session, carrying `organization` when given (`Some(None)`
    /// leaves the organization), the current one otherwise. A token of another
    /// environment is refused and left as it was.
    async fn rotate_refresh_token(
        &self, env: &str, digest: &str, next_digest: &str, organization: Option<Option<&str>>, now: Timestamp,
    ) -> Result<Rotation, StoreError>;

    /// Stores a code, with the mail that carries it and its events.
    async fn insert_code(
        &self, env: &str, c: &AuthCode, mail: Option<&OutboxMail>, events: &[Event],
    ) -> Result<(), StoreError>;
    /// One code by id.
    async fn get_code(&self, env: &str, kind: &str, id: &str) -> Result<Option<AuthCode>, StoreError>;
    /// A code by the digest of its (high-entropy) token, in any environment.
    async fn find_code(&self, kind: &str, digest: &str) -> Result<Option<(String, AuthCode)>, StoreError>;
    /// The newest code of `kind` sent to `email` (or for `user_id`), used or not.
    async fn latest_code(
        &self, env: &str, kind: &str, email: Option<&str>, user_id: Option<&str>,
    ) -> Result<Option<AuthCode>, StoreError>;
    /// Counts a wrong guess; returns the attempts now counted.
    async fn count_code_attempt(&self, env: &str, id: &str) -> Result<i64, StoreError>;
    /// Uses a code once: false if it was used already or has expired.
    async fn consume_code(&self, env: &str, id: &str, now: Timestamp, events: &[Event]) -> Result<bool, StoreError>;

    /// Stores a factor.
    async fn insert_factor(&self, env: &str, f: &Factor) -> Result<(), StoreError>;
    /// One factor.
    async fn get_factor(&self, env: &str, id: &str) -> Result<Option<Factor>, StoreError>;
    /// Every factor of a user, oldest first.
    async fn list_factors(&self, env: &str, user_id: &str) -> Result<Vec<Factor>, StoreError>;
    /// Deletes a factor and its challenges; false if it did not exist.
    async fn delete_factor(&self, env: &str, id: &str) -> Result<bool, StoreError>;
    /// Records `step` as the factor's last accepted time step, if it is later than the
    /// last one: false for a step already used (a replayed code).
    async fn accept_totp_step(&self, env: &str, factor_id: &str, step: i64) -> Result<bool, StoreError>;
    /// Stores a challenge.
    async fn insert_challenge(&self, env: &str, c: &Challenge) -> Result<(), StoreError>;
    /// One challenge.
    async fn get_challenge(&self, env: &str, id: &str) -> Result<Option<Challenge>, StoreError>;
    /// Counts a wrong code; returns the attempts now counted.
    async fn count_challenge_attempt(&self, env: &str, id: &str) -> Result<i64, StoreError>;
    /// Marks a challenge verified once; false if it already was or has expired.
    async fn consume_challenge(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Adds a failure to each key's window starting at `window_start`; returns the
    /// highest count among them.
    async fn count_sign_in_failure(&self, env: &str, keys: &[String], window_start: i64) -> Result<i64, StoreError>;
    /// The highest failure count among `keys` in the window starting at `window_start`.
    async fn sign_in_failures(&self, env: &str, keys: &[String], window_start: i64) -> Result<i64, StoreError>;
    /// Forgets the failures of `key` (after a successful sign-in).
    async fn clear_sign_in_failures(&self, env: &str, key: &str) -> Result<(), StoreError>;

    /// The JWT template's content and times, if one was set.
    async fn get_jwt_template(&self, env: &str) -> Result<Option<(String, Timestamp, Timestamp)>, StoreError>;
    /// Sets the JWT template.
    async fn put_jwt_template(&self, env: &str, content: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Adds a CORS origin.
    async fn insert_cors_origin(&self, env: &str, o: &CorsOrigin) -> Result<(), StoreError>;
    /// A page of CORS origins.
    async fn list_cors_origins(&self, env: &str, page: &PageRequest) -> Result<Page<CorsOrigin>, StoreError>;

    /// Stores a device authorization.
    async fn insert_device_authorization(&self, env: &str, d: &DeviceAuthorization) -> Result<(), StoreError>;
    /// A device authorization by the digest of its device code, in any environment.
    async fn find_device_authorization(
        &self, device_digest: &str,
    ) -> Result<Option<(String, DeviceAuthorization)>, StoreError>;
    /// A pending, unexpired device authorization of `env` by the digest of its user code.
    async fn pending_device_authorization(
        &self, env: &str, user_code_digest: &str, now: Timestamp,
    ) -> Result<Option<DeviceAuthorization>, StoreError>;
    /// Moves a device authorization from `from` to `to` (recording `user_id`); false if
    /// it was not in `from`.
    async fn set_device_status(
        &self, env: &str, id: &str, from: &str, to: &str, user_id: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Records a poll at `now` if the last recorded one was at least the interval ago;
    /// false if the device polled too soon.
    async fn poll_device(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Appends events that go with no other write (failed sign-ins, MFA outcomes).
    async fn record_events(&self, events: &[Event]) -> Result<(), StoreError>;

    /// Deletes what has expired: codes, challenges, device authorizations, failure
    /// windows, ended sessions.
    async fn purge_authentication(&self, now: Timestamp, failures_before: i64) -> Result<u64, StoreError>;
}
