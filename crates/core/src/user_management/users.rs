//! Users of the application: who exists in an environment, with a password (argon2id)
//! or an imported hash, unique by normalized email.

use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::{Fields, Patch};
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::user_management::passwords::{self, StoredPassword};
use crate::{Vestibule, plausible, to_json};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use vestibule_ids::Kind;

/// A user, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Always `user`.
    pub object: &'static str,
    /// `user_…`
    pub id: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Avatar URL.
    pub profile_picture_url: Option<String>,
    /// Lowercased, trimmed email; unique per environment.
    pub email: String,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// The application's own id for the user.
    pub external_id: Option<String>,
    /// Key/value metadata.
    pub metadata: BTreeMap<String, String>,
    /// Last successful sign-in.
    pub last_sign_in_at: Option<Timestamp>,
    /// Preferred locale.
    pub locale: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// The stored password, never served.
    #[serde(skip)]
    pub password: Option<StoredPassword>,
    /// Optimistic-concurrency counter.
    #[serde(skip)]
    pub version: i64,
}

impl HasId for User {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Filters of `GET /user_management/users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Exact (normalized) email.
    pub email: Option<String>,
    /// Members of this organization.
    pub organization_id: Option<String>,
}

/// Storage for users. Writes commit their events with them.
#[async_trait]
pub trait UserStore {
    /// Inserts a user.
    async fn insert_user(&self, env: &str, user: &User, events: &[Event]) -> Result<(), StoreError>;
    /// One user by id.
    async fn get_user(&self, env: &str, id: &str) -> Result<Option<User>, StoreError>;
    /// Several users by id, in no particular order.
    async fn get_users(&self, env: &str, ids: &[String]) -> Result<Vec<User>, StoreError>;
    /// One user by normalized email.
    async fn get_user_by_email(&self, env: &str, email: &str) -> Result<Option<User>, StoreError>;
    /// One user by external id.
    async fn get_user_by_external_id(&self, env: &str, external_id: &str) -> Result<Option<User>, StoreError>;
    /// Replaces a user row if its version is still `expected_version`.
    async fn update_user(
        &self, env: &str, user: &User, expected_version: i64, events: &[Event],
    ) -> Result<(), StoreError>;
    /// Deletes a user and its memberships; false if it did not exist.
    async fn delete_user(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// A page of users.
    async fn list_users(&self, env: &str, filter: &UserFilter, page: &PageRequest) -> Result<Page<User>, StoreError>;
}

/// Normalizes and checks an email address: trimmed, lowercased, one `@`, a sane local
/// part and a valid domain.
pub fn parse_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254 {
        return None;
    }
    let (local, domain) = e.rsplit_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    (local_ok && crate::organizations::parse_domain(domain).as_deref() == Some(domain)).then_some(e)
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "User", id: id.to_owned() }
}

pub(crate) fn map_user_conflict(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict("users.email") => CoreError::Refused {
            code: "user_creation_error",
            message: "A user with this email already exists.".into(),
            errors: vec![crate::FieldError::explained("email", "email_not_available", "This email is already in use.")],
        },
        StoreError::Conflict("users.external_id") => {
            CoreError::refused("external_id_already_used", "A user with this external_id already exists.".into())
        }
        e => e.into(),
    }
}

/// Reads `password` or `password_hash` + `password_hash_type` (mutually exclusive).
async fn read_password(f: &mut Fields<'_>, body: &Value) -> Result<Option<StoredPassword>> {
    // Generous here so that a long password gets the strength error, not a field error.
    let password = f.optional_string_raw("password", 64 * 1024);
    let hash = f.optional_string("password_hash", 1024);
    let kind = f.optional_string("password_hash_type", 32);
    let has = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
    if has("password") && (has("password_hash") || has("password_hash_type")) {
        return Err(CoreError::refused(
            "password_and_password_hash_provided",
            "Provide either password or password_hash, not both.".into(),
        ));
    }
    match (password, hash, kind) {
        (Some(p), _, _) => {
            passwords::check_strength(&p)?;
            Ok(Some(passwords::hash(p).await?))
        }
        (None, Some(h), Some(k)) => Ok(Some(passwords::import(&h, &k)?)),
        (None, Some(_), None) | (None, None, Some(_)) => {
            Err(CoreError::refused("invalid_password_hash", "password_hash and password_hash_type go together.".into()))
        }
        (None, None, None) => Ok(None),
    }
}

impl Vestibule {
    /// `POST /user_management/users`.
    pub async fn create_user(&self, env: &str, body: &Value) -> Result<User> {
        let user = self.create_user_unsaved(body).await?;
        self.insert_new_user(env, &user).await?;
        Ok(user)
    }

    /// Validates a create body and builds the user (hashing its password), unsaved.
    pub(crate) async fn create_user_unsaved(&self, body: &Value) -> Result<User> {
        let mut f = Fields::new(body)?;
        let email = f.required_string("email", 254);
        let email = email.and_then(|e| {
            let parsed = parse_email(&e);
            if parsed.is_none() {
                f.invalid("email", "invalid_email");
            }
            parsed
        });
        let first_name = f.optional_string("first_name", 255);
        let last_name = f.optional_string("last_name", 255);
        let email_verified = f.optional_bool("email_verified");
        let metadata = f.metadata("metadata");
        let external_id = f.optional_string("external_id", 128);
        let pending = f.errors.len();
        let password = if pending == 0 { read_password(&mut f, body).await? } else { None };
        f.finish()?;
        let now = Timestamp::now();
        let user = User {
            object: "user",
            id: vestibule_ids::generate(Kind::User),
            first_name,
            last_name,
            profile_picture_url: None,
            email: email.unwrap_or_default(),
            email_verified: email_verified.unwrap_or(false),
            external_id: external_id.filter(|s| !s.is_empty()),
            metadata: if let Patch::Set(m) = metadata { m } else { BTreeMap::new() },
            last_sign_in_at: None,
            locale: None,
            created_at: now,
            updated_at: now,
            password,
            version: 1,
        };
        Ok(user)
    }

    /// Inserts a fully built user with its `user.created` event.
    pub(crate) async fn insert_new_user(&self, env: &str, user: &User) -> Result<()> {
        let event = Event::new(env, "user.created", to_json(user), None, user.created_at);
        self.store.insert_user(env, user, &[event]).await.map_err(map_user_conflict)
    }

    /// `GET /user_management/users/{id}`.
    pub async fn get_user(&self, env: &str, id: &str) -> Result<User> {
        if !plausible(Kind::User, id) {
            return Err(not_found(id));
        }
        self.store.get_user(env, id).await?.ok_or_else(|| not_found(id))
    }

    /// `GET /user_management/users/external_id/{external_id}`.
    pub async fn get_user_by_external_id(&self, env: &str, external_id: &str) -> Result<User> {
        // No stored key holds a NUL character (the edge refuses them): it names nothing.
        if external_id.contains('\0') {
            return Err(not_found(external_id));
        }
        self.store.get_user_by_external_id(env, external_id).await?.ok_or_else(|| not_found(external_id))
    }

    /// `PUT /user_management/users/{id}`.
    pub async fn update_user(&self, env: &str, id: &str, body: &Value) -> Result<User> {
        let mut f = Fields::new(body)?;
        let email = f.optional_string("email", 254).and_then(|e| {
            let parsed = parse_email(&e);
            if parsed.is_none() {
                f.invalid("email", "invalid_email");
            }
            parsed
        });
        let first_name = f.patch_string("first_name", 255);
        let last_name = f.patch_string("last_name", 255);
        let email_verified = f.optional_bool("email_verified");
        let metadata = f.metadata("metadata");
        let external_id = f.patch_string("external_id", 128);
        let locale = f.patch_string("locale", 35);
        let password = if f.errors.is_empty() { read_password(&mut f, body).await? } else { None };
        f.finish()?;
        for _ in 0..5 {
            let current = self.get_user(env, id).await?;
            let mut user = current.clone();
            if let Some(e) = &email
                && *e != user.email
            {
                user.email = e.clone();
                user.email_verified = false;
            }
            apply(&mut user.first_name, &first_name);
            apply(&mut user.last_name, &last_name);
            apply(&mut user.external_id, &external_id);
            apply(&mut user.locale, &locale);
            if let Some(v) = email_verified {
                user.email_verified = v;
            }
            match &metadata {
                Patch::Keep => {}
                Patch::Clear => user.metadata.clear(),
                Patch::Set(m) => user.metadata = m.clone(),
            }
            if let Some(p) = &password {
                user.password = Some(p.clone());
            }
            user.updated_at = Timestamp::now();
            user.version = current.version + 1;
            let event = Event::new(env, "user.updated", to_json(&user), None, user.updated_at);
            match self.store.update_user(env, &user, current.version, &[event]).await {
                Ok(()) => return Ok(user),
                Err(StoreError::Contended) => continue,
                Err(StoreError::Conflict("users.email")) => {
                    return Err(CoreError::refused(
                        "email_not_available",
                        "Another user already has this email.".into(),
                    ));
                }
                Err(e) => return Err(map_user_conflict(e)),
            }
        }
        Err(CoreError::Conflict { code: "concurrent_update", message: "The user changed concurrently; retry.".into() })
    }

    /// `DELETE /user_management/users/{id}`: the user and its memberships.
    pub async fn delete_user(&self, env: &str, id: &str) -> Result<()> {
        let user = self.get_user(env, id).await?;
        let now = Timestamp::now();
        let mut events = vec![Event::new(env, "user.deleted", to_json(&user), None, now)];
        for m in self.store.memberships_of_user(env, id).await? {
            events.push(Event::new(env, "organization_membership.deleted", to_json(&m), Some(&m.organization_id), now));
        }
        if self.store.delete_user(env, id, &events).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// `GET /user_management/users`.
    pub async fn list_users(&self, env: &str, filter: UserFilter, page: PageRequest) -> Result<Page<User>> {
        let mut filter = filter;
        if let Some(e) = &filter.email {
            match parse_email(e) {
                Some(e) => filter.email = Some(e),
                None => return Ok(Page { data: Vec::new(), before: None, after: None }),
            }
        }
        Ok(self.store.list_users(env, &filter, &page).await?)
    }
}

fn apply(slot: &mut Option<String>, patch: &Patch<String>) {
    match patch {
        Patch::Keep => {}
        Patch::Clear => *slot = None,
        Patch::Set(v) => *slot = Some(v.clone()).filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(parse_email(" Ada@Example.COM ").as_deref(), Some("ada@example.com"));
        for bad in
            ["ada", "@example.com", "ada@", "ada@localhost", "a..b@example.com", "ada @example.com", "<x>@example.com"]
        {
            assert_eq!(parse_email(bad), None, "{bad}");
        }
    }
}
