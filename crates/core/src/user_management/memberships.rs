//! Organization memberships: a user in an organization, with one or more roles and a
//! status (`active`, `inactive`, `pending`).

use crate::authorization::DEFAULT_ROLE;
use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::user_management::users::User;
use crate::{Vestibule, plausible, to_json};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use vestibule_ids::Kind;

/// `{"slug": "…"}` as roles appear on memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlimRole {
    /// The role's slug.
    pub slug: String,
}

/// A membership, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Membership {
    /// Always `organization_membership`.
    pub object: &'static str,
    /// `om_…`
    pub id: String,
    /// The member.
    pub user_id: String,
    /// The organization.
    pub organization_id: String,
    /// The organization's name, for display.
    pub organization_name: String,
    /// `active`, `inactive` or `pending`.
    pub status: String,
    /// The primary (first) role.
    pub role: SlimRole,
    /// Every role.
    pub roles: Vec<SlimRole>,
    /// Whether directory sync manages it.
    pub directory_managed: bool,
    /// Attributes mapped from a directory.
    pub custom_attributes: serde_json::Map<String, Value>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// The member, embedded in API responses (not in events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

impl HasId for Membership {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Membership {
    /// The slugs of all roles, in order.
    pub fn role_slugs(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.slug.clone()).collect()
    }

    fn set_roles(&mut self, slugs: Vec<String>) {
        self.role = SlimRole { slug: slugs[0].clone() };
        self.roles = slugs.into_iter().map(|slug| SlimRole { slug }).collect();
    }

    /// The event payload: the membership without the embedded user.
    fn event(&self, env: &str, name: &str, at: Timestamp) -> Event {
        let mut bare = self.clone();
        bare.user = None;
        Event::new(env, name, to_json(&bare), Some(&self.organization_id), at)
    }
}

/// Filters of `GET /user_management/organization_memberships`.
#[derive(Debug, Clone, Default)]
pub struct MembershipFilter {
    /// Memberships of this user.
    pub user_id: Option<String>,
    /// Memberships in this organization.
    pub organization_id: Option<String>,
    /// Statuses to include.
    pub statuses: Vec<String>,
}

/// Storage for memberships.
#[async_trait]
pub trait MembershipStore {
    /// Inserts a membership; one per user and organization.
    async fn insert_membership(&self, env: &str, m: &Membership, events: &[Event]) -> Result<(), StoreError>;
    /// One membership (without its user).
    async fn get_membership(&self, env: &str, id: &str) -> Result<Option<Membership>, StoreError>;
    /// Updates status and roles.
    async fn update_membership(&self, env: &str, m: &Membership, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes one; false if it did not exist.
    async fn delete_membership(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// A page of memberships (without users).
    async fn list_memberships(
        &self, env: &str, filter: &MembershipFilter, page: &PageRequest,
    ) -> Result<Page<Membership>, StoreError>;
    /// Every membership of a user.
    async fn memberships_of_user(&self, env: &str, user_id: &str) -> Result<Vec<Membership>, StoreError>;
}

const STATUSES: &[&str] = &["active", "inactive", "pending"];

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Organization Membership", id: id.to_owned() }
}

/// Reads `role_slug` or `role_slugs` (mutually exclusive); `None` when neither.
fn read_roles(f: &mut Fields<'_>, body: &Value) -> Option<Vec<String>> {
    let single = f.optional_string("role_slug", 64);
    let many = f.optional_strings("role_slugs", 20, 64);
    if body.get("role_slug").is_some_and(|v| !v.is_null()) && body.get("role_slugs").is_some_and(|v| !v.is_null()) {
        f.invalid("role_slugs", "mutually_exclusive_with_role_slug");
        return None;
    }
    let mut slugs = match (single, many) {
        (Some(s), _) => vec![s],
        (None, Some(m)) => m,
        (None, None) => return None,
    };
    slugs.dedup();
    if slugs.is_empty() || slugs.iter().any(String::is_empty) {
        f.invalid("role_slugs", "required");
        return None;
    }
    Some(slugs)
}

impl Vestibule {
    /// Fails with 422 `invalid_role` unless every slug resolves in the organization.
    pub(crate) async fn check_roles(&self, env: &str, organization_id: &str, slugs: &[String]) -> Result<()> {
        for s in slugs {
            if self.resolve_role(env, Some(organization_id), s).await?.is_none() {
                return Err(CoreError::Unusable {
                    code: "invalid_role",
                    message: format!("Role '{s}' does not exist."),
                });
            }
        }
        Ok(())
    }

    async fn with_user(&self, env: &str, mut m: Membership) -> Result<Membership> {
        m.user = self.store.get_user(env, &m.user_id).await?;
        Ok(m)
    }

    /// Builds a new membership row (used by invitations too).
    pub(crate) fn new_membership(
        user: &User, org: &crate::organizations::Organization, roles: Vec<String>, status: &str,
    ) -> Membership {
        let now = Timestamp::now();
        let mut m = Membership {
            object: "organization_membership",
            id: vestibule_ids::generate(Kind::OrganizationMembership),
            user_id: user.id.clone(),
            organization_id: org.id.clone(),
            organization_name: org.name.clone(),
            status: status.to_owned(),
            role: SlimRole { slug: String::new() },
            roles: Vec::new(),
            directory_managed: false,
            custom_attributes: Default::default(),
            created_at: now,
            updated_at: now,
            user: Some(user.clone()),
        };
        m.set_roles(roles);
        m
    }

    /// Inserts a membership with its `organization_membership.created` event.
    pub(crate) async fn insert_new_membership(&self, env: &str, m: &Membership) -> Result<()> {
        let event = m.event(env, "organization_membership.created", m.created_at);
        self.store.insert_membership(env, m, &[event]).await.map_err(|e| match e {
            StoreError::Conflict(_) => CoreError::Conflict {
                code: "organization_membership_already_exists",
                message: "The user is already a member of this organization.".into(),
            },
            e => e.into(),
        })
    }

    /// `POST /user_management/organization_memberships`.
    pub async fn create_membership(&self, env: &str, body: &Value) -> Result<Membership> {
        let mut f = Fields::new(body)?;
        let user_id = f.required_string("user_id", 100);
        let org_id = f.required_string("organization_id", 100);
        let roles = read_roles(&mut f, body);
        f.finish()?;
        let user = self.get_user(env, &user_id.unwrap_or_default()).await?;
        let org = self.get_organization(env, &org_id.unwrap_or_default()).await?;
        let roles = roles.unwrap_or_else(|| vec![DEFAULT_ROLE.to_owned()]);
        self.check_roles(env, &org.id, &roles).await?;
        let m = Self::new_membership(&user, &org, roles, "active");
        self.insert_new_membership(env, &m).await?;
        Ok(m)
    }

    /// `GET /user_management/organization_memberships/{id}`.
    pub async fn get_membership(&self, env: &str, id: &str) -> Result<Membership> {
        if !plausible(Kind::OrganizationMembership, id) {
            return Err(not_found(id));
        }
        let m = self.store.get_membership(env, id).await?.ok_or_else(|| not_found(id))?;
        self.with_user(env, m).await
    }

    async fn save_membership(&self, env: &str, mut m: Membership, event: &str) -> Result<Membership> {
        m.updated_at = Timestamp::now();
        let e = m.event(env, event, m.updated_at);
        self.store.update_membership(env, &m, &[e]).await?;
        self.with_user(env, m).await
    }

    /// `PUT /user_management/organization_memberships/{id}`: changes roles.
    pub async fn update_membership(&self, env: &str, id: &str, body: &Value) -> Result<Membership> {
        let mut f = Fields::new(body)?;
        let roles = read_roles(&mut f, body);
        f.finish()?;
        let mut m = self.get_membership(env, id).await?;
        if let Some(roles) = roles {
            self.check_roles(env, &m.organization_id, &roles).await?;
            m.set_roles(roles);
        }
        self.save_membership(env, m, "organization_membership.updated").await
    }

    /// `PUT …/deactivate`.
    pub async fn deactivate_membership(&self, env: &str, id: &str) -> Result<Membership> {
        let refusal =
            ("cannot_deactivate_pending_organization_membership", "A pending membership cannot be deactivated.");
        self.set_membership_status(env, id, "inactive", refusal).await
    }

    /// `PUT …/reactivate`.
    pub async fn reactivate_membership(&self, env: &str, id: &str) -> Result<Membership> {
        let refusal =
            ("cannot_reactivate_pending_organization_membership", "A pending membership cannot be reactivated.");
        self.set_membership_status(env, id, "active", refusal).await
    }

    /// Moves an active or inactive membership to `status` (a no-op when it is there); a
    /// pending one is refused with `refusal`, WorkOS's code and message.
    async fn set_membership_status(
        &self, env: &str, id: &str, status: &str, refusal: (&'static str, &str),
    ) -> Result<Membership> {
        let mut m = self.get_membership(env, id).await?;
        if m.status == "pending" {
            return Err(CoreError::refused(refusal.0, refusal.1.to_owned()));
        }
        if m.status == status {
            return Ok(m);
        }
        m.status = status.into();
        self.save_membership(env, m, "organization_membership.updated").await
    }

    /// `DELETE /user_management/organization_memberships/{id}`.
    pub async fn delete_membership(&self, env: &str, id: &str) -> Result<()> {
        let m = self.get_membership(env, id).await?;
        let e = m.event(env, "organization_membership.deleted", Timestamp::now());
        if self.store.delete_membership(env, id, &[e]).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// `GET /user_management/organization_memberships`: needs a user or an organization;
    /// only active memberships unless `statuses` says otherwise.
    pub async fn list_memberships(
        &self, env: &str, filter: MembershipFilter, page: PageRequest,
    ) -> Result<Page<Membership>> {
        if filter.user_id.is_none() && filter.organization_id.is_none() {
            return Err(CoreError::refused(
                "missing_user_id_or_organization_id",
                "Either user_id or organization_id is required.".into(),
            ));
        }
        let mut filter = filter;
        if let Some(bad) = filter.statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
            return Err(CoreError::field("statuses", &format!("invalid_status_{bad}")));
        }
        if filter.statuses.is_empty() {
            filter.statuses = vec!["active".into()];
        }
        let page = self.store.list_memberships(env, &filter, &page).await?;
        let ids: Vec<String> = page.data.iter().map(|m| m.user_id.clone()).collect();
        let users = self.store.get_users(env, &ids).await?;
        Ok(page.map(|mut m| {
            m.user = users.iter().find(|u| u.id == m.user_id).cloned();
            m
        }))
    }

    /// `POST /authorization/organization_memberships/{id}/check`.
    pub async fn check_permission(&self, env: &str, id: &str, body: &Value) -> Result<bool> {
        let mut f = Fields::new(body)?;
        let permission = f.required_string("permission_slug", 48);
        f.finish()?;
        let m = self.get_membership(env, id).await?;
        if m.status != "active" {
            return Ok(false);
        }
        let granted = self.effective_permissions(env, &m.organization_id, &m.role_slugs()).await?;
        Ok(granted.contains(&permission.unwrap_or_default()))
    }
}
