//! MFA: TOTP factors (RFC 6238: SHA-1, six digits, 30-second steps, one step of skew),
//! their challenges (single use, ten minutes, five wrong codes), the standalone MFA API
//! (`/auth/factors`, `/auth/challenges`) and the user-level factors of AuthKit. A code is
//! accepted at most once: the factor remembers the last time step it accepted.

use super::auth_store::{Challenge, Factor};
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::{Vestibule, plausible};
use base64::Engine as _;
use serde_json::{Value, json};
use totp_rs::{Builder, Secret};
use vestibule_ids::Kind;

/// Lifetime of a challenge.
pub const CHALLENGE_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong codes a challenge survives.
pub const MAX_CHALLENGE_ATTEMPTS: i64 = 5;
/// Bytes of a generated TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;

/// The TOTP of a factor; `:` is not allowed in the label's parts, so it is replaced.
fn totp(f: &Factor) -> Result<totp_rs::Totp> {
    let secret = Secret::try_from_base32(&f.secret).map_err(|_| bad_secret())?;
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(f.issuer.replace(':', " ")))
        .with_account_name(f.account.replace(':', " "))
        .build()
        .map_err(|_| bad_secret())
}

fn bad_secret() -> CoreError {
    CoreError::field("totp_secret", "invalid")
}

/// The factor as the API serves it; `enrolled` adds the secret, URI and QR code, which
/// are shown once, at enrollment.
fn served(f: &Factor, enrolled: bool) -> Result<Value> {
    let mut totp_json = json!({"issuer": f.issuer, "user": f.account});
    if enrolled {
        let uri = totp(f)?.to_url().map_err(|_| bad_secret())?;
        let qr = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| bad_secret())?;
        let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build();
        totp_json["secret"] = json!(f.secret);
        totp_json["uri"] = json!(uri);
        totp_json["qr_code"] =
            json!(format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)));
    }
    Ok(json!({
        "object": "authentication_factor",
        "id": f.id,
        "type": f.factor_type,
        "user_id": f.user_id,
        "totp": totp_json,
        "created_at": f.created_at,
        "updated_at": f.updated_at,
    }))
}

fn served_challenge(c: &Challenge) -> Value {
    json!({
        "object": "authentication_challenge",
        "id": c.id,
        "expires_at": c.expires_at,
        "authentication_factor_id": c.factor_id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

fn factor_not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Authentication Factor", id: id.to_owned() }
}

fn challenge_not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Authentication Challenge", id: id.to_owned() }
}

/// What verifying a challenge found.
pub(crate) enum Verdict {
    /// The code was right; the challenge is now used.
    Valid,
    /// The code was wrong (counted).
    Invalid,
}

impl Vestibule {
    /// Reads an enroll body and builds the factor, unsaved.
    fn enroll_unsaved(&self, body: &Value, user_id: Option<String>, default_account: Option<&str>) -> Result<Factor> {
        let mut f = Fields::new(body)?;
        let kind = f.required_string("type", 32);
        let issuer = f.optional_string("totp_issuer", 128);
        let account = f.optional_string("totp_user", 254);
        let secret = f.optional_string("totp_secret", 128);
        f.finish()?;
        match kind.as_deref() {
            Some("totp") => {}
            Some("sms" | "generic_otp") => {
                return Err(CoreError::Unusable {
                    code: "unsupported_factor_type",
                    message: "Only totp factors can be enrolled; this server sends no SMS.".into(),
                });
            }
            _ => return Err(CoreError::field("type", "invalid")),
        }
        let secret = match secret {
            Some(s) => {
                let parsed = Secret::try_from_base32(s.trim().to_uppercase()).map_err(|_| bad_secret())?;
                if parsed.as_ref().len() < 16 {
                    return Err(bad_secret());
                }
                parsed.to_base32()
            }
            None => {
                let mut bytes = [0u8; SECRET_BYTES];
                getrandom::fill(&mut bytes).expect("the OS random source is available");
                Secret::from(bytes).to_base32()
            }
        };
        let account = account.or(default_account.map(str::to_owned)).unwrap_or_else(|| "user".into());
        let now = Timestamp::now();
        let factor = Factor {
            id: vestibule_ids::generate(Kind::AuthenticationFactor),
            user_id,
            factor_type: "totp".into(),
            issuer: issuer.unwrap_or_else(|| "Vestibule".into()),
            account,
            secret,
            last_step: 0,
            created_at: now,
            updated_at: now,
        };
        totp(&factor)?;
        Ok(factor)
    }

    /// `POST /auth/factors/enroll`.
    pub async fn enroll_factor(&self, env: &str, body: &Value) -> Result<Value> {
        let user_id = body.get("user_id").and_then(Value::as_str).map(str::to_owned);
        let user = match &user_id {
            Some(id) => Some(self.get_user(env, id).await?),
            None => None,
        };
        let factor = self.enroll_unsaved(body, user_id, user.as_ref().map(|u| u.email.as_str()))?;
        self.store.insert_factor(env, &factor).await?;
        served(&factor, true)
    }

    /// `POST /user_management/users/{id}/auth_factors`: the factor and a first challenge.
    pub async fn enroll_user_factor(&self, env: &str, user_id: &str, body: &Value) -> Result<Value> {
        let user = self.get_user(env, user_id).await?;
        let factor = self.enroll_unsaved(body, Some(user.id.clone()), Some(&user.email))?;
        self.store.insert_factor(env, &factor).await?;
        let challenge = self.new_challenge(env, &factor).await?;
        Ok(
            json!({"authentication_factor": served(&factor, true)?, "authentication_challenge": served_challenge(&challenge)}),
        )
    }

    /// `GET /user_management/users/{id}/auth_factors`.
    pub async fn list_user_factors(&self, env: &str, user_id: &str, page: PageRequest) -> Result<Page<Value>> {
        self.get_user(env, user_id).await?;
        let factors = self.store.list_factors(env, user_id).await?;
        let q = page.keyset();
        let mut rows: Vec<Factor> = factors
            .into_iter()
            .filter(|f| match &q.bound {
                Some((">", id)) => f.id.as_str() > id.as_str(),
                Some((_, id)) => f.id.as_str() < id.as_str(),
                None => true,
            })
            .collect();
        if !q.scan_ascending {
            rows.reverse();
        }
        rows.truncate(q.fetch as usize);
        let page = page.page(&q, rows);
        let data: Result<Vec<Value>> = page.data.iter().map(|f| served(f, false)).collect();
        Ok(Page { data: data?, before: page.before, after: page.after })
    }

    /// The factors of a user, served (for the `mfa_challenge` step).
    pub(crate) async fn user_factors(&self, env: &str, user_id: &str) -> Result<Vec<Value>> {
        self.store.list_factors(env, user_id).await?.iter().map(|f| served(f, false)).collect()
    }

    async fn factor(&self, env: &str, id: &str) -> Result<Factor> {
        if !plausible(Kind::AuthenticationFactor, id) {
            return Err(factor_not_found(id));
        }
        self.store.get_factor(env, id).await?.ok_or_else(|| factor_not_found(id))
    }

    /// `GET /auth/factors/{id}`.
    pub async fn get_factor(&self, env: &str, id: &str) -> Result<Value> {
        served(&self.factor(env, id).await?, false)
    }

    /// `DELETE /auth/factors/{id}`.
    pub async fn delete_factor(&self, env: &str, id: &str) -> Result<()> {
        if plausible(Kind::AuthenticationFactor, id) && self.store.delete_factor(env, id).await? {
            Ok(())
        } else {
            Err(factor_not_found(id))
        }
    }

    async fn new_challenge(&self, env: &str, factor: &Factor) -> Result<Challenge> {
        let now = Timestamp::now();
        let c = Challenge {
            id: vestibule_ids::generate(Kind::AuthenticationChallenge),
            factor_id: factor.id.clone(),
            attempts: 0,
            expires_at: now.plus_millis(CHALLENGE_TTL_MS),
            consumed_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_challenge(env, &c).await?;
        Ok(c)
    }

    /// `POST /auth/factors/{id}/challenge`.
    pub async fn challenge_factor(&self, env: &str, id: &str) -> Result<Value> {
        let factor = self.factor(env, id).await?;
        Ok(served_challenge(&self.new_challenge(env, &factor).await?))
    }

    /// Checks `code` against a challenge: a right code uses the challenge (and its time
    /// step); a wrong one is counted. Spent, expired and exhausted challenges are refused.
    pub(crate) async fn check_challenge(
        &self, env: &str, id: &str, code: &str,
    ) -> Result<(Challenge, Factor, Verdict)> {
        if !plausible(Kind::AuthenticationChallenge, id) {
            return Err(challenge_not_found(id));
        }
        let c = self.store.get_challenge(env, id).await?.ok_or_else(|| challenge_not_found(id))?;
        if c.consumed_at.is_some() {
            return Err(CoreError::Unusable {
                code: "authentication_challenge_previously_verified",
                message: "This challenge has already been verified.".into(),
            });
        }
        if c.expires_at <= Timestamp::now() {
            return Err(CoreError::Unusable {
                code: "authentication_challenge_expired",
                message: "This challenge has expired.".into(),
            });
        }
        if c.attempts >= MAX_CHALLENGE_ATTEMPTS {
            return Err(CoreError::refused("one_time_code_too_many_attempts", "Too many wrong codes.".into()));
        }
        let factor = self.store.get_factor(env, &c.factor_id).await?.ok_or_else(|| challenge_not_found(id))?;
        let now_secs = (Timestamp::now().millis() / 1000).max(0) as u64;
        let code = code.trim();
        let step = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            totp(&factor)?.check(code, now_secs)
        } else {
            None
        };
        let accepted = match step {
            Some(step) => self.store.accept_totp_step(env, &factor.id, step as i64).await?,
            None => false,
        };
        if !accepted {
            self.store.count_challenge_attempt(env, &c.id).await?;
            return Ok((c, factor, Verdict::Invalid));
        }
        if !self.store.consume_challenge(env, &c.id, Timestamp::now()).await? {
            return Err(CoreError::Unusable {
                code: "authentication_challenge_previously_verified",
                message: "This challenge has already been verified.".into(),
            });
        }
        Ok((c, factor, Verdict::Valid))
    }

    /// `POST /auth/challenges/{id}/verify`: `{challenge, valid}`.
    pub async fn verify_challenge(&self, env: &str, id: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new(body)?;
        let code = f.required_string("code", 64);
        f.finish()?;
        let (c, _, verdict) = self.check_challenge(env, id, &code.unwrap_or_default()).await?;
        Ok(json!({"challenge": served_challenge(&c), "valid": matches!(verdict, Verdict::Valid)}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(secret: &str) -> Factor {
        Factor {
            id: "auth_factor_X".into(),
            user_id: None,
            factor_type: "totp".into(),
            issuer: "Acme: Inc".into(),
            account: "ada@example.com".into(),
            secret: secret.into(),
            last_step: 0,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn rfc_6238_vectors_and_one_step_of_skew() {
        // RFC 6238 appendix B, SHA-1: the secret is "12345678901234567890".
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let t = totp(&factor(&secret)).unwrap();
        assert_eq!(t.generate(59).to_string(), "287082");
        assert_eq!(t.generate(1_111_111_109).to_string(), "081804");
        assert_eq!(t.check("081804", 1_111_111_109), Some(1_111_111_109 / 30));
        assert!(t.check("081804", 1_111_111_109 + 30).is_some(), "one step late is accepted");
        assert!(t.check("081804", 1_111_111_109 + 90).is_none(), "three steps late is not");
        assert!(t.check("000000", 1_111_111_109).is_none());
    }

    #[test]
    fn enrollment_serves_an_otpauth_uri_and_a_qr_code() {
        let v = served(&factor("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), true).unwrap();
        let uri = v["totp"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains("secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"));
        assert!(v["totp"]["qr_code"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
        let listed = served(&factor("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), false).unwrap();
        assert!(listed["totp"].get("secret").is_none());
    }
}
