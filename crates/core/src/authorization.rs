//! Roles and permissions. Environment roles apply to every organization; an
//! organization may add its own roles and override an environment role by defining one
//! with the same slug. A membership's permissions are the union of its roles'.

use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::{Fields, Patch};
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::{Vestibule, to_json};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use vestibule_ids::Kind;

/// The role every environment starts with and memberships get by default.
pub const DEFAULT_ROLE: &str = "member";

/// A role, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    /// Always `role`.
    pub object: &'static str,
    /// `role_…`
    pub id: String,
    /// Immutable key, `[a-z0-9_-]`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// `EnvironmentRole` or `OrganizationRole`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The resource type the role applies to.
    pub resource_type_slug: String,
    /// Permission slugs granted.
    pub permissions: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// The organization of an organization role.
    #[serde(skip)]
    pub organization_id: Option<String>,
    /// Position in the priority order (lower first).
    #[serde(skip)]
    pub priority: i64,
}

/// A permission, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// Always `permission`.
    pub object: &'static str,
    /// `perm_…`
    pub id: String,
    /// Key, e.g. `posts:read`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Whether WorkOS defined it (never, here).
    pub system: bool,
    /// The resource type it is scoped to.
    pub resource_type_slug: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl HasId for Permission {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Storage for roles and permissions.
#[async_trait]
pub trait AuthorizationStore {
    /// Inserts a role.
    async fn insert_role(&self, env: &str, role: &Role, events: &[Event]) -> Result<(), StoreError>;
    /// The role `slug` in exactly this scope (`None` = environment).
    async fn get_role(&self, env: &str, organization_id: Option<&str>, slug: &str) -> Result<Option<Role>, StoreError>;
    /// Environment roles, plus the organization's own roles when one is given, by priority.
    async fn list_roles(&self, env: &str, organization_id: Option<&str>) -> Result<Vec<Role>, StoreError>;
    /// Updates a role's name, description and permissions.
    async fn update_role(&self, env: &str, role: &Role, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes an organization role unless a membership of that organization holds it.
    async fn delete_role_if_unused(&self, env: &str, role: &Role, events: &[Event]) -> Result<bool, StoreError>;
    /// Every role (any scope) that grants `permission`.
    async fn list_roles_with_permission(&self, env: &str, permission: &str) -> Result<Vec<Role>, StoreError>;
    /// Inserts a permission.
    async fn insert_permission(&self, env: &str, p: &Permission, events: &[Event]) -> Result<(), StoreError>;
    /// One permission by slug.
    async fn get_permission(&self, env: &str, slug: &str) -> Result<Option<Permission>, StoreError>;
    /// Which of `slugs` exist.
    async fn existing_permissions(&self, env: &str, slugs: &[String]) -> Result<Vec<String>, StoreError>;
    /// A page of permissions.
    async fn list_permissions(&self, env: &str, page: &PageRequest) -> Result<Page<Permission>, StoreError>;
    /// Updates a permission's name and description.
    async fn update_permission(&self, env: &str, p: &Permission, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes a permission and removes it from the given roles (already edited).
    async fn delete_permission(
        &self, env: &str, slug: &str, roles: &[Role], events: &[Event],
    ) -> Result<bool, StoreError>;
}

fn valid_role_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Permission slugs: lowercase letters, digits, `-_:.*`, at most 48 characters.
pub fn valid_permission_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 48
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_:.*".contains(&b))
}

fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(56).collect()
}

fn role_not_found(slug: &str) -> CoreError {
    CoreError::NotFound { entity: "Role", id: slug.to_owned() }
}

fn permission_not_found(slug: &str) -> CoreError {
    CoreError::NotFound { entity: "Permission", id: slug.to_owned() }
}

/// Event names for a role: `role.*` for environment roles, `organization_role.*` else.
fn role_event(role: &Role, action: &str) -> String {
    let prefix = if role.organization_id.is_some() { "organization_role" } else { "role" };
    format!("{prefix}.{action}")
}

impl Role {
    fn event(&self, env: &str, action: &str, at: Timestamp) -> Event {
        let mut data = to_json(self);
        if let Some(org) = &self.organization_id {
            data["object"] = Value::String("organization_role".into());
            data["organization_id"] = Value::String(org.clone());
        }
        Event::new(env, &role_event(self, action), data, self.organization_id.as_deref(), at)
    }
}

impl Vestibule {
    /// Creates the default `member` role of a new environment.
    pub async fn create_default_role(&self, env: &str) -> Result<Role> {
        let now = Timestamp::now();
        let role = Role {
            object: "role",
            id: vestibule_ids::generate(Kind::Role),
            slug: DEFAULT_ROLE.into(),
            name: "Member".into(),
            description: Some("The default role of every membership.".into()),
            kind: "EnvironmentRole",
            resource_type_slug: "organization".into(),
            permissions: Vec::new(),
            created_at: now,
            updated_at: now,
            organization_id: None,
            priority: 0,
        };
        // Part of setting up the environment, not a change an application made: no event.
        self.store.insert_role(env, &role, &[]).await?;
        Ok(role)
    }

    async fn check_permissions_exist(&self, env: &str, slugs: &[String]) -> Result<()> {
        let existing = self.store.existing_permissions(env, slugs).await?;
        let missing: Vec<_> = slugs.iter().filter(|s| !existing.contains(s)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CoreError::Invalid(
                missing
                    .iter()
                    .map(|s| crate::FieldError::new(format!("permissions.{s}"), "unknown_permission"))
                    .collect(),
            ))
        }
    }

    /// `POST /authorization/roles` (organization `None`) and
    /// `POST /authorization/organizations/{id}/roles`.
    pub async fn create_role(&self, env: &str, organization_id: Option<&str>, body: &Value) -> Result<Role> {
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        let mut f = Fields::new(body)?;
        let name = f.required_string("name", 128);
        let slug =
            if organization_id.is_some() { f.optional_string("slug", 64) } else { f.required_string("slug", 64) };
        let description = f.optional_string("description", 500);
        let resource_type = f.optional_string("resource_type_slug", 48);
        let permissions = f.optional_strings("permissions", 500, 48);
        if let Some(s) = &slug
            && !valid_role_slug(s)
        {
            f.invalid("slug", "invalid_slug");
        }
        f.finish()?;
        let name = name.unwrap_or_default();
        let slug = slug.unwrap_or_else(|| format!("org-{}", slugify(&name)));
        if !valid_role_slug(&slug) {
            return Err(CoreError::field("name", "cannot_derive_slug"));
        }
        let permissions = permissions.unwrap_or_default();
        self.check_permissions_exist(env, &permissions).await?;
        let priority =
            self.store.list_roles(env, organization_id).await?.iter().map(|r| r.priority).max().unwrap_or(0) + 1;
        let now = Timestamp::now();
        let role = Role {
            object: "role",
            id: vestibule_ids::generate(Kind::Role),
            slug,
            name,
            description,
            kind: if organization_id.is_some() { "OrganizationRole" } else { "EnvironmentRole" },
            resource_type_slug: resource_type.unwrap_or_else(|| "organization".into()),
            permissions,
            created_at: now,
            updated_at: now,
            organization_id: organization_id.map(str::to_owned),
            priority,
        };
        let event = role.event(env, "created", now);
        self.store.insert_role(env, &role, &[event]).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::Conflict {
                code: if organization_id.is_some() { "organization_role_slug_conflict" } else { "role_slug_conflict" },
                message: format!("A role with slug '{}' already exists.", role.slug),
            },
            e => e.into(),
        })?;
        Ok(role)
    }

    /// The role `slug` as an organization sees it: its own role first, else the
    /// environment's. With no organization, only environment roles.
    pub async fn resolve_role(&self, env: &str, organization_id: Option<&str>, slug: &str) -> Result<Option<Role>> {
        if let Some(org) = organization_id
            && let Some(r) = self.store.get_role(env, Some(org), slug).await?
        {
            return Ok(Some(r));
        }
        Ok(self.store.get_role(env, None, slug).await?)
    }

    /// `GET /authorization/roles[/{slug}]` and the organization variants.
    pub async fn get_role(&self, env: &str, organization_id: Option<&str>, slug: &str) -> Result<Role> {
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        self.resolve_role(env, organization_id, slug).await?.ok_or_else(|| role_not_found(slug))
    }

    /// Roles in priority order; for an organization, its overrides replace the
    /// environment roles of the same slug.
    pub async fn list_roles(&self, env: &str, organization_id: Option<&str>) -> Result<Vec<Role>> {
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        let mut roles = self.store.list_roles(env, organization_id).await?;
        let overridden: BTreeSet<String> =
            roles.iter().filter(|r| r.organization_id.is_some()).map(|r| r.slug.clone()).collect();
        roles.retain(|r| r.organization_id.is_some() || !overridden.contains(&r.slug));
        roles.sort_by_key(|r| (r.priority, r.created_at));
        Ok(roles)
    }

    /// The role in exactly the addressed scope, for writes.
    async fn role_in_scope(&self, env: &str, organization_id: Option<&str>, slug: &str) -> Result<Role> {
        if let Some(org) = organization_id {
            self.get_organization(env, org).await?;
        }
        self.store.get_role(env, organization_id, slug).await?.ok_or_else(|| role_not_found(slug))
    }

    async fn save_role(&self, env: &str, mut role: Role) -> Result<Role> {
        role.updated_at = Timestamp::now();
        let event = role.event(env, "updated", role.updated_at);
        self.store.update_role(env, &role, &[event]).await?;
        Ok(role)
    }

    /// `PATCH …/roles/{slug}`: name and description.
    pub async fn update_role(
        &self, env: &str, organization_id: Option<&str>, slug: &str, body: &Value,
    ) -> Result<Role> {
        let mut f = Fields::new(body)?;
        let name = f.optional_string("name", 128);
        let description = f.patch_string("description", 500);
        if name.as_deref() == Some("") {
            f.invalid("name", "required");
        }
        f.finish()?;
        let mut role = self.role_in_scope(env, organization_id, slug).await?;
        if let Some(n) = name {
            role.name = n;
        }
        match description {
            Patch::Keep => {}
            Patch::Clear => role.description = None,
            Patch::Set(d) => role.description = Some(d),
        }
        self.save_role(env, role).await
    }

    /// `PUT …/roles/{slug}/permissions`: replaces the set.
    pub async fn set_role_permissions(
        &self, env: &str, organization_id: Option<&str>, slug: &str, body: &Value,
    ) -> Result<Role> {
        let mut f = Fields::new(body)?;
        let permissions = f.optional_strings("permissions", 500, 48);
        if permissions.is_none() && f.errors.is_empty() {
            f.invalid("permissions", "required");
        }
        f.finish()?;
        let mut permissions = permissions.unwrap_or_default();
        permissions.dedup();
        self.check_permissions_exist(env, &permissions).await?;
        let mut role = self.role_in_scope(env, organization_id, slug).await?;
        role.permissions = permissions;
        self.save_role(env, role).await
    }

    /// `POST …/roles/{slug}/permissions`: adds one, idempotently.
    pub async fn add_role_permission(
        &self, env: &str, organization_id: Option<&str>, slug: &str, body: &Value,
    ) -> Result<Role> {
        let mut f = Fields::new(body)?;
        let permission = f.required_string("slug", 48);
        f.finish()?;
        let permission = permission.unwrap_or_default();
        self.check_permissions_exist(env, std::slice::from_ref(&permission)).await?;
        let mut role = self.role_in_scope(env, organization_id, slug).await?;
        if role.permissions.contains(&permission) {
            return Ok(role);
        }
        role.permissions.push(permission);
        self.save_role(env, role).await
    }

    /// `DELETE …/roles/{slug}/permissions/{permission}`.
    pub async fn remove_role_permission(
        &self, env: &str, organization_id: Option<&str>, slug: &str, permission: &str,
    ) -> Result<Role> {
        let mut role = self.role_in_scope(env, organization_id, slug).await?;
        let before = role.permissions.len();
        role.permissions.retain(|p| p != permission);
        if role.permissions.len() == before {
            return Err(permission_not_found(permission));
        }
        self.save_role(env, role).await
    }

    /// `DELETE /authorization/organizations/{id}/roles/{slug}`: refused while in use.
    pub async fn delete_organization_role(&self, env: &str, organization_id: &str, slug: &str) -> Result<()> {
        let role = self.role_in_scope(env, Some(organization_id), slug).await?;
        let event = role.event(env, "deleted", Timestamp::now());
        if self.store.delete_role_if_unused(env, &role, &[event]).await? {
            Ok(())
        } else {
            Err(CoreError::Conflict {
                code: "role_has_assignments",
                message: format!("Role '{slug}' is assigned to organization memberships; reassign them first."),
            })
        }
    }

    /// `POST /authorization/permissions`.
    pub async fn create_permission(&self, env: &str, body: &Value) -> Result<Permission> {
        let mut f = Fields::new(body)?;
        let slug = f.required_string("slug", 48);
        let name = f.required_string("name", 48);
        let description = f.optional_string("description", 150);
        let resource_type = f.optional_string("resource_type_slug", 48);
        if let Some(s) = &slug
            && !valid_permission_slug(s)
        {
            f.invalid("slug", "invalid_slug");
        }
        f.finish()?;
        let now = Timestamp::now();
        let p = Permission {
            object: "permission",
            id: vestibule_ids::generate(Kind::Permission),
            slug: slug.unwrap_or_default(),
            name: name.unwrap_or_default(),
            description,
            system: false,
            resource_type_slug: resource_type.unwrap_or_else(|| "organization".into()),
            created_at: now,
            updated_at: now,
        };
        let event = Event::new(env, "permission.created", to_json(&p), None, now);
        self.store.insert_permission(env, &p, &[event]).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::Conflict {
                code: "permission_slug_conflict",
                message: format!("A permission with slug '{}' already exists.", p.slug),
            },
            e => e.into(),
        })?;
        Ok(p)
    }

    /// `GET /authorization/permissions/{slug}`.
    pub async fn get_permission(&self, env: &str, slug: &str) -> Result<Permission> {
        self.store.get_permission(env, slug).await?.ok_or_else(|| permission_not_found(slug))
    }

    /// `GET /authorization/permissions`.
    pub async fn list_permissions(&self, env: &str, page: PageRequest) -> Result<Page<Permission>> {
        Ok(self.store.list_permissions(env, &page).await?)
    }

    /// `PATCH /authorization/permissions/{slug}`.
    pub async fn update_permission(&self, env: &str, slug: &str, body: &Value) -> Result<Permission> {
        let mut f = Fields::new(body)?;
        let name = f.optional_string("name", 48);
        let description = f.patch_string("description", 150);
        f.finish()?;
        let mut p = self.get_permission(env, slug).await?;
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            p.name = n;
        }
        match description {
            Patch::Keep => {}
            Patch::Clear => p.description = None,
            Patch::Set(d) => p.description = Some(d),
        }
        p.updated_at = Timestamp::now();
        let event = Event::new(env, "permission.updated", to_json(&p), None, p.updated_at);
        self.store.update_permission(env, &p, &[event]).await?;
        Ok(p)
    }

    /// `DELETE /authorization/permissions/{slug}`: also removed from every role.
    pub async fn delete_permission(&self, env: &str, slug: &str) -> Result<()> {
        let p = self.get_permission(env, slug).await?;
        let now = Timestamp::now();
        let mut events = vec![Event::new(env, "permission.deleted", to_json(&p), None, now)];
        let mut roles = Vec::new();
        for mut r in self.store.list_roles_with_permission(env, slug).await? {
            r.permissions.retain(|x| x != slug);
            r.updated_at = now;
            events.push(r.event(env, "updated", now));
            roles.push(r);
        }
        if self.store.delete_permission(env, slug, &roles, &events).await? {
            Ok(())
        } else {
            Err(permission_not_found(slug))
        }
    }

    /// The union of the permissions of `slugs` as resolved in `organization_id`.
    pub async fn effective_permissions(
        &self, env: &str, organization_id: &str, slugs: &[String],
    ) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for s in slugs {
            if let Some(r) = self.resolve_role(env, Some(organization_id), s).await? {
                out.extend(r.permissions);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Billing Admins!"), "billing-admins");
        assert!(valid_role_slug("org-billing_admin"));
        assert!(!valid_role_slug("Admin"));
        assert!(valid_permission_slug("posts:read"));
        assert!(valid_permission_slug("documents.*"));
        assert!(!valid_permission_slug("Posts Read"));
    }
}
