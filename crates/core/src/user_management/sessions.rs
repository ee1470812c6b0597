//! Sessions and their tokens. A successful sign-in opens a session in the store and
//! answers with an access token (an RS256 JWT signed with the environment's key, verified
//! by the SDKs against `GET /sso/jwks/{client_id}`) and an opaque refresh token, stored as
//! a digest and good for one use: each refresh returns its successor, and a revoked or
//! expired session refuses them all.

use super::auth_store::{Rotation, Session};
use super::users::User;
use crate::environments::Environment;
use crate::events::Event;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::secrets;
use crate::kernel::time::Timestamp;
use crate::{Vestibule, plausible, to_json};
use serde_json::{Map, Value, json};
use vestibule_ids::Kind;

/// Length of a refresh token, in base62 characters (~178 bits).
pub const REFRESH_TOKEN_LEN: usize = 30;

/// How a user proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Email and password.
    Password,
    /// A magic-auth code.
    MagicAuth,
    /// An SSO connection.
    Sso,
    /// A device code approved by a signed-in user elsewhere.
    DeviceCode,
}

impl Method {
    /// The authenticate response's `authentication_method`, where WorkOS names one.
    pub fn response_name(self) -> Option<&'static str> {
        match self {
            Method::Password => Some("Password"),
            Method::MagicAuth => Some("MagicAuth"),
            Method::Sso => Some("SSO"),
            Method::DeviceCode => None,
        }
    }

    /// The session's `auth_method`.
    pub fn session_name(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::MagicAuth => "magic_code",
            Method::Sso => "sso",
            Method::DeviceCode => "unknown",
        }
    }

    /// The method a session or pending token names.
    pub fn from_session_name(s: &str) -> Option<Self> {
        match s {
            "password" => Some(Method::Password),
            "magic_code" => Some(Method::MagicAuth),
            "sso" => Some(Method::Sso),
            "unknown" => Some(Method::DeviceCode),
            _ => None,
        }
    }

    /// The `authentication.*_succeeded` event of this method, where WorkOS has one.
    pub fn succeeded_event(self) -> Option<&'static str> {
        match self {
            Method::Password => Some("authentication.password_succeeded"),
            Method::MagicAuth => Some("authentication.magic_auth_succeeded"),
            Method::Sso => Some("authentication.sso_succeeded"),
            Method::DeviceCode => None,
        }
    }
}

/// What the application reported about the signing-in client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientContext {
    /// `ip_address`.
    pub ip_address: Option<String>,
    /// `user_agent`.
    pub user_agent: Option<String>,
}

impl ClientContext {
    /// Reads `ip_address` and `user_agent` from a grant.
    pub fn read(f: &mut Fields<'_>) -> Self {
        ClientContext {
            ip_address: f.optional_string("ip_address", 64),
            user_agent: f.optional_string("user_agent", 512),
        }
    }
}

/// The data of an `authentication.*` event.
pub(crate) fn authentication_event(
    env: &str, name: &str, user: Option<&User>, email: &str, ctx: &ClientContext, error: Option<(&str, &str)>,
    at: Timestamp,
) -> Event {
    let kind = name.trim_start_matches("authentication.").rsplit_once('_').map_or("", |(k, _)| k);
    let mut data = json!({
        "type": kind,
        "status": if error.is_some() { "failed" } else { "succeeded" },
        "user_id": user.map(|u| u.id.clone()),
        "email": email,
        "ip_address": ctx.ip_address,
        "user_agent": ctx.user_agent,
    });
    if let Some((code, message)) = error {
        data["error"] = json!({"code": code, "message": message});
    }
    Event::new(env, name, data, None, at)
}

impl Vestibule {
    /// Opens a session for `user` in `organization_id` and answers the authenticate call.
    pub(crate) async fn open_session(
        &self, env: &Environment, user: User, organization_id: Option<String>, method: Method, ctx: &ClientContext,
    ) -> Result<Value> {
        let now = Timestamp::now();
        let session = Session {
            object: "session",
            id: vestibule_ids::generate(Kind::Session),
            user_id: user.id.clone(),
            organization_id,
            auth_method: method.session_name().into(),
            ip_address: ctx.ip_address.clone(),
            user_agent: ctx.user_agent.clone(),
            status: "active".into(),
            expires_at: now.plus_millis(self.authkit.session_ttl_ms),
            ended_at: None,
            created_at: now,
            updated_at: now,
        };
        let refresh_token = secrets::random_base62(REFRESH_TOKEN_LEN);
        let mut events: Vec<Event> = method
            .succeeded_event()
            .map(|name| authentication_event(&env.id, name, Some(&user), &user.email, ctx, None, now))
            .into_iter()
            .collect();
        events.push(Event::new(&env.id, "session.created", to_json(&session), session.organization_id.as_deref(), now));
        self.store.insert_session(&env.id, &session, &secrets::digest(&refresh_token), &events).await?;
        let mut user = user;
        user.last_sign_in_at = Some(now);
        let access_token = self.access_token(env, &session, &user).await?;
        let mut out = json!({
            "user": user,
            "access_token": access_token,
            "refresh_token": refresh_token,
        });
        if let Some(name) = method.response_name() {
            out["authentication_method"] = json!(name);
        }
        if let Some(org) = &session.organization_id {
            out["organization_id"] = json!(org);
        }
        Ok(out)
    }

    /// The `refresh_token` grant: a fresh access token and the next refresh token of the
    /// same session, optionally moved into another organization of the user.
    pub(crate) async fn refresh_session(
        &self, env: &Environment, refresh_token: &str, organization_id: Option<&str>,
    ) -> Result<Value> {
        let refused = || {
            CoreError::refused(
                "invalid_grant",
                "The refresh token is invalid, was already used, or its session has ended.".into(),
            )
        };
        if refresh_token.is_empty() || refresh_token.len() > 128 {
            return Err(refused());
        }
        let digest = secrets::digest(refresh_token);
        // Moving into an organization needs an active membership there: check before the
        // token is spent, so a refused switch leaves the session as it was.
        if let Some(org) = organization_id {
            let session =
                self.store.peek_refresh_token(&env.id, &digest, Timestamp::now()).await?.ok_or_else(refused)?;
            if !self.is_active_member(&env.id, &session.user_id, org).await? {
                return Err(CoreError::refused(
                    "invalid_organization_id",
                    "The user is not an active member of this organization.".into(),
                ));
            }
        }
        let next = secrets::random_base62(REFRESH_TOKEN_LEN);
        let rotation = self
            .store
            .rotate_refresh_token(
                &env.id,
                &digest,
                &secrets::digest(&next),
                organization_id.map(Some),
                Timestamp::now(),
            )
            .await?;
        let Rotation::Rotated(session) = rotation else { return Err(refused()) };
        let user = self.store.get_user(&env.id, &session.user_id).await?.ok_or_else(refused)?;
        let access_token = self.access_token(env, &session, &user).await?;
        let mut out = json!({
            "user": user,
            "access_token": access_token,
            "refresh_token": next,
        });
        if let Some(org) = &session.organization_id {
            out["organization_id"] = json!(org);
        }
        if let Some(name) = Method::from_session_name(&session.auth_method).and_then(Method::response_name) {
            out["authentication_method"] = json!(name);
        }
        Ok(out)
    }

    pub(crate) async fn is_active_member(&self, env: &str, user_id: &str, organization_id: &str) -> Result<bool> {
        Ok(self
            .store
            .memberships_of_user(env, user_id)
            .await?
            .iter()
            .any(|m| m.organization_id == organization_id && m.status == "active"))
    }

    /// Signs the access token of `session`: the claims the SDKs read, the organization's
    /// role and permissions, then the JWT template's claims.
    async fn access_token(&self, env: &Environment, session: &Session, user: &User) -> Result<String> {
        let now = Timestamp::now().millis() / 1000;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(format!("{}/user_management/{}", self.public_url, env.client_id)));
        claims.insert("sub".into(), json!(user.id));
        claims.insert("sid".into(), json!(session.id));
        claims.insert("jti".into(), json!(vestibule_ids::bare()));
        claims.insert("auth_time".into(), json!(session.created_at.millis() / 1000));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + self.authkit.access_token_ttl_secs));
        let mut membership = None;
        if let Some(org) = &session.organization_id {
            membership = self
                .store
                .memberships_of_user(&env.id, &user.id)
                .await?
                .into_iter()
                .find(|m| &m.organization_id == org && m.status == "active");
            claims.insert("org_id".into(), json!(org));
            if let Some(m) = &membership {
                let slugs = m.role_slugs();
                let permissions = self.effective_permissions(&env.id, org, &slugs).await?;
                claims.insert("role".into(), json!(m.role.slug));
                claims.insert("roles".into(), json!(slugs));
                claims.insert("permissions".into(), json!(permissions));
            }
        }
        if let Some(template) = self.jwt_template_content(&env.id).await? {
            let org = match &session.organization_id {
                Some(id) => self.store.get_organization(&env.id, id).await?.map(|o| to_json(&o)),
                None => None,
            };
            let context = json!({
                "user": user,
                "organization": org,
                "organization_membership": membership.as_ref().map(to_json),
            });
            for (k, v) in super::jwt_template::render(&template, &context)? {
                if !super::jwt_template::RESERVED.contains(&k.as_str()) {
                    claims.insert(k, v);
                }
            }
        }
        self.signer(&env.id).await?.sign(&claims)
    }

    /// `GET /user_management/users/{id}/sessions`.
    pub async fn list_user_sessions(&self, env: &str, user_id: &str, page: PageRequest) -> Result<Page<Session>> {
        self.get_user(env, user_id).await?;
        let now = Timestamp::now();
        Ok(self.store.list_sessions(env, user_id, &page).await?.map(|s| s.refresh_status(now)))
    }

    /// `POST /user_management/sessions/revoke`: ends the session; its refresh tokens stop working.
    pub async fn revoke_session(&self, env: &str, body: &Value) -> Result<()> {
        let mut f = Fields::new(body)?;
        let id = f.required_string("session_id", 100);
        f.finish()?;
        let id = id.unwrap_or_default();
        self.end_session(env, &id).await
    }

    /// Ends every active session of a user (after a password reset).
    pub(crate) async fn end_sessions_of_user(&self, env: &str, user_id: &str) -> Result<()> {
        let mut after = None;
        loop {
            let page = PageRequest { limit: 100, after, ..Default::default() };
            let sessions = self.store.list_sessions(env, user_id, &page).await?;
            for s in sessions.data.iter().filter(|s| s.status == "active") {
                self.end_session(env, &s.id).await?;
            }
            match sessions.after {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    async fn end_session(&self, env: &str, id: &str) -> Result<()> {
        let not_found = || CoreError::NotFound { entity: "Session", id: id.to_owned() };
        if !plausible(Kind::Session, id) {
            return Err(not_found());
        }
        let session = self.store.get_session(env, id).await?.ok_or_else(not_found)?;
        if session.status != "active" {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut ended = session.clone();
        ended.status = "revoked".into();
        ended.ended_at = Some(now);
        ended.updated_at = now;
        let event = Event::new(env, "session.revoked", to_json(&ended), ended.organization_id.as_deref(), now);
        self.store.revoke_session(env, id, now, &[event]).await?;
        Ok(())
    }

    /// `GET /user_management/sessions/logout?session_id=…&return_to=…` (browser): ends the
    /// session and names where to send the browser: `return_to` when it is one of the
    /// environment's redirect URIs or on the origin of one, else the default redirect
    /// URI's origin; `None` when the environment has none.
    pub async fn logout(&self, session_id: Option<&str>, return_to: Option<&str>) -> Result<Option<String>> {
        let Some(session_id) = session_id.filter(|s| !s.is_empty()) else {
            return Err(CoreError::field("session_id", "required"));
        };
        if !plausible(Kind::Session, session_id) {
            return Err(CoreError::NotFound { entity: "Session", id: session_id.to_owned() });
        }
        let Some((env, _)) = self.store.find_session(session_id).await? else {
            return Err(CoreError::NotFound { entity: "Session", id: session_id.to_owned() });
        };
        let uris = self.store.list_redirect_uris(&env).await?;
        let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin().ascii_serialization());
        // Checked before the session ends: a refused logout changes nothing.
        if let Some(to) = return_to {
            let allowed =
                uris.iter().any(|r| r.uri == to || (origin(&r.uri).is_some() && origin(&r.uri) == origin(to)));
            if !allowed {
                return Err(CoreError::Unusable {
                    code: "invalid_return_to",
                    message: "return_to is not on the origin of a registered redirect URI.".into(),
                });
            }
        }
        self.end_session(&env, session_id).await?;
        if let Some(to) = return_to {
            return Ok(Some(to.to_owned()));
        }
        let default = uris.iter().find(|r| r.default).or(uris.first());
        Ok(default.and_then(|r| origin(&r.uri)).map(|o| format!("{o}/")))
    }
}
