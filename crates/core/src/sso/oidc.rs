//! OpenID Connect connections: discovery, the authorization request (code flow with
//! PKCE, `state` and `nonce`), the callback (code exchange, ID-token verification by
//! the provider's JWKS, userinfo), and the profile. Outbound HTTP goes through the
//! [`OidcHttp`] port; ID-token signatures are checked with aws-lc.

use crate::kernel::error::{CoreError, Result};
use crate::kernel::time::Timestamp;
use crate::sso::flow::{REQUEST_TTL_MS, Redirect};
use crate::sso::{Connection, OidcConfig, SsoRequest};
use crate::{Vestibule, kernel::secrets};
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

/// Outbound HTTP for OIDC. Implementations must not follow redirects, and connect only
/// to `addrs` when given (the addresses the target guard checked for that URL).
#[async_trait]
pub trait OidcHttp: Send + Sync {
    /// GET a JSON document, with a bearer token when given.
    async fn get_json(
        &self, url: &str, addrs: &[std::net::SocketAddr], bearer: Option<&str>,
    ) -> std::result::Result<Value, String>;
    /// POST a form, with HTTP Basic client authentication when given; the JSON answer.
    async fn post_form(
        &self, url: &str, addrs: &[std::net::SocketAddr], form: &[(&str, &str)], basic: Option<(&str, &str)>,
    ) -> std::result::Result<Value, String>;
    /// GET a text document (SAML IdP metadata) of at most `max_bytes`, connecting only
    /// to `addrs` when given (already checked by the target guard), following no
    /// redirect.
    async fn get_document(
        &self, _url: &str, _addrs: &[std::net::SocketAddr], _max_bytes: usize,
    ) -> std::result::Result<String, String> {
        Err("outbound HTTP is not configured".into())
    }
}

/// No outbound HTTP: every OIDC call fails (the default until a server wires one in).
pub struct NoOidcHttp;

#[async_trait]
impl OidcHttp for NoOidcHttp {
    async fn get_json(
        &self, _: &str, _: &[std::net::SocketAddr], _: Option<&str>,
    ) -> std::result::Result<Value, String> {
        Err("outbound HTTP is not configured".into())
    }
    async fn post_form(
        &self, _: &str, _: &[std::net::SocketAddr], _: &[(&str, &str)], _: Option<(&str, &str)>,
    ) -> std::result::Result<Value, String> {
        Err("outbound HTTP is not configured".into())
    }
}

/// What discovery tells us about a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Must equal the configured issuer.
    pub issuer: String,
    /// Where the browser goes.
    pub authorization_endpoint: String,
    /// Where codes are exchanged.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
    /// Extra claims, when offered.
    pub userinfo_endpoint: Option<String>,
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Verifies an ID token's signature against a JWKS and its claims against what we sent;
/// returns the claims. Reasons are short and carry no token material.
pub fn verify_id_token(
    token: &str, jwks: &Value, issuer: &str, client_id: &str, nonce: &str, now_secs: i64, skew_secs: i64,
) -> std::result::Result<Map<String, Value>, &'static str> {
    use aws_lc_rs::signature;
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || token.len() > 64 * 1024 {
        return Err("ID token is not a JWS");
    }
    let header: Value =
        unb64url(parts[0]).and_then(|b| serde_json::from_slice(&b).ok()).ok_or("ID token header unreadable")?;
    let claims: Map<String, Value> =
        unb64url(parts[1]).and_then(|b| serde_json::from_slice(&b).ok()).ok_or("ID token claims unreadable")?;
    let sig = unb64url(parts[2]).ok_or("ID token signature unreadable")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or("provider JWKS unreadable")?;
    let kty = if alg.starts_with("RS") {
        "RSA"
    } else if alg == "ES256" {
        "EC"
    } else {
        return Err("ID token algorithm not allowed");
    };
    let candidates: Vec<&Value> = keys
        .iter()
        .filter(|k| k.get("kty").and_then(Value::as_str) == Some(kty))
        .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
        .filter(|k| match kid {
            Some(kid) => k.get("kid").and_then(Value::as_str) == Some(kid),
            None => true,
        })
        .collect();
    let message = format!("{}.{}", parts[0], parts[1]);
    let verified = candidates.iter().any(|k| {
        let field = |name: &str| k.get(name).and_then(Value::as_str).and_then(unb64url);
        match alg {
            "RS256" | "RS384" | "RS512" => {
                let (Some(n), Some(e)) = (field("n"), field("e")) else { return false };
                let params: &signature::RsaParameters = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA512,
                };
                signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(params, message.as_bytes(), &sig).is_ok()
            }
            "ES256" => {
                let (Some(x), Some(y)) = (field("x"), field("y")) else { return false };
                if k.get("crv").and_then(Value::as_str) != Some("P-256") {
                    return false;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                    .verify(message.as_bytes(), &sig)
                    .is_ok()
            }
            _ => false,
        }
    });
    if !verified {
        return Err("ID token signature invalid");
    }
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err("ID token issuer mismatch");
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => {
            list.iter().any(|a| a.as_str() == Some(client_id))
                && (list.len() == 1 || claims.get("azp").and_then(Value::as_str) == Some(client_id))
        }
        _ => false,
    };
    if !aud_ok {
        return Err("ID token audience mismatch");
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp + skew_secs > now_secs => {}
        Some(_) => return Err("ID token expired"),
        None => return Err("ID token has no expiry"),
    }
    if claims.get("iat").and_then(Value::as_i64).is_some_and(|iat| iat > now_secs + skew_secs) {
        return Err("ID token issued in the future");
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(n) if secrets::digests_match(n, nonce) => {}
        _ => return Err("ID token nonce mismatch"),
    }
    if claims.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("ID token has no subject");
    }
    Ok(claims)
}

fn upstream(what: &str) -> CoreError {
    CoreError::Unavailable(what.to_owned())
}

/// The claims that describe the token rather than the user.
const TOKEN_CLAIMS: &[&str] =
    &["iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "azp", "sid", "jti"];

impl Vestibule {
    /// The addresses a provider URL may be reached at: the same policy as webhook targets
    /// (no private or reserved addresses; loopback only in `--dev`), so a connection's
    /// issuer or discovered endpoints cannot point the server at its own network.
    async fn oidc_target(&self, url: &str) -> std::result::Result<Vec<std::net::SocketAddr>, String> {
        self.webhook_targets.resolve(url).await.map_err(|why| format!("{url} is not allowed: {why}"))
    }

    /// Fetches `{issuer}/.well-known/openid-configuration` and checks it names the issuer.
    pub async fn oidc_discover(&self, cfg: &OidcConfig) -> Result<ProviderMetadata> {
        let issuer = cfg.issuer.as_deref().ok_or_else(|| upstream("OIDC connection has no issuer"))?;
        let url = format!("{issuer}/.well-known/openid-configuration");
        let addrs = self.oidc_target(&url).await.map_err(|e| upstream(&format!("OIDC discovery failed: {e}")))?;
        let doc = self
            .sso
            .oidc_http
            .get_json(&url, &addrs, None)
            .await
            .map_err(|e| upstream(&format!("OIDC discovery failed: {e}")))?;
        let get = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        let meta = ProviderMetadata {
            issuer: get("issuer").unwrap_or_default(),
            authorization_endpoint: get("authorization_endpoint").unwrap_or_default(),
            token_endpoint: get("token_endpoint").unwrap_or_default(),
            jwks_uri: get("jwks_uri").unwrap_or_default(),
            userinfo_endpoint: get("userinfo_endpoint"),
        };
        if meta.issuer.trim_end_matches('/') != issuer
            || meta.authorization_endpoint.is_empty()
            || meta.token_endpoint.is_empty()
            || meta.jwks_uri.is_empty()
        {
            return Err(upstream("OIDC discovery document does not match the issuer"));
        }
        Ok(meta)
    }

    /// The provider URL for an authorization request through OIDC connection `c`.
    pub(crate) async fn oidc_authorize_url(
        &self, env: &str, c: &Connection, mut request: SsoRequest, login_hint: Option<&str>, force: bool,
    ) -> Result<String> {
        let cfg = c.oidc.clone().unwrap_or_default();
        let meta = self.oidc_discover(&cfg).await?;
        let nonce = secrets::random_base62(32);
        let verifier = secrets::random_base62(64);
        let challenge = b64url(&sha2::Sha256::digest(verifier.as_bytes()));
        if let Value::Object(m) = &mut request.data {
            m.insert("nonce".into(), json!(nonce));
            m.insert("code_verifier".into(), json!(verifier));
        }
        let mut url = url::Url::parse(&meta.authorization_endpoint)
            .map_err(|_| upstream("OIDC authorization endpoint is not a URL"))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", cfg.client_id.as_deref().unwrap_or_default());
            q.append_pair("redirect_uri", &self.oidc_redirect_uri(c));
            q.append_pair("scope", "openid profile email");
            q.append_pair("state", &request.id);
            q.append_pair("nonce", &nonce);
            q.append_pair("code_challenge", &challenge);
            q.append_pair("code_challenge_method", "S256");
            if let Some(h) = login_hint {
                q.append_pair("login_hint", h);
            }
            if force {
                q.append_pair("prompt", "login");
            }
        }
        self.store.insert_sso_request(env, &request).await?;
        Ok(url.to_string())
    }

    /// `GET /sso/oidc/{external_key}/callback`: the provider sends the browser back with
    /// `code` and `state` (or `error`).
    pub async fn consume_oidc_callback(&self, external_key: &str, params: &Map<String, Value>) -> Result<Redirect> {
        let get = |k: &str| params.get(k).and_then(Value::as_str).filter(|s| !s.is_empty() && s.len() <= 4096);
        let Some((env, c)) = self.connection_by_key(external_key).await? else {
            return Err(CoreError::NotFound { entity: "Connection", id: external_key.to_owned() });
        };
        let refuse = |m: &str| CoreError::refused("invalid_oidc_callback", m.to_owned());
        let now = Timestamp::now();
        let request = match get("state") {
            Some(s) if s.len() <= 128 => {
                self.store.get_sso_request(&env, s, now).await?.filter(|r| r.connection_id == c.id)
            }
            _ => None,
        };
        let Some(request) = request else {
            self.record_attempt(&env, &c.id, Some("unknown or expired state")).await;
            return Err(refuse("The state does not match a pending sign-in."));
        };
        if !self.store.consume_sso_request(&env, &request.id, now).await? {
            self.record_attempt(&env, &c.id, Some("state already used")).await;
            return Err(refuse("The state was already used."));
        }
        let back = |reason: &str| {
            Redirect::To(crate::sso::flow::with_query(
                &request.redirect_uri,
                &[
                    ("error", Some("invalid_oidc_response")),
                    ("error_description", Some(reason)),
                    ("state", request.state.as_deref()),
                ],
            ))
        };
        if let Some(e) = get("error") {
            let reason = format!("provider returned {e}");
            self.record_attempt(&env, &c.id, Some(&reason)).await;
            return Ok(back(&reason));
        }
        let Some(code) = get("code") else {
            self.record_attempt(&env, &c.id, Some("no code")).await;
            return Ok(back("no code"));
        };
        if c.state != "active" {
            self.record_attempt(&env, &c.id, Some("connection not active")).await;
            return Ok(back("connection not active"));
        }
        let cfg = c.oidc.clone().unwrap_or_default();
        let (Some(issuer), Some(client_id), Some(secret)) =
            (cfg.issuer.clone(), cfg.client_id.clone(), cfg.client_secret.clone())
        else {
            return Ok(back("connection not configured"));
        };
        let outcome: std::result::Result<(Map<String, Value>, Value), String> = async {
            let meta = self.oidc_discover(&cfg).await.map_err(|e| e.to_string())?;
            let verifier = request.data.get("code_verifier").and_then(Value::as_str).unwrap_or_default().to_owned();
            let redirect_uri = self.oidc_redirect_uri(&c);
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ];
            let addrs =
                self.oidc_target(&meta.token_endpoint).await.map_err(|e| format!("code exchange failed: {e}"))?;
            let basic = Some((client_id.as_str(), secret.as_str()));
            let tokens = self
                .sso
                .oidc_http
                .post_form(&meta.token_endpoint, &addrs, &form, basic)
                .await
                .map_err(|e| format!("code exchange failed: {e}"))?;
            let id_token = tokens.get("id_token").and_then(Value::as_str).ok_or("no ID token in the token response")?;
            let addrs = self.oidc_target(&meta.jwks_uri).await.map_err(|e| format!("JWKS fetch failed: {e}"))?;
            let jwks = self
                .sso
                .oidc_http
                .get_json(&meta.jwks_uri, &addrs, None)
                .await
                .map_err(|e| format!("JWKS fetch failed: {e}"))?;
            let nonce = request.data.get("nonce").and_then(Value::as_str).unwrap_or_default();
            let mut claims = verify_id_token(
                id_token,
                &jwks,
                &issuer,
                &client_id,
                nonce,
                now.millis() / 1000,
                self.sso.clock_skew_secs,
            )?;
            let access = tokens.get("access_token").and_then(Value::as_str);
            if let (Some(url), Some(access)) = (&meta.userinfo_endpoint, access)
                && let Ok(addrs) = self.oidc_target(url).await
                && let Ok(Value::Object(info)) = self.sso.oidc_http.get_json(url, &addrs, Some(access)).await
                && info.get("sub") == claims.get("sub")
            {
                for (k, v) in info {
                    claims.entry(k).or_insert(v);
                }
            }
            let expires_at = tokens.get("expires_in").and_then(Value::as_i64).map(|s| now.millis() / 1000 + s);
            let scopes: Vec<&str> =
                tokens.get("scope").and_then(Value::as_str).map(|s| s.split(' ').collect()).unwrap_or_default();
            let oauth = json!({
                "provider": "OIDC",
                "access_token": access,
                "refresh_token": tokens.get("refresh_token"),
                "expires_at": expires_at,
                "scopes": scopes,
            });
            Ok((claims, oauth))
        }
        .await;
        let (claims, oauth) = match outcome {
            Ok(v) => v,
            Err(reason) => {
                self.record_attempt(&env, &c.id, Some(&reason)).await;
                return Ok(back(&reason));
            }
        };
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut raw = claims.clone();
        for k in TOKEN_CLAIMS {
            raw.remove(*k);
        }
        let mut profile = crate::sso::profile::map_profile(&c, &sub, &raw);
        let idp_id = profile["idp_id"].as_str().unwrap_or(&sub).to_owned();
        let id = self
            .store
            .upsert_profile(&env, &c.id, &idp_id, &vestibule_ids::generate(vestibule_ids::Kind::Profile), &profile, now)
            .await?;
        profile["id"] = json!(id);
        let code = self.issue_code_with(&env, &profile, Some(&request.data), Some(oauth)).await?;
        self.record_attempt(&env, &c.id, None).await;
        Ok(Redirect::To(crate::sso::flow::with_query(
            &request.redirect_uri,
            &[("code", Some(&code)), ("state", request.state.as_deref())],
        )))
    }
}

/// How long an OIDC authorization may take, shared with SAML.
pub const OIDC_REQUEST_TTL_MS: i64 = REQUEST_TTL_MS;

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

    fn token(claims: Value, key: &RsaKeyPair) -> String {
        let header = b64url(br#"{"alg":"RS256","kid":"k1"}"#);
        let body = b64url(claims.to_string().as_bytes());
        let msg = format!("{header}.{body}");
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg.as_bytes(), &mut sig).unwrap();
        format!("{msg}.{}", b64url(&sig))
    }

    #[test]
    fn id_tokens_are_checked_for_signature_issuer_audience_nonce_and_expiry() {
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let public = key.public_key();
        let comps = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "n": b64url(&comps.n), "e": b64url(&comps.e)}]});
        let good = json!({"iss": "https://op", "aud": "c1", "sub": "u1", "nonce": "n1", "exp": 2000, "iat": 1000});
        let check = |claims: Value| verify_id_token(&token(claims, &key), &jwks, "https://op", "c1", "n1", 1500, 60);
        assert!(check(good.clone()).is_ok());
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            c
        };
        assert_eq!(check(with("iss", json!("https://evil"))), Err("ID token issuer mismatch"));
        assert_eq!(check(with("aud", json!("c2"))), Err("ID token audience mismatch"));
        assert_eq!(check(with("nonce", json!("n2"))), Err("ID token nonce mismatch"));
        assert_eq!(check(with("exp", json!(1400))), Err("ID token expired"));
        let other = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        assert_eq!(
            verify_id_token(&token(good, &other), &jwks, "https://op", "c1", "n1", 1500, 60),
            Err("ID token signature invalid")
        );
        let none = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(b"{}"));
        assert_eq!(
            verify_id_token(&none, &jwks, "https://op", "c1", "n1", 1500, 60),
            Err("ID token algorithm not allowed")
        );
    }
}
