//! Prefixed, time-ordered object ids, spelled as the WorkOS API spells them:
//! `<prefix>_` followed by a 26-character uppercase Crockford base32 ULID.
//!
//! Ids are minted by one monotonic generator per process, so within a process the
//! lexical order of ids is their creation order; keyset pagination relies on that.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

/// The kinds of object that carry an id, with the prefix each one uses on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `org_…`
    Organization,
    /// `org_domain_…`
    OrganizationDomain,
    /// `event_…`
    Event,
    /// `environment_…`
    Environment,
    /// `api_key_…`
    ApiKey,
    /// `client_…`
    Client,
    /// `user_…`
    User,
    /// `om_…`
    OrganizationMembership,
    /// `invitation_…`
    Invitation,
    /// `role_…`
    Role,
    /// `perm_…`
    Permission,
    /// `conn_…`
    Connection,
    /// `directory_…`
    Directory,
    /// `directory_user_…`
    DirectoryUser,
    /// `directory_group_…`
    DirectoryGroup,
    /// `we_…`
    WebhookEndpoint,
    /// `audit_log_event_…`
    AuditLogEvent,
    /// `audit_log_export_…`
    AuditLogExport,
    /// `ala_…`: an audit-log action, named only in list cursors.
    AuditLogAction,
    /// `als_…`: an audit-log schema version, named only in list cursors.
    AuditLogSchema,
    /// `prof_…`: an SSO profile.
    Profile,
    /// `ruri_…`: an allowed redirect URI.
    RedirectUri,
    /// `login_attempt_…`: one SSO login, succeeded or failed (extension).
    LoginAttempt,
    /// `key_…`: an environment's token signing key (the JWK `kid`).
    SigningKey,
    /// `req_…`: a request id (`X-Request-ID`), never stored.
    Request,
    /// `session_…`: a signed-in user's session (the access token's `sid`).
    Session,
    /// `magic_auth_…`
    MagicAuth,
    /// `email_verification_…`
    EmailVerification,
    /// `password_reset_…`
    PasswordReset,
    /// `email_change_…`
    EmailChange,
    /// `pending_auth_…`: a sign-in waiting for its next step, named only inside the store.
    PendingAuthentication,
    /// `auth_factor_…`
    AuthenticationFactor,
    /// `auth_challenge_…`
    AuthenticationChallenge,
    /// `cors_origin_…`
    CorsOrigin,
    /// `device_auth_…`: a device authorization, named only inside the store.
    DeviceAuthorization,
}

impl Kind {
    /// The wire prefix, without the trailing underscore.
    pub const fn prefix(self) -> &'static str {
        match self {
            Kind::Organization => "org",
            Kind::OrganizationDomain => "org_domain",
            Kind::Event => "event",
            Kind::Environment => "environment",
            Kind::ApiKey => "api_key",
            Kind::Client => "client",
            Kind::User => "user",
            Kind::OrganizationMembership => "om",
            Kind::Invitation => "invitation",
            Kind::Role => "role",
            Kind::Permission => "perm",
            Kind::Connection => "conn",
            Kind::Directory => "directory",
            Kind::DirectoryUser => "directory_user",
            Kind::DirectoryGroup => "directory_group",
            Kind::WebhookEndpoint => "we",
            Kind::AuditLogEvent => "audit_log_event",
            Kind::AuditLogExport => "audit_log_export",
            Kind::AuditLogAction => "ala",
            Kind::AuditLogSchema => "als",
            Kind::Profile => "prof",
            Kind::RedirectUri => "ruri",
            Kind::LoginAttempt => "login_attempt",
            Kind::SigningKey => "key",
            Kind::Request => "req",
            Kind::Session => "session",
            Kind::MagicAuth => "magic_auth",
            Kind::EmailVerification => "email_verification",
            Kind::PasswordReset => "password_reset",
            Kind::EmailChange => "email_change",
            Kind::PendingAuthentication => "pending_auth",
            Kind::AuthenticationFactor => "auth_factor",
            Kind::AuthenticationChallenge => "auth_challenge",
            Kind::CorsOrigin => "cors_origin",
            Kind::DeviceAuthorization => "device_auth",
        }
    }
}

static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

/// Mints a bare ULID (no prefix), from the same monotonic generator: JWT `jti`s.
pub fn bare() -> String {
    next_ulid().to_string()
}

fn next_ulid() -> ulid::Ulid {
    let mut guard = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // Overflow needs 2^80 ids in one millisecond; fall back to a fresh random ULID.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::generate())
}

/// Mints a new id of `kind`, later than every id this process minted before.
pub fn generate(kind: Kind) -> String {
    let ulid = next_ulid();
    let prefix = kind.prefix();
    let mut id = String::with_capacity(prefix.len() + 1 + ulid::ULID_LEN);
    id.push_str(prefix);
    id.push('_');
    id.push_str(ulid.array_to_str(&mut [0; ulid::ULID_LEN]));
    id
}

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId;

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid id")
    }
}

impl std::error::Error for InvalidId {}

/// Checks that `s` is `<prefix>_<ULID>` for `kind`. Seeded ids may be pinned to any
/// URL-safe string after the prefix, so `strict = false` only checks prefix and charset.
pub fn parse(kind: Kind, s: &str, strict: bool) -> Result<&str, InvalidId> {
    let rest = s.strip_prefix(kind.prefix()).and_then(|r| r.strip_prefix('_')).ok_or(InvalidId)?;
    if strict {
        if rest.len() != 26 || ulid::Ulid::from_string(rest).is_err() {
            return Err(InvalidId);
        }
        // Crockford decoding accepts lowercase; ids on the wire are uppercase only.
        if rest.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err(InvalidId);
        }
    } else if rest.is_empty()
        || rest.len() > 64
        || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(InvalidId);
    }
    Ok(s)
}

/// Whether `s` looks like an id of any kind we mint: a safe cursor or lookup key.
pub fn is_plausible(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The creation time encoded in a ULID-based id, if it has one.
pub fn timestamp(s: &str) -> Option<SystemTime> {
    let tail = s.get(s.len().checked_sub(26)?..)?;
    ulid::Ulid::from_string(tail).ok().map(|u| u.datetime())
}

/// A random opaque token of `len` base62 characters from the OS CSPRNG source handed in.
pub fn base62(bytes: &[u8], len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // Rejection sampling keeps the distribution uniform: 248 = 62 * 4.
    bytes.iter().filter(|&&b| b < 248).take(len).map(|&b| ALPHABET[(b % 62) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_are_ordered() {
        let a = generate(Kind::Organization);
        let b = generate(Kind::Organization);
        assert!(a.starts_with("org_"));
        assert_eq!(a.len(), 4 + 26);
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(parse(Kind::Organization, &a, true), Ok(a.as_str()));
    }

    #[test]
    fn parse_rejects_wrong_prefix_and_garbage() {
        let d = generate(Kind::OrganizationDomain);
        assert!(parse(Kind::Organization, &d, true).is_err());
        assert!(parse(Kind::OrganizationDomain, &d, true).is_ok());
        assert!(parse(Kind::Organization, "org_123", true).is_err());
        assert!(parse(Kind::Organization, "org_01ehwnce74x7jsdv0x3sz3kjny", true).is_err());
        assert!(parse(Kind::Organization, "org_acme-1", false).is_ok());
        assert!(parse(Kind::Organization, "org_a/b", false).is_err());
        assert!(parse(Kind::Organization, "org_", false).is_err());
    }

    #[test]
    fn base62_is_uniform_alphabet() {
        let s = base62(&[0, 61, 62, 247, 248, 255, 10], 10);
        // 248 and 255 are rejected; 62 and 247 wrap to 0 and 61.
        assert_eq!(s, "0z0zA");
    }
}
