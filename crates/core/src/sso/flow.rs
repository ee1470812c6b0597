//! The SSO browser flow: `/sso/authorize` sends the user to the IdP, the SAML ACS
//! checks what comes back and hands the application a single-use code, `/sso/token`
//! trades the code for a profile and an access token, `/sso/profile` reads it again.

use crate::kernel::error::{CoreError, Result};
use crate::kernel::time::Timestamp;
use crate::sso::{Connection, LoginAttempt, SsoGrant, SsoRequest};
use crate::{Vestibule, kernel::secrets};
use serde_json::{Map, Value, json};
use vestibule_ids::Kind;
use vestibule_saml::{Expectations, Rejection, VerifiedAssertion};

/// How long an AuthnRequest (or OIDC state) may be answered.
pub const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
/// How long a code may be redeemed.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// The largest ACS form body read: a maximal SAMLResponse with every base64 `+`, `/`
/// and `=` percent-encoded, plus RelayState.
pub const MAX_ACS_BODY_BYTES: usize = vestibule_saml::MAX_ENCODED_RESPONSE_BYTES * 3 / 2 + 4096;
/// How long an SSO access token reads the profile.
pub const ACCESS_TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

/// Longest access token looked up (ours are RS256 JWTs of well under 1 KiB).
const MAX_ACCESS_TOKEN_BYTES: usize = 4096;

/// The query of `GET /sso/authorize`.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// The environment's client id.
    pub client_id: Option<String>,
    /// Where to send the user back.
    pub redirect_uri: Option<String>,
    /// Must be `code`.
    pub response_type: Option<String>,
    /// Returned as given.
    pub state: Option<String>,
    /// A `conn_` id.
    pub connection: Option<String>,
    /// An `org_` id.
    pub organization: Option<String>,
    /// An OAuth provider name (not offered).
    pub provider: Option<String>,
    /// A domain (deprecated selector).
    pub domain: Option<String>,
    /// Pre-fills the IdP's user field.
    pub login_hint: Option<String>,
    /// Hints the IdP's domain.
    pub domain_hint: Option<String>,
    /// `login` forces re-authentication (SAML ForceAuthn).
    pub prompt: Option<String>,
    /// PKCE challenge of the application.
    pub code_challenge: Option<String>,
    /// Must be `S256` when a challenge is given.
    pub code_challenge_method: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// A 302 to this URL (the IdP, or the application with a code or an error).
    To(String),
}

/// A failure of `/sso/token` the client can act on, with its RFC 6749 §5.2 code: a
/// request that cannot be exchanged (`invalid_request`, `invalid_grant`,
/// `unsupported_grant_type`) is refused; a client that does not prove itself
/// (`invalid_client`) is forbidden. Anything else leaves as `server_error`.
fn token_refused(error: &'static str, description: &str) -> CoreError {
    CoreError::refused(error, description.to_owned())
}

fn invalid_client(description: &str) -> CoreError {
    CoreError::Forbidden { code: "invalid_client", message: description.to_owned() }
}

fn refuse(message: &str) -> CoreError {
    CoreError::refused("invalid_request", message.to_owned())
}

/// `uri` with `pairs` added to its query.
pub(crate) fn with_query(uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut u = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return uri.to_owned(),
    };
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    u.to_string()
}

fn is_localhost(uri: &str) -> bool {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]")
}

/// A random SAML request id: an NCName, 160 bits.
fn new_request_id() -> String {
    format!("_{}", secrets::random_base62(32))
}

impl Vestibule {
    /// `GET /sso/authorize`. Errors before the redirect URI is known to be allowed are
    /// returned as errors (shown to the browser); later ones go back to the application
    /// as `error` and `error_description`.
    pub async fn authorize_sso(&self, p: AuthorizeParams) -> Result<Redirect> {
        let client_id = p.client_id.as_deref().ok_or_else(|| refuse("client_id is required."))?;
        let redirect_uri = p.redirect_uri.clone().ok_or_else(|| refuse("redirect_uri is required."))?;
        let env = self
            .store
            .list_environments()
            .await?
            .into_iter()
            .find(|e| e.client_id == client_id)
            .ok_or_else(|| refuse("client_id is not valid."))?;
        let allowed = self.store.list_redirect_uris(&env.id).await?.iter().any(|r| r.uri == redirect_uri)
            || (self.sso.accept_localhost_redirects && is_localhost(&redirect_uri));
        if !allowed {
            return Err(refuse("redirect_uri is not an allowed redirect URI for this environment."));
        }
        let back = |error: &str, description: &str| {
            Ok(Redirect::To(with_query(
                &redirect_uri,
                &[("error", Some(error)), ("error_description", Some(description)), ("state", p.state.as_deref())],
            )))
        };
        if p.response_type.as_deref() != Some("code") {
            return back("unsupported_response_type", "response_type must be code.");
        }
        if p.code_challenge.is_some() && p.code_challenge_method.as_deref().unwrap_or("S256") != "S256" {
            return back("invalid_request", "code_challenge_method must be S256.");
        }
        let connection = if let Some(id) = &p.connection {
            self.store.get_connection(&env.id, id).await?
        } else if let Some(org) = &p.organization {
            let filter = crate::sso::ConnectionFilter { organization_id: Some(org.clone()), ..Default::default() };
            let page = crate::kernel::pagination::PageRequest {
                limit: 100,
                before: None,
                after: None,
                order: crate::kernel::pagination::Order::Asc,
            };
            let all = self.store.list_connections(&env.id, &filter, &page).await?;
            all.data.into_iter().find(|c| c.state == "active")
        } else if let Some(domain) = &p.domain {
            let page = crate::kernel::pagination::PageRequest {
                limit: 100,
                before: None,
                after: None,
                order: crate::kernel::pagination::Order::Asc,
            };
            let found = self.list_connections(&env.id, Default::default(), Some(domain.clone()), page.clone()).await?;
            let id =
                found.data.iter().find(|c| c["state"] == "active").and_then(|c| c["id"].as_str()).map(str::to_owned);
            match id {
                Some(id) => self.store.get_connection(&env.id, &id).await?,
                None => None,
            }
        } else if p.provider.is_some() {
            return back(
                "invalid_request",
                "OAuth providers are not available on this server; use a connection or organization.",
            );
        } else {
            return back("invalid_request", "One of connection, organization, provider or domain is required.");
        };
        let Some(c) = connection else {
            return back("invalid_connection", "No connection matches the request.");
        };
        if c.state != "active" {
            return back("connection_inactive", "The connection is not active.");
        }
        let now = Timestamp::now();
        let mut data = Map::new();
        if let Some(ch) = &p.code_challenge {
            data.insert("code_challenge".into(), json!(ch));
        }
        // The request the IdP's answer must come back to: a SAML request id or an OIDC state.
        let pending = |id: String, data: Map<String, Value>| SsoRequest {
            id,
            connection_id: c.id.clone(),
            redirect_uri: redirect_uri.clone(),
            state: p.state.clone(),
            data: Value::Object(data),
            expires_at: now.plus_millis(REQUEST_TTL_MS),
            created_at: now,
        };
        if c.saml.is_some() {
            let Some(idp) = c.idp_settings() else {
                return back("connection_invalid", "The connection is not configured.");
            };
            let request = pending(new_request_id(), data);
            let force = p.prompt.as_deref() == Some("login");
            let url =
                vestibule_saml::authn_request_redirect(&self.sp_settings(&c), &idp, &request.id, force, &request.id)
                    .map_err(|_| CoreError::Unavailable("AuthnRequest could not be built".into()))?;
            self.store.insert_sso_request(&env.id, &request).await?;
            let url = match &p.login_hint {
                Some(h) => with_query(&url, &[("login_hint", Some(h))]),
                None => url,
            };
            return Ok(Redirect::To(url));
        }
        if c.oidc.is_some() {
            let request = pending(secrets::random_base62(32), data);
            let force = p.prompt.as_deref() == Some("login");
            return match self.oidc_authorize_url(&env.id, &c, request, p.login_hint.as_deref(), force).await {
                Ok(url) => Ok(Redirect::To(url)),
                Err(CoreError::Unavailable(e)) => {
                    self.record_attempt(&env.id, &c.id, Some(&e)).await;
                    back(
                        "connection_invalid",
                        "The identity provider could not be reached or described itself wrongly.",
                    )
                }
                Err(e) => Err(e),
            };
        }
        back("unsupported_connection", "This connection type cannot sign users in.")
    }

    pub(crate) async fn record_attempt(&self, env: &str, connection_id: &str, reason: Option<&str>) {
        let a = LoginAttempt {
            object: "login_attempt",
            id: vestibule_ids::generate(Kind::LoginAttempt),
            connection_id: connection_id.to_owned(),
            outcome: if reason.is_some() { "failed" } else { "succeeded" }.into(),
            reason: reason.map(str::to_owned),
            created_at: Timestamp::now(),
        };
        if let Err(e) = self.store.insert_login_attempt(env, &a).await {
            tracing::warn!(error = %e, "login attempt not recorded");
        }
        metrics::counter!("vestibule_sso_logins_total", "outcome" => a.outcome.clone()).increment(1);
    }

    /// `POST /sso/saml/acs/{external_key}`: the IdP's response, posted by the browser.
    /// Success and failures that can name the application go back to it by redirect;
    /// the rest are errors shown to the browser. Every outcome is recorded.
    pub async fn consume_saml_response(&self, external_key: &str, saml_response: &str) -> Result<Redirect> {
        let Some((env, c)) = self.connection_by_key(external_key).await? else {
            return Err(CoreError::NotFound { entity: "Connection", id: external_key.to_owned() });
        };
        let verifier = self.sso.verifier.clone();
        let fail_page =
            |r: Rejection| CoreError::refused("invalid_saml_response", format!("The SAML response was refused: {r}."));
        if c.saml.is_none() || c.state != "active" {
            self.record_attempt(&env, &c.id, Some("connection not active")).await;
            return Err(CoreError::refused("connection_inactive", "The connection is not active.".into()));
        }
        let decoded =
            verifier.decode(saml_response).and_then(|xml| verifier.claimed_request_id(&xml).map(|id| (xml, id)));
        let (xml, claimed) = match decoded {
            Ok(v) => v,
            Err(r) => {
                self.record_attempt(&env, &c.id, Some(&r.to_string())).await;
                return Err(fail_page(r));
            }
        };
        let now = Timestamp::now();
        let request = match &claimed {
            Some(id) if id.len() <= 128 => {
                self.store.get_sso_request(&env, id, now).await?.filter(|r| r.connection_id == c.id)
            }
            _ => None,
        };
        let saml = c.saml.clone().unwrap_or_default();
        let (redirect_uri, state) = match (&request, &claimed) {
            (Some(r), _) => (r.redirect_uri.clone(), r.state.clone()),
            (None, None) if saml.allow_idp_initiated => {
                let uris = self.store.list_redirect_uris(&env).await?;
                match uris.iter().find(|u| u.default).or(uris.first()) {
                    Some(u) => (u.uri.clone(), None),
                    None => {
                        self.record_attempt(&env, &c.id, Some("no default redirect URI for an IdP-initiated login"))
                            .await;
                        return Err(refuse("No default redirect URI is registered for IdP-initiated logins."));
                    }
                }
            }
            (None, None) => {
                self.record_attempt(&env, &c.id, Some(&Rejection::IdpInitiated.to_string())).await;
                return Err(fail_page(Rejection::IdpInitiated));
            }
            (None, Some(_)) => {
                self.record_attempt(&env, &c.id, Some(&Rejection::InResponseTo.to_string())).await;
                return Err(fail_page(Rejection::InResponseTo));
            }
        };
        let back_with_error = |r: Rejection| {
            Redirect::To(with_query(
                &redirect_uri,
                &[
                    ("error", Some("invalid_saml_response")),
                    ("error_description", Some(&format!("The SAML response was refused: {r}."))),
                    ("state", state.as_deref()),
                ],
            ))
        };
        let sp = self.sp_settings(&c);
        let Some(idp) = c.idp_settings() else {
            self.record_attempt(&env, &c.id, Some(&Rejection::NoCertificate.to_string())).await;
            return Ok(back_with_error(Rejection::NoCertificate));
        };
        let request_id = request.as_ref().map(|r| r.id.clone());
        let skew = self.sso.clock_skew_secs;
        let verified = tokio::task::spawn_blocking(move || {
            let expect = Expectations { sp: &sp, idp: &idp, request_id: request_id.as_deref(), clock_skew_secs: skew };
            verifier.verify(&xml, &expect)
        })
        .await
        .map_err(|e| CoreError::Unavailable(format!("SAML verification task failed: {e}")))?;
        let assertion = match verified {
            Ok(a) => a,
            Err(r) => {
                self.record_attempt(&env, &c.id, Some(&r.to_string())).await;
                return Ok(back_with_error(r));
            }
        };
        // Replay cache first, then the request: either refusing leaves no code behind.
        if !self
            .store
            .remember_assertion(&env, &c.id, &assertion.assertion_id, Timestamp(assertion.valid_until_ms))
            .await?
        {
            self.record_attempt(&env, &c.id, Some(&Rejection::Replayed.to_string())).await;
            return Ok(back_with_error(Rejection::Replayed));
        }
        if let Some(r) = &request
            && !self.store.consume_sso_request(&env, &r.id, now).await?
        {
            self.record_attempt(&env, &c.id, Some(&Rejection::InResponseTo.to_string())).await;
            return Ok(back_with_error(Rejection::InResponseTo));
        }
        let profile = self.saml_profile(&env, &c, &assertion).await?;
        let code = self.issue_code(&env, &profile, request.as_ref().map(|r| &r.data)).await?;
        self.record_attempt(&env, &c.id, None).await;
        Ok(Redirect::To(with_query(&redirect_uri, &[("code", Some(&code)), ("state", state.as_deref())])))
    }

    async fn issue_code(&self, env: &str, profile: &Value, request_data: Option<&Value>) -> Result<String> {
        self.issue_code_with(env, profile, request_data, None).await
    }

    /// A single-use code for `profile` (with the provider's OAuth tokens, for OIDC).
    pub(crate) async fn issue_code_with(
        &self, env: &str, profile: &Value, request_data: Option<&Value>, oauth_tokens: Option<Value>,
    ) -> Result<String> {
        let code = secrets::random_base62(32);
        let mut data = json!({"profile": profile});
        if let Some(t) = oauth_tokens {
            data["oauth_tokens"] = t;
        }
        if let Some(ch) = request_data.and_then(|d| d.get("code_challenge")) {
            data["code_challenge"] = ch.clone();
        }
        let grant = SsoGrant {
            kind: "code",
            profile_id: profile["id"].as_str().unwrap_or_default().to_owned(),
            data,
            expires_at: Timestamp::now().plus_millis(CODE_TTL_MS),
        };
        self.store.insert_sso_grant(env, &secrets::digest(&code), &grant).await?;
        Ok(code)
    }

    async fn saml_profile(&self, env: &str, c: &Connection, a: &VerifiedAssertion) -> Result<Value> {
        let mut raw = Map::new();
        for (name, values) in &a.attributes {
            let v = if values.len() == 1 { json!(values[0]) } else { json!(values) };
            raw.insert(name.clone(), v);
        }
        let mut profile = crate::sso::profile::map_profile(c, &a.name_id, &raw);
        let idp_id = profile["idp_id"].as_str().unwrap_or(&a.name_id).to_owned();
        let id = self
            .store
            .upsert_profile(env, &c.id, &idp_id, &vestibule_ids::generate(Kind::Profile), &profile, Timestamp::now())
            .await?;
        profile["id"] = json!(id);
        Ok(profile)
    }

    /// `POST /sso/token`: `client_id`, `client_secret` (an API key of the same
    /// environment), `grant_type=authorization_code`, `code`, optional `code_verifier`.
    pub async fn exchange_sso_code(&self, fields: &Map<String, Value>) -> Result<Value> {
        let get = |k: &str| fields.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        match get("grant_type") {
            Some("authorization_code") => {}
            Some(_) => return Err(token_refused("unsupported_grant_type", "grant_type must be authorization_code.")),
            None => return Err(token_refused("invalid_request", "grant_type is required.")),
        }
        let client_id = get("client_id").ok_or_else(|| invalid_client("client_id is required."))?;
        let code = get("code").ok_or_else(|| token_refused("invalid_request", "code is required."))?;
        // A confidential client proves itself with its API key; a public client (PKCE
        // without a secret) with the code verifier alone.
        let caller_env = match get("client_secret") {
            Some(secret) => {
                let caller = self
                    .authenticate(secret)
                    .await?
                    .ok_or_else(|| invalid_client("The client secret is not valid."))?;
                Some(caller.environment_id)
            }
            None if get("code_verifier").is_some() => None,
            None => {
                return Err(invalid_client("client_secret (or, for PKCE, code_verifier) is required."));
            }
        };
        let invalid = || token_refused("invalid_grant", "The code is invalid or expired.");
        if code.len() > 128 {
            return Err(invalid());
        }
        let Some((code_env, grant)) =
            self.store.take_sso_grant(&secrets::digest(code), "code", Timestamp::now()).await?
        else {
            return Err(invalid());
        };
        if caller_env.as_ref().is_some_and(|e| **e != *code_env) {
            return Err(invalid());
        }
        let env = self.store.get_environment(&code_env).await?;
        if env.as_ref().map(|e| e.client_id.as_str()) != Some(client_id) {
            return Err(invalid_client("client_id does not match the code."));
        }
        match (grant.data.get("code_challenge").and_then(Value::as_str), get("code_verifier")) {
            (Some(challenge), Some(verifier)) if !pkce_verifies(challenge, verifier) => {
                return Err(token_refused("invalid_grant", "code_verifier does not match the code challenge."));
            }
            (Some(_), None) => return Err(token_refused("invalid_grant", "code_verifier is required.")),
            (None, Some(_)) if caller_env.is_none() => return Err(invalid()),
            _ => {}
        }
        let profile = grant.data["profile"].clone();
        // The access token is a JWT signed with the environment's key (verifiable against
        // GET /sso/jwks/{client_id}); it is also stored by digest, so GET /sso/profile
        // answers only for tokens we issued and have not expired.
        let now = Timestamp::now();
        let expires_at = now.plus_millis(ACCESS_TOKEN_TTL_MS);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(format!("{}/user_management/{client_id}", self.public_url)));
        claims.insert("sub".into(), json!(grant.profile_id));
        claims.insert("aud".into(), json!(client_id));
        claims.insert("client_id".into(), json!(client_id));
        claims.insert("jti".into(), json!(secrets::random_base62(26)));
        claims.insert("iat".into(), json!(now.millis() / 1000));
        claims.insert("exp".into(), json!(expires_at.millis() / 1000));
        if let Some(org) = profile.get("organization_id").filter(|o| o.is_string()) {
            claims.insert("org_id".into(), org.clone());
        }
        let token = self.signing_key(&code_env).await?.sign_jwt(&claims)?;
        let access = SsoGrant {
            kind: "access_token",
            profile_id: grant.profile_id.clone(),
            data: json!({"profile": profile}),
            expires_at,
        };
        self.store.insert_sso_grant(&code_env, &secrets::digest(&token), &access).await?;
        let mut out = json!({
            "token_type": "Bearer",
            "access_token": token,
            "expires_in": ACCESS_TOKEN_TTL_MS / 1000,
            "profile": profile,
        });
        if let Some(t) = grant.data.get("oauth_tokens") {
            out["oauth_tokens"] = t.clone();
        }
        Ok(out)
    }

    /// `GET /sso/profile`: the profile an SSO access token was issued for; `None` for an
    /// unknown or expired token.
    pub async fn get_sso_profile(&self, access_token: &str) -> Result<Option<Value>> {
        if access_token.is_empty() || access_token.len() > MAX_ACCESS_TOKEN_BYTES {
            return Ok(None);
        }
        let found = self.store.get_sso_grant(&secrets::digest(access_token), "access_token", Timestamp::now()).await?;
        Ok(found.map(|(_, g)| g.data["profile"].clone()))
    }
}

use sha2::Digest as _;

/// How long a logout token may be used.
pub const LOGOUT_TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

impl Vestibule {
    /// `POST /sso/logout/authorize {profile_id}`: a single-use logout token and the URL
    /// that uses it.
    pub async fn authorize_sso_logout(&self, env: &str, body: &Value) -> Result<Value> {
        let mut f = crate::kernel::fields::Fields::new(body)?;
        let profile_id = f.required_string("profile_id", 100);
        f.finish()?;
        let profile_id = profile_id.unwrap_or_default();
        let not_found = || CoreError::NotFound { entity: "Profile", id: profile_id.clone() };
        if !crate::plausible(Kind::Profile, &profile_id) {
            return Err(not_found());
        }
        let profile = self.store.get_profile(env, &profile_id).await?.ok_or_else(not_found)?;
        let token = secrets::random_base62(40);
        let grant = SsoGrant {
            kind: "logout",
            profile_id: profile_id.clone(),
            data: json!({"connection_id": profile["connection_id"]}),
            expires_at: Timestamp::now().plus_millis(LOGOUT_TOKEN_TTL_MS),
        };
        self.store.insert_sso_grant(env, &secrets::digest(&token), &grant).await?;
        let logout_url = with_query(&format!("{}/sso/logout", self.public_url), &[("token", Some(&token))]);
        Ok(json!({"logout_url": logout_url, "logout_token": token}))
    }

    /// `GET /sso/logout?token=…`: ends the SSO session the token was issued for (its
    /// access tokens stop working when they expire; IdP single logout is not offered) and
    /// sends the browser to the environment's default redirect URI.
    pub async fn sso_logout(&self, token: &str) -> Result<Option<Redirect>> {
        if token.is_empty() || token.len() > 128 {
            return Err(refuse("The logout token is invalid or expired."));
        }
        let Some((env, _)) = self.store.take_sso_grant(&secrets::digest(token), "logout", Timestamp::now()).await?
        else {
            return Err(refuse("The logout token is invalid or expired."));
        };
        let uris = self.store.list_redirect_uris(&env).await?;
        Ok(uris.iter().find(|u| u.default).or(uris.first()).map(|u| Redirect::To(u.uri.clone())))
    }
}

/// Whether `verifier` is the PKCE (S256) verifier of `challenge`, compared in constant time.
pub(crate) fn pkce_verifies(challenge: &str, verifier: &str) -> bool {
    secrets::digests_match(&base64_url(&sha2::Sha256::digest(verifier.as_bytes())), challenge)
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_example() {
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(base64_url(&sha2::Sha256::digest(v.as_bytes())), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn query_is_appended_and_localhost_recognised() {
        assert_eq!(with_query("http://a/cb?x=1", &[("code", Some("c")), ("state", None)]), "http://a/cb?x=1&code=c");
        assert!(is_localhost("http://localhost:3000/cb"));
        assert!(is_localhost("http://127.0.0.1/cb"));
        assert!(!is_localhost("http://localhost.evil.com/cb"));
    }
}
