//! Abuse resistance for sign-in: failed attempts are counted in the store, per email
//! address and per client IP, in fixed windows, so every instance on the database sees
//! the same counts. Once a key reaches its limit, attempts for it are refused with 429
//! until the window ends, before any password is hashed.

use crate::Vestibule;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::time::Timestamp;

/// The keys a sign-in attempt is counted under.
pub(crate) struct Attempt {
    email_key: String,
    keys: Vec<String>,
}

impl Attempt {
    pub(crate) fn new(email: &str, ip: Option<&str>) -> Self {
        let email_key = format!("email:{email}");
        let mut keys = vec![email_key.clone()];
        if let Some(ip) = ip.filter(|s| !s.is_empty()) {
            keys.push(format!("ip:{ip}"));
        }
        Attempt { email_key, keys }
    }
}

impl Vestibule {
    fn window(&self, now: Timestamp) -> (i64, u64) {
        let w = self.authkit.lockout_window_ms.max(1000);
        let start = now.millis() - now.millis().rem_euclid(w);
        (start, ((start + w - now.millis()) / 1000).max(1) as u64)
    }

    /// Refuses the attempt when its email or IP has reached its limit in this window.
    pub(crate) async fn check_lockout(&self, env: &str, a: &Attempt) -> Result<()> {
        let (start, retry) = self.window(Timestamp::now());
        let email = self.store.sign_in_failures(env, &a.keys[..1], start).await?;
        let ip = if a.keys.len() > 1 { self.store.sign_in_failures(env, &a.keys[1..], start).await? } else { 0 };
        if email >= self.authkit.max_failures_per_email || ip >= self.authkit.max_failures_per_ip {
            return Err(CoreError::Throttled { retry_after_secs: retry });
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub(crate) async fn record_failure(&self, env: &str, a: &Attempt) -> Result<()> {
        let (start, _) = self.window(Timestamp::now());
        self.store.count_sign_in_failure(env, &a.keys, start).await?;
        Ok(())
    }

    /// Forgets the email's failures once its owner got in.
    pub(crate) async fn record_success(&self, env: &str, a: &Attempt) -> Result<()> {
        Ok(self.store.clear_sign_in_failures(env, &a.email_key).await?)
    }
}
