//! Secrets: random tokens from the OS CSPRNG, and digests for secrets that only need
//! checking (API keys). Digests are compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `len` random base62 characters from the OS CSPRNG.
pub fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut buf = [0u8; 64];
        getrandom::fill(&mut buf).expect("the OS random source is available");
        out.push_str(&vestibule_ids::base62(&buf, len - out.len()));
    }
    out
}

/// The SHA-256 digest of a high-entropy secret, hex-encoded. API keys carry ~280 bits
/// of entropy, so a fast digest is the right tool; passwords use argon2id instead.
pub fn digest(secret: &str) -> String {
    hex::encode(raw_digest(secret))
}

/// The SHA-256 digest of a secret as bytes: what in-memory lookups key on, so that a
/// request pays for no hex encoding and no allocation.
pub fn raw_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two digests without leaking where they differ.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_base62(48);
        let b = random_base62(48);
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }

    #[test]
    fn digest_is_stable_and_compares() {
        let d = digest("sk_test_default");
        assert_eq!(d.len(), 64);
        assert!(digests_match(&d, &digest("sk_test_default")));
        assert!(!digests_match(&d, &digest("sk_test_other")));
        assert_eq!(d, hex::encode(raw_digest("sk_test_default")));
    }
}
