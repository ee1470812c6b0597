//! `POST /user_management/authenticate`: every grant of the WorkOS document. The client
//! proves itself with `client_id` and its API key as `client_secret` (public clients may
//! refresh, and redeem PKCE codes, without one). A user who proved who they are then
//! passes the environment's steps in order (email verification, MFA, organization
//! selection); each step not yet met answers 403 with a pending-authentication token,
//! and the grant that completes it continues from there.
//!
//! Errors follow the document: the password and one-time-code grants answer
//! `{code, message}`; OAuth failures (`invalid_client`, `invalid_grant`,
//! `unsupported_grant_type`, `invalid_request`) answer `{error, error_description}`.

use super::lockout::Attempt;
use super::sessions::{ClientContext, Method, authentication_event};
use super::users::{User, parse_email};
use crate::environments::Environment;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::secrets;
use crate::kernel::time::Timestamp;
use crate::{Vestibule, to_json};
use serde_json::{Map, Value, json};

/// The grant types accepted, with the legacy names the emulator also takes.
pub const GRANTS: &[&str] = &[
    "password",
    "refresh_token",
    "authorization_code",
    "urn:workos:oauth:grant-type:magic-auth:code",
    "urn:workos:oauth:grant-type:email-verification:code",
    "urn:workos:oauth:grant-type:mfa-totp",
    "urn:workos:oauth:grant-type:organization-selection",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// Where a sign-in continues from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    EmailVerification,
    Mfa,
    OrganizationSelection,
}

fn oauth(error: &'static str, description: &str) -> CoreError {
    CoreError::refused(error, description.to_owned())
}

fn invalid_client(description: &str) -> CoreError {
    CoreError::Forbidden { code: "invalid_client", message: description.to_owned() }
}

fn invalid_credentials(email: &str) -> CoreError {
    CoreError::refused("invalid_credentials", format!("Invalid credentials for {email}."))
}

impl Vestibule {
    /// `POST /user_management/authenticate` with the request's fields (JSON or form).
    pub async fn authenticate_user(&self, fields: &Map<String, Value>) -> Result<Value> {
        let get = |k: &str| fields.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let grant = match get("grant_type") {
            Some(g) if GRANTS.contains(&g) => g,
            Some("urn:workos:oauth:grant-type:magic-auth") => "urn:workos:oauth:grant-type:magic-auth:code",
            Some("urn:workos:oauth:grant-type:email-verification") => {
                "urn:workos:oauth:grant-type:email-verification:code"
            }
            Some(_) => return Err(oauth("unsupported_grant_type", "The grant_type is not supported.")),
            None => return Err(oauth("invalid_request", "grant_type is required.")),
        };
        let client_id = get("client_id").ok_or_else(|| invalid_client("client_id is required."))?;
        let env =
            self.environment_by_client_id(client_id).await?.ok_or_else(|| invalid_client("Invalid client_id."))?;
        match get("client_secret") {
            Some(secret) => {
                let caller = self.authenticate(secret).await?;
                if caller.is_none_or(|c| *c.environment_id != *env.id) {
                    return Err(invalid_client("The client secret is not valid for this client."));
                }
            }
            // Public clients: refresh tokens, device codes, and codes issued with a PKCE
            // challenge.
            None if grant == "refresh_token"
                || grant == "urn:ietf:params:oauth:grant-type:device_code"
                || (grant == "authorization_code" && get("code_verifier").is_some()) => {}
            None => return Err(invalid_client("client_secret is required.")),
        }
        let body = Value::Object(fields.clone());
        let mut f = Fields::new(&body)?;
        let ctx = ClientContext::read(&mut f);
        match grant {
            "password" => {
                let email = f.required_string("email", 254);
                let password = f.optional_string_raw("password", 64 * 1024);
                if password.is_none() {
                    f.invalid("password", "required");
                }
                f.finish()?;
                self.sign_in_with_password(&env, &email.unwrap_or_default(), password.unwrap_or_default(), &ctx).await
            }
            "refresh_token" => {
                // Generous: any overlong token is an invalid grant, not a field error.
                let token = f.required_string("refresh_token", 8192);
                let org = f.optional_string("organization_id", 100);
                f.finish()?;
                self.refresh_session(&env, &token.unwrap_or_default(), org.as_deref()).await
            }
            "authorization_code" => {
                let code = f.required_string("code", 128);
                let verifier = f.optional_string("code_verifier", 128);
                f.finish()?;
                self.sign_in_with_sso_code(&env, &code.unwrap_or_default(), verifier.as_deref(), &ctx).await
            }
            "urn:workos:oauth:grant-type:magic-auth:code" => {
                let code = f.required_string("code", 64);
                let email = f.required_string("email", 254);
                f.finish()?;
                self.sign_in_with_magic_auth(&env, &email.unwrap_or_default(), &code.unwrap_or_default(), &ctx).await
            }
            "urn:workos:oauth:grant-type:email-verification:code" => {
                let code = f.required_string("code", 64);
                let token = f.required_string("pending_authentication_token", 128);
                f.finish()?;
                let (pending, user, method) = self.pending(&env.id, &token.unwrap_or_default()).await?;
                let user = self.redeem_sign_in_verification(&env.id, user, &code.unwrap_or_default()).await?;
                self.finish_pending(&env.id, &pending).await?;
                let org = pending.data["organization_id"].as_str().map(str::to_owned);
                self.continue_sign_in(&env, user, method, org, &ctx, Stage::Mfa).await
            }
            "urn:workos:oauth:grant-type:mfa-totp" => {
                let code = f.required_string("code", 64);
                let token = f.required_string("pending_authentication_token", 128);
                let challenge = f.required_string("authentication_challenge_id", 100);
                f.finish()?;
                let (pending, user, method) = self.pending(&env.id, &token.unwrap_or_default()).await?;
                let challenge = challenge.unwrap_or_default();
                let (_, factor, verdict) = self.check_challenge(&env.id, &challenge, &code.unwrap_or_default()).await?;
                if factor.user_id.as_deref() != Some(user.id.as_str()) {
                    return Err(CoreError::refused("user_mismatch", "The challenge is not for this user.".into()));
                }
                if let super::mfa::Verdict::Invalid = verdict {
                    let event = authentication_event(
                        &env.id,
                        "authentication.mfa_failed",
                        Some(&user),
                        &user.email,
                        &ctx,
                        Some(("invalid_one_time_code", "The code is not valid.")),
                        Timestamp::now(),
                    );
                    self.store.record_events(&[event]).await?;
                    return Err(CoreError::refused("invalid_one_time_code", "The code is not valid.".into()));
                }
                self.finish_pending(&env.id, &pending).await?;
                let event = authentication_event(
                    &env.id,
                    "authentication.mfa_succeeded",
                    Some(&user),
                    &user.email,
                    &ctx,
                    None,
                    Timestamp::now(),
                );
                self.store.record_events(&[event]).await?;
                let org = pending.data["organization_id"].as_str().map(str::to_owned);
                self.continue_sign_in(&env, user, method, org, &ctx, Stage::OrganizationSelection).await
            }
            "urn:workos:oauth:grant-type:organization-selection" => {
                let token = f.required_string("pending_authentication_token", 128);
                let org = f.required_string("organization_id", 100);
                f.finish()?;
                let (pending, user, method) = self.pending(&env.id, &token.unwrap_or_default()).await?;
                let org = org.unwrap_or_default();
                if !self.is_active_member(&env.id, &user.id, &org).await? {
                    return Err(CoreError::refused(
                        "invalid_organization_id",
                        "The user is not an active member of this organization.".into(),
                    ));
                }
                self.finish_pending(&env.id, &pending).await?;
                self.open_session(&env, user, Some(org), method, &ctx).await
            }
            "urn:ietf:params:oauth:grant-type:device_code" => {
                let code = f.required_string("device_code", 128);
                f.finish()?;
                self.sign_in_with_device_code(&env, &code.unwrap_or_default(), &ctx).await
            }
            _ => Err(oauth("unsupported_grant_type", "The grant_type is not supported.")),
        }
    }

    async fn sign_in_with_password(
        &self, env: &Environment, email: &str, password: String, ctx: &ClientContext,
    ) -> Result<Value> {
        let Some(email) = parse_email(email) else {
            return Err(invalid_credentials(email.chars().take(254).collect::<String>().as_str()));
        };
        let attempt = Attempt::new(&email, ctx.ip_address.as_deref());
        self.check_lockout(&env.id, &attempt).await?;
        let user = self.store.get_user_by_email(&env.id, &email).await?;
        let stored = user.as_ref().and_then(|u| u.password.clone());
        // Verified even when the user or its password is missing, against a decoy: an
        // unknown address takes as long as a wrong password.
        let matches = super::passwords::verify(stored, password).await?;
        let (true, Some(user)) = (matches, user.clone()) else {
            self.record_failure(&env.id, &attempt).await?;
            let event = authentication_event(
                &env.id,
                "authentication.password_failed",
                user.as_ref(),
                &email,
                ctx,
                Some(("invalid_credentials", "Invalid credentials.")),
                Timestamp::now(),
            );
            self.store.record_events(&[event]).await?;
            return Err(invalid_credentials(&email));
        };
        self.record_success(&env.id, &attempt).await?;
        self.continue_sign_in(env, user, Method::Password, None, ctx, Stage::EmailVerification).await
    }

    async fn sign_in_with_magic_auth(
        &self, env: &Environment, email: &str, code: &str, ctx: &ClientContext,
    ) -> Result<Value> {
        let Some(email) = parse_email(email) else {
            return Err(CoreError::refused("invalid_one_time_code", "The code is not valid.".into()));
        };
        let attempt = Attempt::new(&email, ctx.ip_address.as_deref());
        self.check_lockout(&env.id, &attempt).await?;
        let user = match self.redeem_magic_auth(&env.id, &email, code).await {
            Ok(u) => u,
            Err(e) => {
                self.record_failure(&env.id, &attempt).await?;
                if let CoreError::Refused { code, message, .. } = &e {
                    let event = authentication_event(
                        &env.id,
                        "authentication.magic_auth_failed",
                        None,
                        &email,
                        ctx,
                        Some((code, message)),
                        Timestamp::now(),
                    );
                    self.store.record_events(&[event]).await?;
                }
                return Err(e);
            }
        };
        self.record_success(&env.id, &attempt).await?;
        // The code proved the address: verification is met.
        self.continue_sign_in(env, user, Method::MagicAuth, None, ctx, Stage::Mfa).await
    }

    /// The `authorization_code` grant with a code from `GET /sso/authorize`: the profile's
    /// user (created on first sign-in, verified by the connection), in the connection's
    /// organization (joined on first sign-in).
    async fn sign_in_with_sso_code(
        &self, env: &Environment, code: &str, verifier: Option<&str>, ctx: &ClientContext,
    ) -> Result<Value> {
        let invalid = || oauth("invalid_grant", "The code is invalid or expired.");
        let found = self.store.take_sso_grant(&secrets::digest(code), "code", Timestamp::now()).await?;
        let Some((code_env, grant)) = found else { return Err(invalid()) };
        if code_env != env.id {
            return Err(invalid());
        }
        match (grant.data.get("code_challenge").and_then(Value::as_str), verifier) {
            (Some(challenge), Some(v)) if crate::sso::flow::pkce_verifies(challenge, v) => {}
            (Some(_), _) => return Err(oauth("invalid_grant", "code_verifier does not match the code challenge.")),
            (None, Some(_)) => return Err(invalid()),
            (None, None) => {}
        }
        let profile = &grant.data["profile"];
        let email = profile["email"].as_str().and_then(parse_email).ok_or_else(invalid)?;
        let user = match self.store.get_user_by_email(&env.id, &email).await? {
            Some(u) if u.email_verified => u,
            Some(u) => self.update_user(&env.id, &u.id, &json!({"email_verified": true})).await?,
            None => {
                let body = json!({
                    "email": email,
                    "first_name": profile["first_name"],
                    "last_name": profile["last_name"],
                    "email_verified": true,
                });
                let user = self.create_user_unsaved(&body).await?;
                self.insert_new_user(&env.id, &user).await?;
                user
            }
        };
        let org = profile["organization_id"].as_str().map(str::to_owned);
        if let Some(org) = &org
            && !self.is_active_member(&env.id, &user.id, org).await?
        {
            let body = json!({"user_id": user.id, "organization_id": org});
            if let Err(e) = self.create_membership(&env.id, &body).await {
                tracing::warn!(error = %e, "joining the connection's organization on SSO sign-in failed");
            }
        }
        self.open_session(env, user, org, Method::Sso, ctx).await
    }

    /// Passes `user` through the steps from `from` on, then opens the session.
    async fn continue_sign_in(
        &self, env: &Environment, user: User, method: Method, organization_id: Option<String>, ctx: &ClientContext,
        from: Stage,
    ) -> Result<Value> {
        if from <= Stage::EmailVerification && self.authkit.require_email_verification && !user.email_verified {
            let verification = self.issue_email_verification(&env.id, &user).await?;
            let token = self.pend(&env.id, &user, method, organization_id.as_deref(), ctx).await?;
            return Err(next_step(
                "email_verification_required",
                "Email ownership must be verified before authentication.",
                &token,
                json!({"email": user.email, "email_verification_id": verification.id}),
            ));
        }
        if from <= Stage::Mfa {
            let factors = self.user_factors(&env.id, &user.id).await?;
            if !factors.is_empty() {
                let token = self.pend(&env.id, &user, method, organization_id.as_deref(), ctx).await?;
                return Err(next_step(
                    "mfa_challenge",
                    "The user must complete an MFA challenge to finish authenticating.",
                    &token,
                    json!({"user": to_json(&user), "authentication_factors": factors}),
                ));
            }
        }
        let organization_id = match organization_id {
            Some(org) => Some(org),
            None => {
                let active: Vec<_> = self
                    .store
                    .memberships_of_user(&env.id, &user.id)
                    .await?
                    .into_iter()
                    .filter(|m| m.status == "active")
                    .collect();
                match active.len() {
                    0 => None,
                    1 => Some(active[0].organization_id.clone()),
                    _ => {
                        let token = self.pend(&env.id, &user, method, None, ctx).await?;
                        let organizations: Vec<Value> = active
                            .iter()
                            .map(|m| json!({"id": m.organization_id, "name": m.organization_name}))
                            .collect();
                        return Err(next_step(
                            "organization_selection_required",
                            "The user must choose an organization to sign in to.",
                            &token,
                            json!({"user": to_json(&user), "organizations": organizations}),
                        ));
                    }
                }
            }
        };
        self.open_session(env, user, organization_id, method, ctx).await
    }
}

fn next_step(code: &'static str, message: &str, token: &str, extra: Value) -> CoreError {
    let mut details = Map::new();
    details.insert("pending_authentication_token".into(), json!(token));
    if let Value::Object(m) = extra {
        details.extend(m);
    }
    CoreError::NextStep { code, message: message.to_owned(), details }
}
