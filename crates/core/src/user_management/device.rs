//! The OAuth 2.0 device authorization grant (RFC 8628): a device without a browser asks
//! for codes (`POST /user_management/authorize/device`), shows the user code, and polls
//! `authenticate` with the device code; the user approves the user code in an application
//! where they are signed in, which calls the extension
//! `POST /user_management/authorize/device/approve` (or `…/deny`) with its API key. The
//! device then gets a session for that user.

use super::auth_store::DeviceAuthorization;
use super::sessions::{ClientContext, Method};
use crate::Vestibule;
use crate::environments::Environment;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::secrets;
use crate::kernel::time::Timestamp;
use serde_json::{Map, Value, json};
use vestibule_ids::Kind;

/// Lifetime of a device authorization, in seconds.
pub const EXPIRES_IN_SECS: i64 = 600;
/// Seconds a device waits between polls.
pub const INTERVAL_SECS: i64 = 5;
/// User-code alphabet: no vowels (no words) and no look-alikes (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

fn oauth(error: &'static str, description: &str) -> CoreError {
    CoreError::refused(error, description.to_owned())
}

/// Eight letters from [`USER_CODE_ALPHABET`], shown as `XXXX-XXXX`.
fn user_code() -> String {
    let mut out = String::with_capacity(9);
    while out.len() < 9 {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).expect("the OS random source is available");
        // 240 = 20 * 12: rejection keeps every letter equally likely.
        for x in b.iter().filter(|&&x| x < 240) {
            if out.len() == 4 {
                out.push('-');
            }
            if out.len() < 9 {
                out.push(USER_CODE_ALPHABET[(x % 20) as usize] as char);
            }
        }
    }
    out
}

/// The user code as typed: case, spaces and dashes do not matter.
fn normalize(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

impl Vestibule {
    /// `POST /user_management/authorize/device {client_id}`.
    pub async fn authorize_device(&self, fields: &Map<String, Value>) -> Result<Value> {
        let client_id = fields.get("client_id").and_then(Value::as_str).unwrap_or_default();
        let env = self
            .environment_by_client_id(client_id)
            .await?
            .ok_or_else(|| CoreError::Forbidden { code: "invalid_client", message: "Invalid client_id.".into() })?;
        let device_code = secrets::random_base62(40);
        let user = user_code();
        let now = Timestamp::now();
        let d = DeviceAuthorization {
            id: vestibule_ids::generate(Kind::DeviceAuthorization),
            device_digest: secrets::digest(&device_code),
            user_code_digest: secrets::digest(&normalize(&user)),
            status: "pending".into(),
            user_id: None,
            interval_secs: INTERVAL_SECS,
            last_poll_at: Timestamp(0),
            expires_at: now.plus_millis(EXPIRES_IN_SECS * 1000),
            created_at: now,
        };
        self.store.insert_device_authorization(&env.id, &d).await?;
        let verification_uri = format!("{}/device", self.public_url);
        Ok(json!({
            "device_code": device_code,
            "user_code": user,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user}"),
            "expires_in": EXPIRES_IN_SECS,
            "interval": INTERVAL_SECS,
        }))
    }

    /// Extension `POST /user_management/authorize/device/approve {user_code, user_id}`
    /// (`approve`) or `…/deny {user_code}`.
    pub async fn decide_device(&self, env: &str, body: &Value, approve: bool) -> Result<Value> {
        let mut f = Fields::new(body)?;
        let code = f.required_string("user_code", 32);
        let user_id = if approve { f.required_string("user_id", 100) } else { None };
        f.finish()?;
        let user = match &user_id {
            Some(id) => Some(self.get_user(env, id).await?),
            None => None,
        };
        let digest = secrets::digest(&normalize(&code.unwrap_or_default()));
        let not_found = || CoreError::NotFound { entity: "Device authorization", id: "user_code".into() };
        let d = self.store.pending_device_authorization(env, &digest, Timestamp::now()).await?.ok_or_else(not_found)?;
        let to = if approve { "approved" } else { "denied" };
        if !self.store.set_device_status(env, &d.id, "pending", to, user.as_ref().map(|u| u.id.as_str())).await? {
            return Err(not_found());
        }
        Ok(json!({"status": to}))
    }

    /// The device-code grant: pending, too fast, expired, denied, or the session.
    pub(crate) async fn sign_in_with_device_code(
        &self, env: &Environment, device_code: &str, ctx: &ClientContext,
    ) -> Result<Value> {
        let invalid = || oauth("invalid_grant", "The device code is invalid.");
        if device_code.is_empty() || device_code.len() > 128 {
            return Err(invalid());
        }
        let found = self.store.find_device_authorization(&secrets::digest(device_code)).await?;
        let Some((device_env, d)) = found.filter(|(e, _)| *e == env.id) else { return Err(invalid()) };
        let now = Timestamp::now();
        if d.expires_at <= now {
            return Err(oauth("expired_token", "The device code has expired."));
        }
        match d.status.as_str() {
            "denied" => return Err(oauth("access_denied", "The user denied the request.")),
            "used" => return Err(invalid()),
            "pending" => {
                return Err(if self.store.poll_device(&device_env, &d.id, now).await? {
                    oauth("authorization_pending", "The user has not approved the request yet.")
                } else {
                    oauth("slow_down", "Poll less often.")
                });
            }
            _ => {}
        }
        if !self.store.set_device_status(&device_env, &d.id, "approved", "used", d.user_id.as_deref()).await? {
            return Err(invalid());
        }
        let user = self.get_user(&env.id, d.user_id.as_deref().unwrap_or_default()).await?;
        self.open_session(env, user, None, Method::DeviceCode, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_two_groups_of_four_unambiguous_letters() {
        for _ in 0..50 {
            let c = user_code();
            assert_eq!(c.len(), 9, "{c}");
            assert_eq!(&c[4..5], "-");
            assert!(c.bytes().filter(|&b| b != b'-').all(|b| USER_CODE_ALPHABET.contains(&b)), "{c}");
        }
        assert_eq!(normalize("bcdf-ghjk"), normalize("BCDFGHJK "));
    }
}
