//! Invitations: an email asked to join an organization with a role. The token is
//! random, single-use and expires; accepting creates the membership (and the user, if
//! the email has none yet) in one transaction.

use crate::authorization::DEFAULT_ROLE;
use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::user_management::mail::OutboxMail;
use crate::user_management::memberships::Membership;
use crate::user_management::users::{User, parse_email};
use crate::{Vestibule, kernel::secrets, plausible, to_json};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use vestibule_ids::Kind;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An invitation, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    /// Always `invitation`.
    pub object: &'static str,
    /// `invitation_…`
    pub id: String,
    /// The invited address.
    pub email: String,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub state: String,
    /// When it was accepted.
    pub accepted_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it stops being acceptable.
    pub expires_at: Timestamp,
    /// The organization to join, if any.
    pub organization_id: Option<String>,
    /// Who invited.
    pub inviter_user_id: Option<String>,
    /// Who accepted.
    pub accepted_user_id: Option<String>,
    /// The role given on joining.
    pub role_slug: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// The secret token in the invitation link.
    pub token: String,
    /// The link sent to the invitee.
    pub accept_invitation_url: String,
}

impl HasId for Invitation {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Invitation {
    /// `pending` becomes `expired` once `expires_at` has passed.
    pub fn refresh_state(mut self, now: Timestamp) -> Self {
        if self.state == "pending" && self.expires_at <= now {
            self.state = "expired".into();
        }
        self
    }
}

/// Filters of `GET /user_management/invitations`.
#[derive(Debug, Clone, Default)]
pub struct InvitationFilter {
    /// Invitations to this organization.
    pub organization_id: Option<String>,
    /// Invitations to this email.
    pub email: Option<String>,
}

/// Storage for invitations.
#[async_trait]
pub trait InvitationStore {
    /// Inserts an invitation and queues its email.
    async fn insert_invitation(
        &self, env: &str, inv: &Invitation, mail: &OutboxMail, events: &[Event],
    ) -> Result<(), StoreError>;
    /// One invitation by id.
    async fn get_invitation(&self, env: &str, id: &str) -> Result<Option<Invitation>, StoreError>;
    /// One invitation by token.
    async fn get_invitation_by_token(&self, env: &str, token: &str) -> Result<Option<Invitation>, StoreError>;
    /// A page of invitations.
    async fn list_invitations(
        &self, env: &str, filter: &InvitationFilter, page: &PageRequest,
    ) -> Result<Page<Invitation>, StoreError>;
    /// Writes a still-pending invitation's new state (and optional mail); false when
    /// it was no longer pending.
    async fn update_pending_invitation(
        &self, env: &str, inv: &Invitation, mail: Option<&OutboxMail>, events: &[Event],
    ) -> Result<bool, StoreError>;
    /// Accepts a still-pending invitation, creating the user and membership given;
    /// false when it was no longer pending (nothing is written then).
    async fn accept_invitation(
        &self, env: &str, inv: &Invitation, user: Option<&User>, membership: Option<&Membership>, events: &[Event],
    ) -> Result<bool, StoreError>;
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Invitation", id: id.to_owned() }
}

fn not_pending(inv: &Invitation) -> CoreError {
    CoreError::refused("invite_not_pending", format!("Invitation is {}, not pending.", inv.state))
}

impl Vestibule {
    fn invitation_mail(&self, env: &str, inv: &Invitation, org_name: Option<&str>) -> OutboxMail {
        let place = org_name.map_or_else(|| "the application".to_owned(), str::to_owned);
        OutboxMail::new(
            env,
            &inv.email,
            format!("You have been invited to join {place}"),
            format!(
                "You have been invited to join {place}.\n\nAccept the invitation:\n{}\n\nThis invitation expires at {}.\n",
                inv.accept_invitation_url,
                inv.expires_at.to_iso()
            ),
        )
    }

    /// `POST /user_management/invitations`.
    pub async fn create_invitation(&self, env: &str, body: &Value) -> Result<Invitation> {
        let mut f = Fields::new(body)?;
        let email = f.required_string("email", 254).and_then(|e| {
            let parsed = parse_email(&e);
            if parsed.is_none() {
                f.invalid("email", "invalid_email");
            }
            parsed
        });
        let org_id = f.optional_string("organization_id", 100);
        let role = f.optional_string("role_slug", 64);
        let days = f.optional_int("expires_in_days");
        let inviter = f.optional_string("inviter_user_id", 100);
        let _locale = f.optional_string("locale", 16);
        f.finish()?;
        let email = email.unwrap_or_default();
        let days = days.unwrap_or(7);
        if days < 1 {
            return Err(CoreError::refused("expires_in_days_too_short", "expires_in_days must be at least 1.".into()));
        }
        if days > 30 {
            return Err(CoreError::refused("expires_in_days_too_long", "expires_in_days must be at most 30.".into()));
        }
        let org = match &org_id {
            Some(id) => Some(self.get_organization(env, id).await?),
            None => None,
        };
        if let Some(inviter) = &inviter {
            self.get_user(env, inviter).await?;
        }
        if let (Some(org), Some(role)) = (&org, &role) {
            self.check_roles(env, &org.id, std::slice::from_ref(role))
                .await
                .map_err(|_| CoreError::refused("invalid_role", format!("Role '{role}' does not exist.")))?;
        }
        let now = Timestamp::now();
        let filter = InvitationFilter { organization_id: org_id.clone(), email: Some(email.clone()) };
        let existing =
            self.store.list_invitations(env, &filter, &PageRequest { limit: 100, ..Default::default() }).await?;
        if existing.data.into_iter().map(|i| i.refresh_state(now)).any(|i| i.state == "pending") {
            return Err(CoreError::refused(
                if org.is_some() { "email_already_invited_to_organization" } else { "email_already_invited" },
                format!("{email} already has a pending invitation."),
            ));
        }
        if let (Some(org), Some(user)) = (&org, self.store.get_user_by_email(env, &email).await?) {
            let memberships = self.store.memberships_of_user(env, &user.id).await?;
            if memberships.iter().any(|m| m.organization_id == org.id) {
                return Err(CoreError::refused(
                    "user_already_organization_member",
                    format!("{email} is already a member of this organization."),
                ));
            }
        }
        let token = secrets::random_base62(32);
        let inv = Invitation {
            object: "invitation",
            id: vestibule_ids::generate(Kind::Invitation),
            email,
            state: "pending".into(),
            accepted_at: None,
            revoked_at: None,
            expires_at: now.plus_millis(days * DAY_MS),
            organization_id: org.as_ref().map(|o| o.id.clone()),
            inviter_user_id: inviter,
            accepted_user_id: None,
            role_slug: role.or_else(|| org.as_ref().map(|_| DEFAULT_ROLE.to_owned())),
            created_at: now,
            updated_at: now,
            accept_invitation_url: format!("{}/invite?invitation_token={token}", self.public_url.trim_end_matches('/')),
            token,
        };
        let mail = self.invitation_mail(env, &inv, org.as_ref().map(|o| o.name.as_str()));
        let event = Event::new(env, "invitation.created", to_json(&inv), inv.organization_id.as_deref(), now);
        self.store.insert_invitation(env, &inv, &mail, &[event]).await?;
        self.mail_queued.notify_one();
        Ok(inv)
    }

    /// `GET /user_management/invitations/{id}`.
    pub async fn get_invitation(&self, env: &str, id: &str) -> Result<Invitation> {
        if !plausible(Kind::Invitation, id) {
            return Err(not_found(id));
        }
        let inv = self.store.get_invitation(env, id).await?.ok_or_else(|| not_found(id))?;
        Ok(inv.refresh_state(Timestamp::now()))
    }

    /// `GET /user_management/invitations/by_token/{token}`.
    pub async fn get_invitation_by_token(&self, env: &str, token: &str) -> Result<Invitation> {
        if token.is_empty() || token.len() > 64 || token.contains('\0') {
            return Err(not_found(token));
        }
        let inv = self.store.get_invitation_by_token(env, token).await?.ok_or_else(|| not_found(token))?;
        Ok(inv.refresh_state(Timestamp::now()))
    }

    /// `GET /user_management/invitations`.
    pub async fn list_invitations(
        &self, env: &str, filter: InvitationFilter, page: PageRequest,
    ) -> Result<Page<Invitation>> {
        let mut filter = filter;
        filter.email = filter.email.as_deref().and_then(parse_email);
        let now = Timestamp::now();
        Ok(self.store.list_invitations(env, &filter, &page).await?.map(|i| i.refresh_state(now)))
    }

    /// `POST /user_management/invitations/{id}/revoke`.
    pub async fn revoke_invitation(&self, env: &str, id: &str) -> Result<Invitation> {
        let mut inv = self.get_invitation(env, id).await?;
        if inv.state != "pending" {
            return Err(not_pending(&inv));
        }
        let now = Timestamp::now();
        inv.state = "revoked".into();
        inv.revoked_at = Some(now);
        inv.updated_at = now;
        let event = Event::new(env, "invitation.revoked", to_json(&inv), inv.organization_id.as_deref(), now);
        if !self.store.update_pending_invitation(env, &inv, None, &[event]).await? {
            return Err(not_pending(&self.get_invitation(env, id).await?));
        }
        Ok(inv)
    }

    /// `POST /user_management/invitations/{id}/resend`: sends the email again.
    pub async fn resend_invitation(&self, env: &str, id: &str) -> Result<Invitation> {
        let mut inv = self.get_invitation(env, id).await?;
        let state = inv.state.clone();
        let refused =
            |code: &'static str| CoreError::refused(code, format!("Invitation is {state}; it cannot be resent."));
        match inv.state.as_str() {
            "pending" => {}
            "expired" => return Err(refused("invite_expired")),
            "revoked" => return Err(refused("invite_revoked")),
            _ => return Err(refused("invite_accepted")),
        }
        let org_name = match &inv.organization_id {
            Some(o) => self.store.get_organization(env, o).await?.map(|o| o.name),
            None => None,
        };
        let now = Timestamp::now();
        inv.updated_at = now;
        let mail = self.invitation_mail(env, &inv, org_name.as_deref());
        let event = Event::new(env, "invitation.resent", to_json(&inv), inv.organization_id.as_deref(), now);
        if !self.store.update_pending_invitation(env, &inv, Some(&mail), &[event]).await? {
            return Err(not_pending(&self.get_invitation(env, id).await?));
        }
        self.mail_queued.notify_one();
        Ok(inv)
    }

    /// `POST /user_management/invitations/{id}/accept`: creates the membership (and the
    /// user when the email has none). Single-use: a second accept fails.
    pub async fn accept_invitation(&self, env: &str, id: &str) -> Result<Invitation> {
        let mut inv = self.get_invitation(env, id).await?;
        if inv.state != "pending" {
            return Err(not_pending(&inv));
        }
        let now = Timestamp::now();
        // Payloads are collected first so that event ids follow the order they are listed in.
        let mut payloads: Vec<(&str, Value, Option<String>)> = Vec::new();
        let existing = self.store.get_user_by_email(env, &inv.email).await?;
        let new_user = match &existing {
            Some(_) => None,
            None => Some(User {
                object: "user",
                id: vestibule_ids::generate(Kind::User),
                first_name: None,
                last_name: None,
                profile_picture_url: None,
                email: inv.email.clone(),
                // The invitation was sent to this address; accepting proves nothing yet.
                email_verified: false,
                external_id: None,
                metadata: BTreeMap::new(),
                last_sign_in_at: None,
                locale: None,
                created_at: now,
                updated_at: now,
                password: None,
                version: 1,
            }),
        };
        let user = existing.as_ref().or(new_user.as_ref()).expect("one of them").clone();
        if let Some(u) = &new_user {
            payloads.push(("user.created", to_json(u), None));
        }
        let membership = match &inv.organization_id {
            Some(org_id) => {
                let org = self.get_organization(env, org_id).await?;
                let role = inv.role_slug.clone().unwrap_or_else(|| DEFAULT_ROLE.to_owned());
                let role = if self.resolve_role(env, Some(org_id), &role).await?.is_some() {
                    role
                } else {
                    DEFAULT_ROLE.to_owned()
                };
                let m = Self::new_membership(&user, &org, vec![role], "active");
                let mut bare = m.clone();
                bare.user = None;
                payloads.push(("organization_membership.created", to_json(&bare), Some(org_id.clone())));
                Some(m)
            }
            None => None,
        };
        inv.state = "accepted".into();
        inv.accepted_at = Some(now);
        inv.accepted_user_id = Some(user.id.clone());
        inv.updated_at = now;
        payloads.insert(0, ("invitation.accepted", to_json(&inv), inv.organization_id.clone()));
        let events: Vec<Event> =
            payloads.into_iter().map(|(name, data, org)| Event::new(env, name, data, org.as_deref(), now)).collect();
        match self.store.accept_invitation(env, &inv, new_user.as_ref(), membership.as_ref(), &events).await {
            Ok(true) => Ok(inv),
            Ok(false) => Err(not_pending(&self.get_invitation(env, id).await?)),
            Err(StoreError::Conflict(_)) => Err(CoreError::refused(
                "user_already_organization_member",
                "The user is already a member of this organization.".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
