//! The Directory Sync objects: directories, their users and groups (kept as the SCIM
//! resources the identity provider sent, with the fields WorkOS derives from them), and
//! the filters and changes the store works with.

use crate::events::Event;
use crate::kernel::pagination::HasId;
use crate::kernel::time::Timestamp;
use crate::to_json;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use vestibule_scim::ENTERPRISE_SCHEMA;
use vestibule_scim::filter::get_ci;

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
            let holder = if p.is_core() {
                Some(&self.resource)
            } else {
                p.schema.as_deref().and_then(|s| get_ci(&self.resource, s))
            };
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
            .and_then(|r| {
                r.iter().find(|x| matches!(get_ci(x, "primary"), Some(Value::Bool(true)))).or_else(|| r.first())
            })
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
