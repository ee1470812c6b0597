//! Directory Sync: directories (the SCIM endpoints an organization's identity provider
//! provisions into), the users and groups they hold, and the WorkOS read API over them.
//! The SCIM protocol itself is in [`crate::directory_sync::scim`].

use crate::kernel::error::{CoreError, Result};
use crate::events::Event;
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::error::StoreError;
use crate::kernel::time::Timestamp;
use crate::{plausible, kernel::secrets, to_json, Vestibule};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vestibule_ids::Kind;
use vestibule_scim::filter::get_ci;
use vestibule_scim::ENTERPRISE_SCHEMA;

/// Directory types a SCIM directory may be created with, as WorkOS spells them.
pub const SCIM_TYPES: &[&str] = &[
    "generic scim v2.0",
    "okta scim v2.0",
    "azure scim v2.0",
    "onelogin scim v2.0",
    "jump cloud scim v2.0",
    "pingfederate scim v2.0",
    "rippling scim v2.0",
    "cyberark scim v2.0",
    "gsuite directory",
];

/// A directory, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Directory {
    /// Always `directory`.
    pub object: &'static str,
    /// `directory_…`
    pub id: String,
    /// The organization whose users it provisions.
    pub organization_id: String,
    /// The short key in its SCIM endpoint's URL.
    pub external_key: String,
    /// e.g. `okta scim v2.0`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `unlinked` until the identity provider first calls, then `linked`.
    pub state: String,
    /// Display name.
    pub name: String,
    /// The organization's domain, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Extra `custom_attributes` of its users: name → SCIM attribute path (e.g.
    /// `badge` → `urn:example:ext:1.0:User:badge`), on top of the standard ones.
    /// Extension field, shown only when the directory has one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_attribute_mapping: BTreeMap<String, String>,
}

/// Most entries of a directory's custom attribute mapping.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;

impl HasId for Directory {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Directory {
    /// The payload of `dsync.*` directory events: the directory with its domains.
    pub fn event_data(&self) -> Value {
        let mut v = to_json(self);
        v["domains"] = json!([]);
        v
    }
}

/// A directory as the SCIM endpoint resolves it: with its environment and token digest.
#[derive(Debug, Clone)]
pub struct DirectoryCredentials {
    /// The directory.
    pub directory: Directory,
    /// Its environment.
    pub environment_id: String,
    /// SHA-256 of its SCIM bearer token.
    pub token_digest: String,
}

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

/// A user provisioned into a directory. `resource` is the SCIM resource in canonical
/// form (without `id` and `meta`), kept whole: it is the user's `raw_attributes`.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryUser {
    /// `directory_user_…`, also its SCIM `id`.
    pub id: String,
    /// Its directory.
    pub directory_id: String,
    /// The directory's organization.
    pub organization_id: String,
    /// The SCIM resource.
    pub resource: Value,
    /// The normalized attributes, computed with the directory's mapping when written.
    pub custom_attributes: Value,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter.
    pub version: i64,
}

/// One email of a user, as indexed for filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRow {
    /// The address.
    pub value: String,
    /// `work`, `home`, … (lowercased), if given.
    pub kind: Option<String>,
    /// Whether it is the primary one.
    pub primary: bool,
}

/// A string attribute with something in it: identity providers fill templates with empty or
/// blank values for parameters that have none (OneLogin's `"{$first} {$last}"` becomes `" "`).
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Case folding for attributes SCIM compares case-insensitively; the store indexes the
/// folded form and filters compare folded values.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

impl DirectoryUser {
    /// `userName`.
    pub fn user_name(&self) -> String {
        text(get_ci(&self.resource, "userName")).unwrap_or_default()
    }

    /// `externalId`.
    pub fn external_id(&self) -> Option<String> {
        text(get_ci(&self.resource, "externalId"))
    }

    /// `displayName`.
    pub fn display_name(&self) -> Option<String> {
        text(get_ci(&self.resource, "displayName"))
    }

    /// `name.givenName`.
    pub fn given_name(&self) -> Option<String> {
        text(get_ci(&self.resource, "name").and_then(|n| get_ci(n, "givenName")))
    }

    /// `name.familyName`.
    pub fn family_name(&self) -> Option<String> {
        text(get_ci(&self.resource, "name").and_then(|n| get_ci(n, "familyName")))
    }

    /// `active`; absent means active.
    pub fn active(&self) -> bool {
        !matches!(get_ci(&self.resource, "active"), Some(Value::Bool(false)))
    }

    /// The emails, in order.
    pub fn emails(&self) -> Vec<EmailRow> {
        let Some(Value::Array(items)) = get_ci(&self.resource, "emails") else { return Vec::new() };
        items
            .iter()
            .filter_map(|e| {
                Some(EmailRow {
                    value: text(get_ci(e, "value"))?,
                    kind: text(get_ci(e, "type")).map(|t| fold(&t)),
                    primary: matches!(get_ci(e, "primary"), Some(Value::Bool(true))),
                })
            })
            .collect()
    }

    /// The primary email, else the first, else a `userName` that looks like an address.
    pub fn email(&self) -> Option<String> {
        let emails = self.emails();
        emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| emails.first())
            .map(|e| e.value.clone())
            .or_else(|| Some(self.user_name()).filter(|u| u.contains('@')))
    }

    /// The identity provider's id for the user: its `externalId`, else the SCIM id.
    pub fn idp_id(&self) -> String {
        self.external_id().unwrap_or_else(|| self.id.clone())
    }

    /// The attributes WorkOS normalizes from the enterprise extension and the core
    /// schema, plus those `mapping` names (name → SCIM attribute path).
    pub fn map_custom_attributes(&self, mapping: &BTreeMap<String, String>) -> Value {
        let mut out = self.standard_custom_attributes();
        for (name, path) in mapping {
            let Some(p) = vestibule_scim::filter::AttrPath::parse(path) else { continue };
            let holder = if p.is_core() { Some(&self.resource) } else { p.schema.as_deref().and_then(|s| get_ci(&self.resource, s)) };
            let value = holder.and_then(|h| get_ci(h, &p.attr)).and_then(|v| match &p.sub {
                Some(sub) => get_ci(v, sub),
                None => Some(v),
            });
            if let (Some(v), Value::Object(o)) = (value, &mut out) {
                o.insert(name.clone(), v.clone());
            }
        }
        out
    }

    fn standard_custom_attributes(&self) -> Value {
        let mut out = Map::new();
        let ent = get_ci(&self.resource, ENTERPRISE_SCHEMA);
        for (from, to) in [
            ("department", "department"),
            ("division", "division"),
            ("costCenter", "cost_center"),
            ("employeeNumber", "employee_number"),
            ("organization", "organization"),
        ] {
            if let Some(v) = text(ent.and_then(|e| get_ci(e, from))) {
                out.insert(to.into(), Value::String(v));
            }
        }
        if let Some(m) = ent.and_then(|e| get_ci(e, "manager")) {
            if let Some(v) = text(get_ci(m, "value")) {
                out.insert("manager_id".into(), Value::String(v));
            }
            if let Some(v) = text(get_ci(m, "displayName")) {
                out.insert("manager_name".into(), Value::String(v));
            }
        }
        if let Some(v) = text(get_ci(&self.resource, "title")) {
            out.insert("job_title".into(), Value::String(v));
        }
        if let Some(v) = text(get_ci(&self.resource, "userName")) {
            out.insert("username".into(), Value::String(v));
        }
        Value::Object(out)
    }

    /// The `DirectoryUser` object of the API and of `dsync.user.*` events (no `groups`).
    pub fn view(&self) -> Value {
        let emails: Vec<Value> = self
            .emails()
            .into_iter()
            .map(|e| json!({"primary": e.primary, "type": e.kind, "value": e.value}))
            .collect();
        let state = if self.active() { "active" } else { "inactive" };
        let role = get_ci(&self.resource, "roles")
            .and_then(Value::as_array)
            .and_then(|r| r.iter().find(|x| matches!(get_ci(x, "primary"), Some(Value::Bool(true)))).or_else(|| r.first()))
            .and_then(|r| text(get_ci(r, "value")))
            .map(|slug| json!({"slug": slug}));
        let mut v = json!({
            "object": "directory_user",
            "id": self.id,
            "idp_id": self.idp_id(),
            "directory_id": self.directory_id,
            "organization_id": self.organization_id,
            "first_name": self.given_name(),
            "last_name": self.family_name(),
            "email": self.email(),
            "emails": emails,
            "username": Some(self.user_name()).filter(|u| !u.is_empty()),
            "job_title": text(get_ci(&self.resource, "title")),
            "state": state,
            "custom_attributes": self.custom_attributes,
            "raw_attributes": self.resource,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if let Some(r) = role {
            v["role"] = r.clone();
            v["roles"] = json!([r]);
        }
        v
    }

    /// The `DirectoryUserWithGroups` object of `GET /directory_users`.
    pub fn view_with_groups(&self, groups: &[DirectoryGroup]) -> Value {
        let mut v = self.view();
        v["groups"] = Value::Array(groups.iter().map(DirectoryGroup::view).collect());
        v
    }
}

impl HasId for DirectoryUser {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A group provisioned into a directory. `resource` is the SCIM resource without its
/// members (they are rows of their own, changed one statement at a time).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryGroup {
    /// `directory_group_…`, also its SCIM `id`.
    pub id: String,
    /// Its directory.
    pub directory_id: String,
    /// The directory's organization.
    pub organization_id: String,
    /// The SCIM resource, members excluded.
    pub resource: Value,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter.
    pub version: i64,
}

impl HasId for DirectoryGroup {
    fn id(&self) -> &str {
        &self.id
    }
}

impl DirectoryGroup {
    /// `displayName`.
    pub fn display_name(&self) -> String {
        text(get_ci(&self.resource, "displayName")).unwrap_or_default()
    }

    /// `externalId`.
    pub fn external_id(&self) -> Option<String> {
        text(get_ci(&self.resource, "externalId"))
    }

    /// The `DirectoryGroup` object of the API and of events.
    pub fn view(&self) -> Value {
        json!({
            "object": "directory_group",
            "id": self.id,
            "idp_id": self.external_id().unwrap_or_else(|| self.id.clone()),
            "directory_id": self.directory_id,
            "organization_id": self.organization_id,
            "name": self.display_name(),
            "raw_attributes": self.resource,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// Filters of `GET /directories`.
#[derive(Debug, Clone, Default)]
pub struct DirectoryFilter {
    /// Only this organization's directories.
    pub organization_id: Option<String>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Only directories with this domain.
    pub domain: Option<String>,
}

/// Filters of `GET /directory_users` and `GET /directory_groups`.
#[derive(Debug, Clone, Default)]
pub struct DirectoryMemberFilter {
    /// Only this directory's.
    pub directory_id: Option<String>,
    /// Users of this group (for users) or groups of this user (for groups).
    pub related_id: Option<String>,
    /// Users with this identity-provider id (users only).
    pub idp_id: Option<String>,
    /// Users with this primary email, compared case-insensitively (users only).
    pub email: Option<String>,
}

/// A change to one membership, with the event to record if the row really changes.
#[derive(Debug, Clone)]
pub struct MemberChange {
    /// The directory user.
    pub user_id: String,
    /// `dsync.group.user_added` or `…_removed`.
    pub event: Event,
}

/// One change to a group: its new row (when its attributes changed), the events that
/// always go with it, and membership changes applied one row at a time.
#[derive(Debug, Clone, Copy)]
pub struct GroupChange<'a> {
    /// The new row and the version it must still have.
    pub group: Option<(&'a DirectoryGroup, i64)>,
    /// Events recorded unconditionally (e.g. `dsync.group.updated`).
    pub events: &'a [Event],
    /// Members to add.
    pub add: &'a [MemberChange],
    /// Members to remove.
    pub remove: &'a [MemberChange],
}

/// How many memberships a [`DirectoryStore::change_group`] call really changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberCounts {
    /// Rows inserted.
    pub added: usize,
    /// Rows deleted.
    pub removed: usize,
}

/// One page of a SCIM query.
#[derive(Debug, Clone)]
pub struct ScimPage<T> {
    /// How many resources match the filter in all.
    pub total: u64,
    /// This page.
    pub items: Vec<T>,
}

/// Storage for directories, their users, groups and memberships. Each write commits its
/// events with it; every query is scoped by environment (and directory where it applies).
#[async_trait]
pub trait DirectoryStore {
    /// Inserts a directory.
    async fn insert_directory(&self, env: &str, d: &Directory, token_digest: &str, events: &[Event]) -> Result<(), StoreError>;
    /// One directory.
    async fn get_directory(&self, env: &str, id: &str) -> Result<Option<Directory>, StoreError>;
    /// A directory by the key in its SCIM URL, across environments.
    async fn find_directory_by_key(&self, external_key: &str) -> Result<Option<DirectoryCredentials>, StoreError>;
    /// A page of directories.
    async fn list_directories(&self, env: &str, filter: &DirectoryFilter, page: &PageRequest) -> Result<Page<Directory>, StoreError>;
    /// Replaces a directory's name and mapping; with `remap`, also recomputes every one of
    /// its users' `custom_attributes` with the new mapping, in the same transaction. False
    /// if the directory does not exist.
    async fn update_directory(&self, env: &str, d: &Directory, remap: bool) -> Result<bool, StoreError>;
    /// Replaces the token digest; false if the directory does not exist.
    async fn set_directory_token(&self, env: &str, id: &str, token_digest: &str, at: Timestamp) -> Result<bool, StoreError>;
    /// Moves the directory to `linked` and records `event`, unless it already is.
    async fn activate_directory(&self, env: &str, id: &str, at: Timestamp, event: &Event) -> Result<bool, StoreError>;
    /// Deletes a directory with its users, groups and memberships.
    async fn delete_directory(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;

    /// Inserts a user; `Conflict("directory_users.user_name")` when its userName is taken.
    async fn insert_directory_user(&self, env: &str, u: &DirectoryUser, events: &[Event]) -> Result<(), StoreError>;
    /// One user.
    async fn get_directory_user(&self, env: &str, id: &str) -> Result<Option<DirectoryUser>, StoreError>;
    /// Several users of one directory (missing ones are left out).
    async fn get_directory_users(&self, env: &str, directory_id: &str, ids: &[String]) -> Result<Vec<DirectoryUser>, StoreError>;
    /// Replaces a user if its version is still `expected_version`.
    async fn update_directory_user(&self, env: &str, u: &DirectoryUser, expected_version: i64, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes a user and its memberships.
    async fn delete_directory_user(&self, env: &str, directory_id: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// Users of a directory matching a SCIM filter, ordered by id, from 0-based `offset`.
    async fn query_directory_users(&self, env: &str, directory_id: &str, cond: &crate::directory_sync::scim::Cond, offset: u64, count: u64) -> Result<ScimPage<DirectoryUser>, StoreError>;
    /// A page of users for the WorkOS API.
    async fn list_directory_users(&self, env: &str, filter: &DirectoryMemberFilter, page: &PageRequest) -> Result<Page<DirectoryUser>, StoreError>;
    /// The groups of each of these users, as `(user_id, group)` pairs.
    async fn groups_of_users(&self, env: &str, user_ids: &[String]) -> Result<Vec<(String, DirectoryGroup)>, StoreError>;

    /// Inserts a group with its first members (events for each included).
    async fn insert_directory_group(&self, env: &str, g: &DirectoryGroup, members: &[String], events: &[Event]) -> Result<(), StoreError>;
    /// One group.
    async fn get_directory_group(&self, env: &str, id: &str) -> Result<Option<DirectoryGroup>, StoreError>;
    /// In one transaction: replaces the group row (when given, if its version is still the
    /// expected one), records `events`, then applies each membership change as a single
    /// statement, recording its event only when a row really changed.
    async fn change_group(&self, env: &str, directory_id: &str, group_id: &str, change: &GroupChange<'_>) -> Result<MemberCounts, StoreError>;
    /// Deletes a group and its memberships.
    async fn delete_directory_group(&self, env: &str, directory_id: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// Groups of a directory matching a SCIM filter, ordered by id, from 0-based `offset`.
    async fn query_directory_groups(&self, env: &str, directory_id: &str, cond: &crate::directory_sync::scim::Cond, offset: u64, count: u64) -> Result<ScimPage<DirectoryGroup>, StoreError>;
    /// A page of groups for the WorkOS API.
    async fn list_directory_groups(&self, env: &str, filter: &DirectoryMemberFilter, page: &PageRequest) -> Result<Page<DirectoryGroup>, StoreError>;
    /// The member ids of a group, in id order.
    async fn group_member_ids(&self, env: &str, group_id: &str) -> Result<Vec<String>, StoreError>;
    /// `(group_id, user_id, userName)` of every membership of these groups.
    async fn group_members(&self, env: &str, group_ids: &[String]) -> Result<Vec<(String, String, String)>, StoreError>;
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Directory", id: id.to_owned() }
}

/// The body field that sets a directory's custom attribute mapping (extension).
pub const MAPPING_FIELD: &str = "custom_attribute_mapping";

/// Reads a custom attribute mapping from `field`: an object of at most
/// [`MAX_CUSTOM_ATTRIBUTES`] names (1–64 characters) to SCIM attribute paths (at most 256
/// characters, e.g. `title`, `name.givenName`, `urn:example:ext:1.0:User:badge`). `None`
/// when the field is absent or invalid (the problem is recorded in `f`); `null` is the
/// empty mapping.
fn custom_attribute_mapping(f: &mut Fields<'_>, field: &str) -> Option<BTreeMap<String, String>> {
    let mut mapping = BTreeMap::new();
    match f.value(field) {
        None => return None,
        Some(Value::Object(m)) if m.len() <= MAX_CUSTOM_ATTRIBUTES => {
            let before = f.errors.len();
            for (name, path) in m {
                let valid = name.chars().count() <= 64
                    && !name.trim().is_empty()
                    && path.as_str().is_some_and(|p| p.len() <= 256 && vestibule_scim::filter::AttrPath::parse(p).is_some_and(|a| !a.attr.is_empty()));
                if valid {
                    mapping.insert(name.clone(), path.as_str().unwrap_or_default().to_owned());
                } else {
                    f.invalid(&format!("{field}.{name}"), "invalid");
                }
            }
            if f.errors.len() > before {
                return None;
            }
        }
        Some(Value::Object(_)) => {
            f.invalid(field, "too_many");
            return None;
        }
        Some(_) => {
            f.invalid(field, "invalid_type");
            return None;
        }
    }
    Some(mapping)
}

/// The answer to `POST /directories` and `…/scim_token`: the directory plus its SCIM
/// endpoint and the token, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryWithToken {
    /// The directory.
    #[serde(flatten)]
    pub directory: Directory,
    /// `{endpoint, bearer_token}`.
    pub scim: ScimAccess,
}

/// Where and how the identity provider reaches the directory.
#[derive(Debug, Clone, Serialize)]
pub struct ScimAccess {
    /// The SCIM base URL.
    pub endpoint: String,
    /// The bearer token.
    pub bearer_token: String,
}

/// Path prefix of SCIM endpoints; the directory's external key follows.
pub const SCIM_PATH: &str = "/scim/v2.0";

impl Vestibule {
    fn scim_access(&self, d: &Directory, token: String) -> ScimAccess {
        ScimAccess { endpoint: format!("{}{SCIM_PATH}/{}", self.public_url, d.external_key), bearer_token: token }
    }

    /// `POST /directories` (extension).
    pub async fn create_directory(&self, env: &str, body: &Value) -> Result<DirectoryWithToken> {
        let mut f = Fields::new(body)?;
        let org_id = f.required_string("organization_id", 100);
        let name = f.required_string("name", 255);
        let kind = f.optional_string("type", 64).map(|t| t.to_ascii_lowercase());
        let domain = f.optional_string("domain", 253);
        // `custom_attributes` is the older spelling of the same field.
        let field = if f.value(MAPPING_FIELD).is_some() { MAPPING_FIELD } else { "custom_attributes" };
        let mapping = custom_attribute_mapping(&mut f, field).unwrap_or_default();
        if let Some(k) = &kind
            && !SCIM_TYPES.contains(&k.as_str())
        {
            f.invalid("type", "invalid");
        }
        f.finish()?;
        let org = self.get_organization(env, &org_id.unwrap_or_default()).await?;
        let now = Timestamp::now();
        let d = Directory {
            object: "directory",
            id: vestibule_ids::generate(Kind::Directory),
            organization_id: org.id.clone(),
            external_key: secrets::random_base62(24),
            kind: kind.unwrap_or_else(|| "generic scim v2.0".into()),
            state: "unlinked".into(),
            name: name.unwrap_or_default(),
            domain: domain.or_else(|| org.domains.first().map(|d| d.domain.clone())),
            created_at: now,
            updated_at: now,
            custom_attribute_mapping: mapping,
        };
        let token = secrets::random_base62(48);
        self.store.insert_directory(env, &d, &secrets::digest(&token), &[]).await?;
        let scim = self.scim_access(&d, token);
        Ok(DirectoryWithToken { directory: d, scim })
    }

    /// `POST /directories/{id}/scim_token` (extension): the old token stops working.
    pub async fn rotate_directory_token(&self, env: &str, id: &str) -> Result<DirectoryWithToken> {
        let mut d = self.get_directory(env, id).await?;
        let token = secrets::random_base62(48);
        let now = Timestamp::now();
        if !self.store.set_directory_token(env, id, &secrets::digest(&token), now).await? {
            return Err(not_found(id));
        }
        self.scim_auth.forget(&d.external_key);
        d.updated_at = now;
        let scim = self.scim_access(&d, token);
        Ok(DirectoryWithToken { directory: d, scim })
    }

    /// `GET /directories/{id}`.
    pub async fn get_directory(&self, env: &str, id: &str) -> Result<Directory> {
        if !plausible(Kind::Directory, id) {
            return Err(not_found(id));
        }
        self.store.get_directory(env, id).await?.ok_or_else(|| not_found(id))
    }

    /// `PATCH /directories/{id}` (extension): `name` and `custom_attribute_mapping` (an
    /// object replacing the whole mapping; `null` or `{}` removes it). When the mapping
    /// changes, every user's `custom_attributes` is recomputed with it in the same
    /// transaction; no event is recorded, as the identity provider changed nothing.
    pub async fn update_directory(&self, env: &str, id: &str, body: &Value) -> Result<Directory> {
        let mut f = Fields::new(body)?;
        let name = f.optional_string("name", 255);
        if matches!(body.get("name"), Some(Value::String(s)) if s.trim().is_empty()) {
            f.invalid("name", "required");
        }
        let mapping = match body.get(MAPPING_FIELD) {
            Some(Value::Null) => Some(BTreeMap::new()),
            _ => custom_attribute_mapping(&mut f, MAPPING_FIELD),
        };
        f.finish()?;
        let mut d = self.get_directory(env, id).await?;
        let remap = mapping.as_ref().is_some_and(|m| *m != d.custom_attribute_mapping);
        let renamed = name.as_ref().is_some_and(|n| *n != d.name);
        if !remap && !renamed {
            return Ok(d);
        }
        if let Some(n) = name {
            d.name = n;
        }
        if let Some(m) = mapping {
            d.custom_attribute_mapping = m;
        }
        d.updated_at = Timestamp::now();
        if !self.store.update_directory(env, &d, remap).await? {
            return Err(not_found(id));
        }
        self.scim_auth.forget(&d.external_key);
        Ok(d)
    }

    /// `GET /directories`.
    pub async fn list_directories(&self, env: &str, filter: DirectoryFilter, page: PageRequest) -> Result<Page<Directory>> {
        Ok(self.store.list_directories(env, &filter, &page).await?)
    }

    /// `DELETE /directories/{id}`: its users and groups go with it.
    pub async fn delete_directory(&self, env: &str, id: &str) -> Result<()> {
        let mut d = self.get_directory(env, id).await?;
        let now = Timestamp::now();
        d.state = "deleting".into();
        d.updated_at = now;
        let mut data = to_json(&d);
        if let Value::Object(m) = &mut data {
            m.remove("external_key");
        }
        let event = Event::new(env, "dsync.deleted", data, Some(&d.organization_id), now);
        let deleted = self.store.delete_directory(env, id, &[event]).await?;
        self.scim_auth.forget(&d.external_key);
        if deleted { Ok(()) } else { Err(not_found(id)) }
    }

    /// Resolves a SCIM request's directory from the key in its URL and its bearer token;
    /// `None` for an unknown key or a token of anything else. The first authenticated
    /// request links the directory (`dsync.activated`, once).
    pub async fn authenticate_scim(&self, external_key: &str, token: &str) -> Result<Option<DirectoryCredentials>> {
        if external_key.is_empty() || external_key.len() > 64 || token.is_empty() || token.len() > 200 {
            return Ok(None);
        }
        let digest = secrets::digest(token);
        if let Some(creds) = self.scim_auth.get(external_key, &digest, Instant::now()) {
            return Ok(Some(creds));
        }
        let generation = self.scim_auth.generation();
        let Some(mut creds) = self.store.find_directory_by_key(external_key).await? else { return Ok(None) };
        if !secrets::digests_match(&creds.token_digest, &digest) {
            return Ok(None);
        }
        if creds.directory.state != "linked" {
            let now = Timestamp::now();
            let mut d = creds.directory.clone();
            d.state = "linked".into();
            d.updated_at = now;
            let mut data = d.event_data();
            data["state"] = json!("active");
            let event = Event::new(&creds.environment_id, "dsync.activated", data, Some(&d.organization_id), now);
            self.store.activate_directory(&creds.environment_id, &d.id, now, &event).await?;
            creds.directory = d;
        }
        self.scim_auth.put(&creds, generation, Instant::now());
        Ok(Some(creds))
    }

    /// `GET /directory_users`.
    pub async fn list_directory_users(&self, env: &str, filter: DirectoryMemberFilter, page: PageRequest) -> Result<Page<Value>> {
        let users = self.store.list_directory_users(env, &filter, &page).await?;
        let ids: Vec<String> = users.data.iter().map(|u| u.id.clone()).collect();
        let groups = self.store.groups_of_users(env, &ids).await?;
        Ok(users.map(|u| {
            let mine: Vec<DirectoryGroup> = groups.iter().filter(|(uid, _)| *uid == u.id).map(|(_, g)| g.clone()).collect();
            u.view_with_groups(&mine)
        }))
    }

    /// `GET /directory_users/{id}`.
    pub async fn get_directory_user(&self, env: &str, id: &str) -> Result<Value> {
        let missing = || CoreError::NotFound { entity: "Directory User", id: id.to_owned() };
        if !plausible(Kind::DirectoryUser, id) {
            return Err(missing());
        }
        let u = self.store.get_directory_user(env, id).await?.ok_or_else(missing)?;
        let groups: Vec<DirectoryGroup> = self.store.groups_of_users(env, std::slice::from_ref(&u.id)).await?.into_iter().map(|(_, g)| g).collect();
        Ok(u.view_with_groups(&groups))
    }

    /// `GET /directory_groups`.
    pub async fn list_directory_groups(&self, env: &str, filter: DirectoryMemberFilter, page: PageRequest) -> Result<Page<Value>> {
        Ok(self.store.list_directory_groups(env, &filter, &page).await?.map(|g| g.view()))
    }

    /// `GET /directory_groups/{id}`.
    pub async fn get_directory_group(&self, env: &str, id: &str) -> Result<Value> {
        let missing = || CoreError::NotFound { entity: "Directory Group", id: id.to_owned() };
        if !plausible(Kind::DirectoryGroup, id) {
            return Err(missing());
        }
        Ok(self.store.get_directory_group(env, id).await?.ok_or_else(missing)?.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
