//! One-time codes and tokens: magic auth and email verification (six digits, ten
//! minutes), password reset (an opaque token, thirty minutes), email change (six digits
//! to the new address), and the pending-authentication token that carries a sign-in from
//! one step to the next. Each is stored by digest and sealed, used once, and gives up
//! after [`MAX_ATTEMPTS`] wrong guesses. The code goes out by mail and in its event (for
//! applications that send their own mail).

use super::auth_store::AuthCode;
use super::mail::OutboxMail;
use super::sessions::{ClientContext, Method};
use super::users::{User, parse_email};
use crate::events::Event;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::secrets;
use crate::kernel::time::Timestamp;
use crate::{Vestibule, plausible};
use serde_json::{Value, json};
use vestibule_ids::Kind;

/// Lifetime of magic-auth, email-verification and email-change codes.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// Lifetime of a password-reset token.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// Lifetime of a pending authentication.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong guesses a code survives.
pub const MAX_ATTEMPTS: i64 = 5;
/// Length of opaque tokens (password reset, pending authentication), base62.
pub const TOKEN_LEN: usize = 25;

/// Six uniformly random digits.
pub fn six_digits() -> String {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).expect("the OS random source is available");
        let n = u32::from_le_bytes(b);
        // Reject the top partial range so every code is equally likely.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The digest a six-digit code is compared by: salted with its id, so equal codes of
/// different rows differ at rest.
fn code_digest(id: &str, code: &str) -> String {
    secrets::digest(&format!("{id}:{code}"))
}

/// How a failed code check is reported, per endpoint: (used, expired, wrong, too many).
struct Refusals {
    used: (&'static str, &'static str),
    expired: (&'static str, &'static str),
    wrong: (&'static str, &'static str),
}

const ONE_TIME_CODE: Refusals = Refusals {
    used: ("one_time_code_previously_used", "This code has already been used."),
    expired: ("one_time_code_expired", "This code has expired."),
    wrong: ("invalid_one_time_code", "The code is not valid."),
};

const EMAIL_VERIFICATION: Refusals = Refusals {
    used: ("email_verification_code_previously_used", "This code has already been used."),
    expired: ("email_verification_code_expired", "This code has expired."),
    wrong: ("email_verification_code_incorrect", "The code is not valid."),
};

const EMAIL_CHANGE: Refusals = Refusals {
    used: ("email_change_code_previously_used", "This code has already been used."),
    expired: ("email_change_code_expired", "This code has expired."),
    wrong: ("email_change_code_incorrect", "The code is not valid."),
};

fn refuse((code, message): (&'static str, &'static str)) -> CoreError {
    CoreError::refused(code, message.into())
}

/// The API form of a code row.
fn served(c: &AuthCode) -> Value {
    let mut v = json!({
        "object": c.kind,
        "id": c.id,
        "user_id": c.user_id,
        "email": c.email,
        "expires_at": c.expires_at,
        "created_at": c.created_at,
    });
    if c.kind == "password_reset" {
        v["password_reset_token"] = json!(c.secret);
        v["password_reset_url"] = c.data.get("url").cloned().unwrap_or(Value::Null);
    } else {
        v["updated_at"] = json!(c.updated_at);
        v["code"] = json!(c.secret);
    }
    v
}

fn new_code(kind: &'static str, id_kind: Kind, user: &User, email: &str, ttl_ms: i64, data: Value) -> AuthCode {
    let now = Timestamp::now();
    let id = vestibule_ids::generate(id_kind);
    let secret = six_digits();
    AuthCode {
        digest: code_digest(&id, &secret),
        id,
        kind,
        user_id: Some(user.id.clone()),
        email: email.to_owned(),
        secret,
        data,
        attempts: 0,
        expires_at: now.plus_millis(ttl_ms),
        consumed_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn read_email(body: &Value, field: &str) -> Result<String> {
    let mut f = Fields::new(body)?;
    let email = f.required_string(field, 254);
    f.finish()?;
    parse_email(&email.unwrap_or_default()).ok_or_else(|| CoreError::field(field, "invalid_email"))
}

fn read_code(body: &Value) -> Result<String> {
    let mut f = Fields::new(body)?;
    let code = f.required_string("code", 64);
    f.finish()?;
    Ok(code.unwrap_or_default())
}

impl Vestibule {
    /// Stores a code with the mail that delivers it and its `<kind>.created` event.
    async fn send_code(&self, env: &str, c: &AuthCode, subject: &str, text: String, event: Option<&str>) -> Result<()> {
        let mail = OutboxMail::new(env, &c.email, subject.to_owned(), text);
        let events: Vec<Event> = event.map(|e| Event::new(env, e, served(c), None, c.created_at)).into_iter().collect();
        self.store.insert_code(env, c, Some(&mail), &events).await?;
        self.mail_queued.notify_one();
        Ok(())
    }

    /// Checks `given` against `c`: used, expired, spent, or wrong (counted) are refused.
    async fn check_code(&self, env: &str, c: &AuthCode, given: &str, r: &Refusals) -> Result<()> {
        if c.consumed_at.is_some() {
            return Err(refuse(r.used));
        }
        if c.expires_at <= Timestamp::now() {
            return Err(refuse(r.expired));
        }
        if c.attempts >= MAX_ATTEMPTS {
            return Err(CoreError::refused("one_time_code_too_many_attempts", "Too many wrong codes.".into()));
        }
        let given = given.trim();
        let right = given.len() <= 64 && secrets::digests_match(&code_digest(&c.id, given), &c.digest);
        if !right {
            let attempts = self.store.count_code_attempt(env, &c.id).await?;
            if attempts >= MAX_ATTEMPTS {
                return Err(CoreError::refused("one_time_code_too_many_attempts", "Too many wrong codes.".into()));
            }
            return Err(refuse(r.wrong));
        }
        Ok(())
    }

    /// Uses `c` once, with `events`; a concurrent use of the same code loses.
    async fn consume(&self, env: &str, c: &AuthCode, r: &Refusals, events: &[Event]) -> Result<()> {
        if self.store.consume_code(env, &c.id, Timestamp::now(), events).await? { Ok(()) } else { Err(refuse(r.used)) }
    }

    async fn get_code_served(
        &self, env: &str, kind: &'static str, id_kind: Kind, entity: &'static str, id: &str,
    ) -> Result<Value> {
        let not_found = || CoreError::NotFound { entity, id: id.to_owned() };
        if !plausible(id_kind, id) {
            return Err(not_found());
        }
        Ok(served(&self.store.get_code(env, kind, id).await?.ok_or_else(not_found)?))
    }

    // --- magic auth ---------------------------------------------------------------------

    /// `POST /user_management/magic_auth`: a code for `email`, whose user is created
    /// (unverified) if it does not exist yet.
    pub async fn create_magic_auth(&self, env: &str, body: &Value) -> Result<Value> {
        let email = read_email(body, "email")?;
        let user = match self.store.get_user_by_email(env, &email).await? {
            Some(u) => u,
            None => {
                let user = self.create_user_unsaved(&json!({"email": email})).await?;
                match self.insert_new_user(env, &user).await {
                    Ok(()) => user,
                    // Created concurrently: use that one.
                    Err(_) => self.store.get_user_by_email(env, &email).await?.ok_or_else(|| {
                        CoreError::refused("user_creation_error", "The user could not be created.".into())
                    })?,
                }
            }
        };
        let c = new_code("magic_auth", Kind::MagicAuth, &user, &email, CODE_TTL_MS, json!({}));
        let text = format!("Your sign-in code is {}.\n\nIt expires in ten minutes and works once.\n", c.secret);
        self.send_code(env, &c, "Your sign-in code", text, Some("magic_auth.created")).await?;
        Ok(served(&c))
    }

    /// `GET /user_management/magic_auth/{id}`.
    pub async fn get_magic_auth(&self, env: &str, id: &str) -> Result<Value> {
        self.get_code_served(env, "magic_auth", Kind::MagicAuth, "Magic Auth", id).await
    }

    /// The magic-auth grant's check: the newest code sent to `email`, used once.
    pub(crate) async fn redeem_magic_auth(&self, env: &str, email: &str, code: &str) -> Result<User> {
        let c = self.store.latest_code(env, "magic_auth", Some(email), None).await?;
        let Some(c) = c else { return Err(refuse(ONE_TIME_CODE.wrong)) };
        self.check_code(env, &c, code, &ONE_TIME_CODE).await?;
        let user_id = c.user_id.clone().unwrap_or_default();
        let user = self.store.get_user(env, &user_id).await?.ok_or_else(|| refuse(ONE_TIME_CODE.wrong))?;
        self.consume(env, &c, &ONE_TIME_CODE, &[]).await?;
        // A code that reached the inbox proves the address.
        if !user.email_verified { self.mark_verified(env, user).await } else { Ok(user) }
    }

    async fn mark_verified(&self, env: &str, user: User) -> Result<User> {
        self.update_user(env, &user.id, &json!({"email_verified": true})).await
    }

    // --- email verification ---------------------------------------------------------------

    /// Creates and mails an email-verification code for `user`.
    pub(crate) async fn issue_email_verification(&self, env: &str, user: &User) -> Result<AuthCode> {
        let c = new_code("email_verification", Kind::EmailVerification, user, &user.email, CODE_TTL_MS, json!({}));
        let text = format!("Your email verification code is {}.\n\nIt expires in ten minutes.\n", c.secret);
        self.send_code(env, &c, "Verify your email address", text, Some("email_verification.created")).await?;
        Ok(c)
    }

    /// `POST /user_management/users/{id}/email_verification/send`.
    pub async fn send_verification_email(&self, env: &str, user_id: &str) -> Result<Value> {
        let user = self.get_user(env, user_id).await?;
        if user.email_verified {
            return Err(CoreError::refused("email_already_verified", "The email is already verified.".into()));
        }
        self.issue_email_verification(env, &user).await?;
        Ok(json!({"user": user}))
    }

    /// `POST /user_management/users/{id}/email_verification/confirm`.
    pub async fn verify_email(&self, env: &str, user_id: &str, body: &Value) -> Result<Value> {
        let code = read_code(body)?;
        let user = self.get_user(env, user_id).await?;
        if user.email_verified {
            return Err(CoreError::refused("email_previously_verified", "The email is already verified.".into()));
        }
        let user = self.redeem_email_verification(env, user, &code, &EMAIL_VERIFICATION).await?;
        Ok(json!({"user": user}))
    }

    /// Checks the newest verification code of `user` and marks the email verified.
    async fn redeem_email_verification(&self, env: &str, user: User, code: &str, r: &Refusals) -> Result<User> {
        let c = self.store.latest_code(env, "email_verification", None, Some(&user.id)).await?;
        let Some(c) = c.filter(|c| c.email == user.email) else { return Err(refuse(r.wrong)) };
        self.check_code(env, &c, code, r).await?;
        let event = Event::new(
            env,
            "authentication.email_verification_succeeded",
            json!({"type": "email_verification", "status": "succeeded", "user_id": user.id, "email": user.email}),
            None,
            Timestamp::now(),
        );
        self.consume(env, &c, r, &[event]).await?;
        self.mark_verified(env, user).await
    }

    /// The email-verification grant's check, with one-time-code errors.
    pub(crate) async fn redeem_sign_in_verification(&self, env: &str, user: User, code: &str) -> Result<User> {
        self.redeem_email_verification(env, user, code, &ONE_TIME_CODE).await
    }

    /// `GET /user_management/email_verification/{id}`.
    pub async fn get_email_verification(&self, env: &str, id: &str) -> Result<Value> {
        self.get_code_served(env, "email_verification", Kind::EmailVerification, "Email Verification", id).await
    }

    // --- password reset -------------------------------------------------------------------

    /// `POST /user_management/password_reset`.
    pub async fn create_password_reset(&self, env: &str, body: &Value) -> Result<Value> {
        let email = read_email(body, "email")?;
        let user = self
            .store
            .get_user_by_email(env, &email)
            .await?
            .ok_or_else(|| CoreError::NotFound { entity: "User", id: email.clone() })?;
        let token = secrets::random_base62(TOKEN_LEN);
        let url = format!("{}/reset-password?token={token}", self.public_url);
        let mut c = new_code("password_reset", Kind::PasswordReset, &user, &email, RESET_TTL_MS, json!({"url": url}));
        c.digest = secrets::digest(&token);
        c.secret = token;
        let text = format!("Reset your password:\n{url}\n\nThe link expires in thirty minutes and works once.\n");
        self.send_code(env, &c, "Reset your password", text, Some("password_reset.created")).await?;
        Ok(served(&c))
    }

    /// `GET /user_management/password_reset/{id}`.
    pub async fn get_password_reset(&self, env: &str, id: &str) -> Result<Value> {
        self.get_code_served(env, "password_reset", Kind::PasswordReset, "Password Reset", id).await
    }

    /// `POST /user_management/password_reset/confirm`: sets the new password; the token
    /// works once.
    pub async fn confirm_password_reset(&self, env: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new(body)?;
        let token = f.required_string("token", 128);
        let password = f.required_string("new_password", 64 * 1024);
        f.finish()?;
        let (token, password) = (token.unwrap_or_default(), password.unwrap_or_default());
        let reset_error = |code: &str, message: &str| CoreError::Refused {
            code: "password_reset_error",
            message: message.to_owned(),
            errors: vec![crate::FieldError::explained("token", code, message)],
        };
        let found = self.store.find_code("password_reset", &secrets::digest(&token)).await?;
        let Some((token_env, c)) = found.filter(|(e, _)| e == env) else {
            return Err(reset_error("password_reset_token_invalid", "The password reset token is not valid."));
        };
        if c.consumed_at.is_some() {
            return Err(reset_error("password_reset_token_used", "The password reset token has already been used."));
        }
        if c.expires_at <= Timestamp::now() {
            return Err(reset_error("password_reset_token_expired", "The password reset token has expired."));
        }
        super::passwords::check_strength(&password)?;
        let user_id = c.user_id.clone().unwrap_or_default();
        let user = self.get_user(&token_env, &user_id).await?;
        let done = Event::new(env, "password_reset.succeeded", served(&c), None, Timestamp::now());
        if !self.store.consume_code(env, &c.id, Timestamp::now(), &[done]).await? {
            return Err(reset_error("password_reset_token_used", "The password reset token has already been used."));
        }
        // Resetting through the mailed link also proves the address; whoever signed in with
        // the old password is signed out.
        let user = self.update_user(env, &user.id, &json!({"password": password, "email_verified": true})).await?;
        self.end_sessions_of_user(env, &user.id).await?;
        Ok(json!({"user": user}))
    }

    // --- email change ---------------------------------------------------------------------

    /// `POST /user_management/users/{id}/email_change/send`: a code to the new address.
    pub async fn send_email_change(&self, env: &str, user_id: &str, body: &Value) -> Result<Value> {
        let user = self.get_user(env, user_id).await?;
        let new_email = read_email(body, "new_email")?;
        if new_email == user.email {
            return Err(CoreError::Conflict {
                code: "email_change_not_needed",
                message: "The email is unchanged.".into(),
            });
        }
        if self.store.get_user_by_email(env, &new_email).await?.is_some() {
            return Err(CoreError::Conflict {
                code: "email_not_available",
                message: "Another user already has this email.".into(),
            });
        }
        let c = new_code("email_change", Kind::EmailChange, &user, &new_email, CODE_TTL_MS, json!({}));
        let text = format!("Your code to confirm this email address is {}.\n\nIt expires in ten minutes.\n", c.secret);
        self.send_code(env, &c, "Confirm your new email address", text, None).await?;
        Ok(json!({
            "object": "email_change",
            "user": user,
            "new_email": new_email,
            "expires_at": c.expires_at,
            "created_at": c.created_at,
        }))
    }

    /// `POST /user_management/users/{id}/email_change/confirm`.
    pub async fn confirm_email_change(&self, env: &str, user_id: &str, body: &Value) -> Result<Value> {
        let code = read_code(body)?;
        let user = self.get_user(env, user_id).await?;
        let c = self.store.latest_code(env, "email_change", None, Some(&user.id)).await?;
        let Some(c) = c else {
            return Err(CoreError::Conflict {
                code: "no_pending_email_change",
                message: "No email change is pending.".into(),
            });
        };
        if c.consumed_at.is_some() {
            return Err(CoreError::Conflict { code: EMAIL_CHANGE.used.0, message: EMAIL_CHANGE.used.1.into() });
        }
        self.check_code(env, &c, &code, &EMAIL_CHANGE).await?;
        self.consume(env, &c, &EMAIL_CHANGE, &[]).await?;
        let user = self.update_user(env, &user.id, &json!({"email": c.email})).await?;
        let user = self.mark_verified(env, user).await?;
        Ok(json!({"object": "email_change_confirmation", "user": user}))
    }

    // --- pending authentication -----------------------------------------------------------

    /// Starts a pending sign-in for `user`: the token that continues it.
    pub(crate) async fn pend(
        &self, env: &str, user: &User, method: Method, organization_id: Option<&str>, ctx: &ClientContext,
    ) -> Result<String> {
        let token = secrets::random_base62(TOKEN_LEN);
        let data = json!({
            "method": method.session_name(),
            "organization_id": organization_id,
            "ip_address": ctx.ip_address,
            "user_agent": ctx.user_agent,
        });
        let mut c =
            new_code("pending_authentication", Kind::PendingAuthentication, user, &user.email, PENDING_TTL_MS, data);
        c.digest = secrets::digest(&token);
        c.secret = token.clone();
        self.store.insert_code(env, &c, None, &[]).await?;
        Ok(token)
    }

    /// The pending sign-in `token` continues, unused and unexpired, in `env`.
    pub(crate) async fn pending(&self, env: &str, token: &str) -> Result<(AuthCode, User, Method)> {
        let invalid = || {
            CoreError::refused(
                "invalid_pending_authentication_token",
                "The pending authentication token is invalid or expired.".into(),
            )
        };
        if token.is_empty() || token.len() > 128 {
            return Err(invalid());
        }
        let found = self.store.find_code("pending_authentication", &secrets::digest(token)).await?;
        let Some((token_env, c)) = found else { return Err(invalid()) };
        if token_env != env || c.consumed_at.is_some() || c.expires_at <= Timestamp::now() {
            return Err(invalid());
        }
        let method = c.data["method"].as_str().and_then(Method::from_session_name).ok_or_else(invalid)?;
        let user_id = c.user_id.clone().unwrap_or_default();
        let user = self.store.get_user(env, &user_id).await?.ok_or_else(invalid)?;
        Ok((c, user, method))
    }

    /// Ends a pending sign-in once its step succeeded.
    pub(crate) async fn finish_pending(&self, env: &str, c: &AuthCode) -> Result<()> {
        if self.store.consume_code(env, &c.id, Timestamp::now(), &[]).await? {
            Ok(())
        } else {
            Err(CoreError::refused(
                "invalid_pending_authentication_token",
                "The pending authentication token is invalid or expired.".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::BTreeSet<String> = (0..50).map(|_| six_digits()).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        assert!(codes.len() > 40);
    }

    #[test]
    fn digests_are_salted_by_id() {
        assert_ne!(code_digest("magic_auth_A", "123456"), code_digest("magic_auth_B", "123456"));
        assert_eq!(code_digest("magic_auth_A", "123456"), code_digest("magic_auth_A", "123456"));
    }
}
