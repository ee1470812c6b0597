//! When and how long to wait before trying a request again.

use std::time::Duration;

/// Bounded retries with exponential backoff and jitter; `Retry-After` wins when present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each later one.
    pub initial_backoff: Duration,
    /// The longest computed backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; larger values are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three retries from 500 ms, capped at 30 s, `Retry-After` up to 60 s (as the official SDKs do).
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_retries: 0, ..RetryPolicy::default() }
    }

    /// The wait before retry number `retry` (0-based), given the server's `Retry-After`.
    pub fn delay(&self, retry: u32, retry_after: Option<u64>) -> Duration {
        if let Some(secs) = retry_after {
            return Duration::from_secs(secs).min(self.max_retry_after);
        }
        let exp = self.initial_backoff.saturating_mul(2u32.saturating_pow(retry.min(20)));
        let capped = exp.min(self.max_backoff);
        // Full range 0.5×–1.5× so that many clients retrying together spread out.
        let jitter = 0.5 + f64::from(random_u32()) / f64::from(u32::MAX);
        capped.mul_f64(jitter).min(self.max_backoff)
    }
}

/// Whether a response status is worth another attempt.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

fn random_u32() -> u32 {
    // Jitter needs no cryptographic quality; a failing OS source just means no jitter.
    getrandom::u32().unwrap_or(u32::MAX / 2)
}

/// A fresh random `Idempotency-Key` in the UUID v4 format the SDKs use.
pub fn new_idempotency_key() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // Uniqueness still matters more than unpredictability here.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        b = nanos.to_le_bytes();
        b[15] ^= std::process::id() as u8;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stays_bounded() {
        let p = RetryPolicy::default();
        for retry in 0..10 {
            let d = p.delay(retry, None);
            let nominal = Duration::from_millis(500).saturating_mul(1 << retry).min(p.max_backoff);
            assert!(d >= nominal / 2 && d <= p.max_backoff, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, Some(1)), Duration::from_secs(1));
        assert_eq!(p.delay(0, Some(3600)), Duration::from_secs(60));
    }

    #[test]
    fn idempotency_keys_look_like_uuids_and_differ() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
