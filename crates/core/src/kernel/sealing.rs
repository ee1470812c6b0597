//! Secrets the server must read back (webhook signing secrets, OIDC client secrets, SAML
//! decryption keys, token signing keys) are sealed before they reach the database: AES-256-GCM
//! under the server's master key, with a fresh random nonce per value and the column and row
//! they belong to as associated data, so a sealed value copied to another row or column does
//! not open. A database dump or backup alone then reveals none of them.
//!
//! Stored form: `sealed:v1:` followed by base64 of nonce ‖ ciphertext ‖ tag. A value without
//! that prefix was written before the server had a master key and is read as it is; the server
//! seals such values when it starts with a key, and any later write of the row seals it too.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The prefix of every sealed value.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Length of a master key, in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// Why a stored secret could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The value is sealed but this server has no master key.
    #[error("a sealed secret was found but the server has no master key")]
    NoKey,
    /// Wrong master key, a value moved from another row or column, or tampering.
    #[error("a sealed secret does not open with this master key (wrong key, or the value was altered or moved)")]
    Unopenable,
}

/// Seals and opens stored secrets under one master key, or passes them through when the
/// server runs without one.
pub struct Sealer {
    key: Option<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("keyed", &self.key.is_some()).finish()
    }
}

impl Sealer {
    /// Seals under `master` (32 bytes from a CSPRNG).
    pub fn new(master: &[u8; MASTER_KEY_LEN]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, master).expect("a 32-byte key suits AES-256-GCM");
        Self { key: Some(LessSafeKey::new(key)) }
    }

    /// Stores secrets as they are: for stores opened without a master key (tests, tools).
    pub fn passthrough() -> Self {
        Self { key: None }
    }

    /// A fresh random master key.
    pub fn generate_key() -> [u8; MASTER_KEY_LEN] {
        let mut key = [0u8; MASTER_KEY_LEN];
        getrandom::fill(&mut key).expect("the OS random source is available");
        key
    }

    /// Whether values are sealed.
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// The stored form of `plaintext`, bound to `context` (column and row, e.g.
    /// `webhook_endpoints.secret/<environment>/<id>`).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let Some(key) = &self.key else { return plaintext.to_owned() };
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let mut data = plaintext.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut data)
            .expect("AES-GCM seals any length the database holds");
        let mut raw = Vec::with_capacity(NONCE_LEN + data.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&data);
        format!("{SEALED_PREFIX}{}", B64.encode(raw))
    }

    /// The plaintext of a stored value sealed under `context`; a value without the sealed
    /// prefix predates the master key and is returned as it is.
    pub fn open(&self, context: &str, stored: &str) -> Result<String, SealError> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else { return Ok(stored.to_owned()) };
        let key = self.key.as_ref().ok_or(SealError::NoKey)?;
        let mut raw = B64.decode(encoded).map_err(|_| SealError::Unopenable)?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Unopenable);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&raw[..NONCE_LEN]);
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut raw[NONCE_LEN..])
            .map_err(|_| SealError::Unopenable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context_under_their_key() {
        let sealer = Sealer::new(&Sealer::generate_key());
        let stored = sealer.seal("webhook_endpoints.secret/env_1/we_1", "whsec_abc");
        assert!(stored.starts_with(SEALED_PREFIX));
        assert!(!stored.contains("whsec_abc"));
        assert_eq!(sealer.open("webhook_endpoints.secret/env_1/we_1", &stored).unwrap(), "whsec_abc");
        // Moved to another row, or opened under another key: refused.
        assert_eq!(sealer.open("webhook_endpoints.secret/env_1/we_2", &stored), Err(SealError::Unopenable));
        let other = Sealer::new(&Sealer::generate_key());
        assert_eq!(other.open("webhook_endpoints.secret/env_1/we_1", &stored), Err(SealError::Unopenable));
        // Without a key, sealed values cannot be read at all.
        assert_eq!(Sealer::passthrough().open("webhook_endpoints.secret/env_1/we_1", &stored), Err(SealError::NoKey));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let sealer = Sealer::new(&Sealer::generate_key());
        assert_ne!(sealer.seal("c", "same"), sealer.seal("c", "same"));
    }

    #[test]
    fn tampered_truncated_and_garbled_values_are_refused() {
        let sealer = Sealer::new(&Sealer::generate_key());
        let stored = sealer.seal("c", "secret value");
        let raw = B64.decode(stored.strip_prefix(SEALED_PREFIX).unwrap()).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[i] ^= 1;
            assert_eq!(
                sealer.open("c", &format!("{SEALED_PREFIX}{}", B64.encode(&bad))),
                Err(SealError::Unopenable),
                "byte {i}"
            );
        }
        for bad in ["", "AAAA", "not base64!", &B64.encode(&raw[..NONCE_LEN + 15])] {
            assert_eq!(sealer.open("c", &format!("{SEALED_PREFIX}{bad}")), Err(SealError::Unopenable), "{bad:?}");
        }
    }

    #[test]
    fn values_from_before_the_master_key_read_as_they_are() {
        let sealer = Sealer::new(&Sealer::generate_key());
        assert_eq!(sealer.open("c", "whsec_plain").unwrap(), "whsec_plain");
        let plain = Sealer::passthrough();
        assert_eq!(plain.seal("c", "x"), "x");
        assert_eq!(plain.open("c", "x").unwrap(), "x");
    }
}
