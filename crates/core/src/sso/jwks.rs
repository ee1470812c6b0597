//! Each environment's token signing key: an RSA-2048 key pair generated on first use and
//! kept in the database, published as a JWKS at `GET /sso/jwks/{client_id}`, and used to
//! sign the access tokens the environment issues (RS256, with its `kid`).

use crate::Vestibule;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::time::Timestamp;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

/// An environment's signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// `key_…`: the JWK `kid`.
    pub id: String,
    /// The private key, PKCS#8 DER.
    pub private_pkcs8: Vec<u8>,
    /// A self-signed X.509 certificate for it, DER (the JWK's `x5c`, which the SDKs'
    /// JWKS models require).
    pub certificate_der: Vec<u8>,
    /// When it was generated.
    pub created_at: Timestamp,
}

impl SigningKey {
    /// A fresh RSA-2048 key with a ten-year self-signed certificate.
    pub fn generate() -> Result<Self> {
        let id = vestibule_ids::generate(vestibule_ids::Kind::SigningKey);
        let (private_pkcs8, certificate_der) =
            self_signed(&id).map_err(|_| internal("signing key generation failed"))?;
        Ok(SigningKey { id, private_pkcs8, certificate_der, created_at: Timestamp::now() })
    }

    /// The private key and certificate as the store keeps them (base64 DER each).
    pub fn stored_parts(&self) -> (String, String) {
        let b64 = base64::engine::general_purpose::STANDARD;
        (b64.encode(&self.private_pkcs8), b64.encode(&self.certificate_der))
    }

    /// A key read back from the store; `None` if the stored text is not base64.
    pub fn from_stored(id: String, private_key: &str, certificate: &str, created_at: Timestamp) -> Option<Self> {
        let b64 = base64::engine::general_purpose::STANDARD;
        Some(SigningKey {
            id,
            private_pkcs8: b64.decode(private_key).ok()?,
            certificate_der: b64.decode(certificate).ok()?,
            created_at,
        })
    }

    fn pair(&self) -> Result<RsaKeyPair> {
        RsaKeyPair::from_pkcs8(&self.private_pkcs8).map_err(|_| internal("stored signing key unreadable"))
    }

    /// The public half as a JWK (RS256, `use: sig`).
    pub fn public_jwk(&self) -> Result<Value> {
        let pair = self.pair()?;
        let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        Ok(json!({
            "alg": "RS256",
            "kty": "RSA",
            "use": "sig",
            "kid": self.id,
            "n": b64url(&components.n),
            "e": b64url(&components.e),
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.certificate_der)],
            "x5t#S256": b64url(&sha2::Sha256::digest(&self.certificate_der)),
        }))
    }

    /// A compact JWS (RS256) over `claims`, with this key's `kid`.
    pub fn sign_jwt(&self, claims: &Map<String, Value>) -> Result<String> {
        self.signer()?.sign(claims)
    }

    /// The parsed key, ready to sign many tokens.
    pub fn signer(&self) -> Result<Signer> {
        Ok(Signer { kid: self.id.clone(), pair: self.pair()? })
    }
}

/// Each environment's signer, with when it was loaded.
pub type SignerCache = std::sync::Mutex<std::collections::HashMap<String, (Timestamp, std::sync::Arc<Signer>)>>;

/// A signing key parsed once: RSA parsing costs more than a signature, so the access
/// tokens of an environment are signed with a cached [`Signer`].
#[derive(Debug)]
pub struct Signer {
    kid: String,
    pair: RsaKeyPair,
}

impl Signer {
    /// A compact JWS (RS256) over `claims`, with the key's `kid`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(Value::Object(claims.clone()).to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| internal("signing failed"))?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }
}

/// An RSA-2048 key (PKCS#8 DER) and a self-signed certificate for it (DER), named `cn`.
pub(crate) fn self_signed(cn: &str) -> std::result::Result<(Vec<u8>, Vec<u8>), openssl::error::ErrorStack> {
    use openssl::{asn1::Asn1Time, bn::BigNum, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = x509::X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    let mut b = x509::X509Builder::new()?;
    b.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((key.private_key_to_pkcs8()?, b.build().to_der()?))
}

/// A failure of our own (a 500): key material that cannot be produced or read.
fn internal(what: &str) -> CoreError {
    CoreError::Internal(StoreError::Backend(what.into()))
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How long a key replaced by a rotation stays in the JWKS: longer than any access token
/// lives (at most a day), so every token it signed verifies until it expires.
pub const RETIRED_KEY_PUBLISHED_MS: i64 = 24 * 3600 * 1000 + SIGNER_CACHE_MS;

/// How long an instance signs with the key it loaded before reading it again, so that a
/// rotation on one instance reaches the others.
pub const SIGNER_CACHE_MS: i64 = 60 * 1000;

/// The public JWK of a retired key, from its certificate alone.
fn retired_jwk(id: &str, certificate_b64: &str) -> Result<Value> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(certificate_b64)
        .map_err(|_| internal("retired signing key certificate unreadable"))?;
    let cert =
        openssl::x509::X509::from_der(&der).map_err(|_| internal("retired signing key certificate unreadable"))?;
    let rsa =
        cert.public_key().and_then(|k| k.rsa()).map_err(|_| internal("retired signing key certificate unreadable"))?;
    Ok(json!({
        "alg": "RS256",
        "kty": "RSA",
        "use": "sig",
        "kid": id,
        "n": b64url(&rsa.n().to_vec()),
        "e": b64url(&rsa.e().to_vec()),
        "x5c": [certificate_b64],
        "x5t#S256": b64url(&sha2::Sha256::digest(&der)),
    }))
}

/// Longest client id looked up (ours are `client_` + a ULID).
const MAX_CLIENT_ID: usize = 100;

impl Vestibule {
    /// The environment's signing key, generated and stored on first use. Concurrent
    /// first uses (several instances) agree: the store keeps the first one inserted.
    pub async fn signing_key(&self, env: &str) -> Result<SigningKey> {
        if let Some(k) = self.store.get_signing_key(env).await? {
            return Ok(k);
        }
        let fresh = SigningKey::generate()?;
        self.store.insert_signing_key(env, &fresh).await?;
        self.store.get_signing_key(env).await?.ok_or_else(|| internal("signing key missing after insert"))
    }

    /// The environment's signer, parsed once and kept for [`SIGNER_CACHE_MS`].
    pub async fn signer(&self, env: &str) -> Result<std::sync::Arc<Signer>> {
        let now = Timestamp::now();
        if let Some((loaded, s)) = self.signers.lock().unwrap_or_else(|e| e.into_inner()).get(env)
            && now.millis() - loaded.millis() < SIGNER_CACHE_MS
        {
            return Ok(s.clone());
        }
        let signer = std::sync::Arc::new(self.signing_key(env).await?.signer()?);
        self.signers.lock().unwrap_or_else(|e| e.into_inner()).insert(env.to_owned(), (now, signer.clone()));
        Ok(signer)
    }

    /// `POST /signing_keys/rotate` (extension): a new signing key for the environment. The
    /// old key signs nothing more but stays in the JWKS for [`RETIRED_KEY_PUBLISHED_MS`].
    /// Answers the JWKS, new key first.
    pub async fn rotate_signing_key(&self, env: &str) -> Result<Value> {
        self.signing_key(env).await?;
        let fresh = SigningKey::generate()?;
        self.store.rotate_signing_key(env, &fresh, Timestamp::now()).await?;
        self.signers.lock().unwrap_or_else(|e| e.into_inner()).remove(env);
        self.jwks_of(env).await
    }

    async fn jwks_of(&self, env: &str) -> Result<Value> {
        let key = self.signing_key(env).await?;
        let mut keys = vec![key.public_jwk()?];
        let since = Timestamp::now().plus_millis(-RETIRED_KEY_PUBLISHED_MS);
        for (id, certificate) in self.store.retired_signing_keys(env, since).await? {
            keys.push(retired_jwk(&id, &certificate)?);
        }
        Ok(json!({"keys": keys}))
    }

    /// The environment whose client id is `client_id`.
    pub async fn environment_by_client_id(&self, client_id: &str) -> Result<Option<crate::environments::Environment>> {
        if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID {
            return Ok(None);
        }
        Ok(self.store.list_environments().await?.into_iter().find(|e| e.client_id == client_id))
    }

    /// `GET /sso/jwks/{client_id}`: the JWKS of the environment owning `client_id`.
    pub async fn jwks(&self, client_id: &str) -> Result<Value> {
        let env = self.environment_by_client_id(client_id).await?.ok_or_else(|| CoreError::NotFound {
            entity: "Client",
            id: client_id.chars().take(MAX_CLIENT_ID).collect(),
        })?;
        self.jwks_of(&env.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_token_verifies_with_the_published_key_only() {
        let key = SigningKey::generate().unwrap();
        assert!(key.id.starts_with("key_"));
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("prof_1"));
        let token = key.sign_jwt(&claims).unwrap();
        let jwk = key.public_jwk().unwrap();
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["e"], "AQAB");
        // The certificate carries the same public key.
        let cert = openssl::x509::X509::from_der(&key.certificate_der).unwrap();
        let rsa = cert.public_key().unwrap().rsa().unwrap();
        assert_eq!(b64url(&rsa.n().to_vec()), jwk["n"].as_str().unwrap());
        assert_eq!(jwk["x5c"][0], base64::engine::general_purpose::STANDARD.encode(&key.certificate_der));
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[0]).unwrap())
                .unwrap();
        assert_eq!(header["kid"], key.id.as_str());
        let unb64 = |s: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.as_str().unwrap()).unwrap();
        let verify = |msg: &str, jwk: &Value| {
            let (n, e) = (unb64(&jwk["n"]), unb64(&jwk["e"]));
            signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    msg.as_bytes(),
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
                )
                .is_ok()
        };
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verify(&signed, &jwk));
        assert!(!verify(&format!("{}.{}x", parts[0], parts[1]), &jwk));
        let other = SigningKey::generate().unwrap().public_jwk().unwrap();
        assert!(!verify(&signed, &other));
        // The stored form reloads to the same public key.
        let (private_key, certificate) = key.stored_parts();
        let reloaded = SigningKey::from_stored(key.id.clone(), &private_key, &certificate, key.created_at).unwrap();
        assert_eq!(reloaded.public_jwk().unwrap(), jwk);
    }
}
