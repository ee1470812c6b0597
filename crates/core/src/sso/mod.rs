//! Single sign-on connections (SAML 2.0 and OpenID Connect) and the redirect URIs an
//! environment allows. The browser flow that uses them is in [`crate::sso::flow`].

pub mod flow;
pub mod jwks;
pub mod oidc;
pub mod profile;

use crate::kernel::error::{CoreError, Result};
use crate::events::Event;
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::error::StoreError;
use crate::kernel::time::Timestamp;
use crate::{plausible, kernel::secrets, to_json, Vestibule};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use vestibule_ids::Kind;
use vestibule_saml::{IdpSettings, SamlVerifier, SpSettings};

/// How SSO behaves in this process.
#[derive(Clone)]
pub struct SsoSettings {
    /// Verifies SAML responses.
    pub verifier: Arc<dyn SamlVerifier>,
    /// Tolerated clock difference with IdPs, in seconds.
    pub clock_skew_secs: i64,
    /// Accept `localhost` redirect URIs without registration (`--dev`).
    pub accept_localhost_redirects: bool,
    /// Outbound HTTP to OIDC providers.
    pub oidc_http: Arc<dyn crate::sso::oidc::OidcHttp>,
}

impl Default for SsoSettings {
    fn default() -> Self {
        SsoSettings {
            verifier: Arc::new(vestibule_saml::XmlSecVerifier),
            clock_skew_secs: 60,
            accept_localhost_redirects: false,
            oidc_http: Arc::new(crate::sso::oidc::NoOidcHttp),
        }
    }
}

/// A connection as stored; served through [`Vestibule::connection_view`].
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// `conn_…`
    pub id: String,
    /// The organization it signs users into.
    pub organization_id: Option<String>,
    /// WorkOS's type name, e.g. `OktaSAML`, `GenericOIDC`.
    pub connection_type: String,
    /// Display name.
    pub name: String,
    /// `active`, `inactive` or `draft` (not activatable yet).
    pub state: String,
    /// The opaque key in IdP-facing URLs.
    pub external_key: String,
    /// SAML settings, for SAML types.
    pub saml: Option<SamlConfig>,
    /// OIDC settings, for OIDC types.
    pub oidc: Option<OidcConfig>,
    /// Overrides of the attribute names read into profiles.
    pub attribute_maps: AttributeMaps,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl HasId for Connection {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What a SAML connection knows about its IdP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlConfig {
    /// The IdP's entity id (Issuer).
    pub idp_entity_id: Option<String>,
    /// The IdP's SSO URL.
    pub idp_sso_url: Option<String>,
    /// Its signing certificates, base64 DER.
    #[serde(default)]
    pub idp_certificates: Vec<String>,
    /// Where its metadata came from, when it came from a URL.
    pub idp_metadata_url: Option<String>,
    /// Whether unsolicited (IdP-initiated) responses are accepted.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Our certificate for assertions encrypted to us (base64 DER), published in the SP
    /// metadata; generated with the connection.
    #[serde(default)]
    pub sp_encryption_certificate: Option<String>,
    /// Its private key (base64 PKCS#8; sealed in the database under the master key).
    /// Never served.
    #[serde(default)]
    pub sp_encryption_key: Option<String>,
}

/// What an OIDC connection knows about its provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcConfig {
    /// The issuer (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: Option<String>,
    /// Our client id at the provider.
    pub client_id: Option<String>,
    /// Our client secret at the provider (sealed in the database under the master key).
    pub client_secret: Option<String>,
}

/// Attribute names that override the built-in mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMaps {
    /// Profile field (`idp_id`, `email`, `first_name`, `last_name`, `name`, `groups`) → attribute name.
    #[serde(default)]
    pub standard_attributes: BTreeMap<String, String>,
    /// Custom attribute key → attribute name.
    #[serde(default)]
    pub custom_attributes: BTreeMap<String, String>,
}

/// The protocol a connection type speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SAML 2.0.
    Saml,
    /// OpenID Connect.
    Oidc,
}

/// The protocol of a connection type, if we can create it.
pub fn protocol_of(connection_type: &str) -> Option<Protocol> {
    if connection_type.ends_with("SAML") {
        Some(Protocol::Saml)
    } else if connection_type.ends_with("OIDC") || connection_type.ends_with("Oidc") {
        Some(Protocol::Oidc)
    } else {
        None
    }
}

impl Connection {
    /// Whether it has what a login needs: for SAML an entity id, SSO URL and signing
    /// certificate; for OIDC an issuer, client id and secret.
    pub fn activatable(&self) -> bool {
        match (&self.saml, &self.oidc) {
            (Some(s), _) => s.idp_entity_id.is_some() && s.idp_sso_url.is_some() && !s.idp_certificates.is_empty(),
            (_, Some(o)) => o.issuer.is_some() && o.client_id.is_some() && o.client_secret.is_some(),
            _ => false,
        }
    }

    /// The IdP as the SAML verifier needs it.
    pub fn idp_settings(&self) -> Option<IdpSettings> {
        let s = self.saml.as_ref()?;
        Some(IdpSettings {
            entity_id: s.idp_entity_id.clone()?,
            sso_url: s.idp_sso_url.clone()?,
            certificates: s.idp_certificates.clone(),
        })
    }
}

/// An allowed redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedirectUri {
    /// Always `redirect_uri`.
    pub object: &'static str,
    /// `ruri_…`
    pub id: String,
    /// The URI, matched exactly.
    pub uri: String,
    /// Where IdP-initiated logins land.
    pub default: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Filters of `GET /connections`.
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    /// Only this organization's connections.
    pub organization_id: Option<String>,
    /// Only these organizations' connections (resolved from a domain).
    pub organization_ids: Option<Vec<String>>,
    /// Only this type.
    pub connection_type: Option<String>,
}

/// A pending authorization: a SAML AuthnRequest id or an OIDC `state`.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoRequest {
    /// The SAML request id (InResponseTo) or OIDC state.
    pub id: String,
    /// The connection it goes through.
    pub connection_id: String,
    /// Where the application wants the user back.
    pub redirect_uri: String,
    /// The application's `state`, returned as given.
    pub state: Option<String>,
    /// Protocol details: OIDC nonce and PKCE verifier, the app's code challenge.
    pub data: Value,
    /// When it stops being answerable.
    pub expires_at: Timestamp,
    /// When it was issued.
    pub created_at: Timestamp,
}

/// A code or access token, stored by digest.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoGrant {
    /// `code`, `access_token` or `logout`.
    pub kind: &'static str,
    /// The profile it is for.
    pub profile_id: String,
    /// What redeeming it yields: the profile and any OAuth tokens.
    pub data: Value,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// One login through a connection, for debugging (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginAttempt {
    /// Always `login_attempt`.
    pub object: &'static str,
    /// `login_attempt_…`
    pub id: String,
    /// The connection.
    pub connection_id: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
    /// Why it failed, e.g. `audience mismatch`; never secrets.
    pub reason: Option<String>,
    /// When it happened.
    pub created_at: Timestamp,
}

impl HasId for LoginAttempt {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Storage for SSO.
#[async_trait]
pub trait SsoStore {
    /// Inserts a connection with its events.
    async fn insert_connection(&self, env: &str, c: &Connection, events: &[Event]) -> Result<(), StoreError>;
    /// One connection.
    async fn get_connection(&self, env: &str, id: &str) -> Result<Option<Connection>, StoreError>;
    /// A connection by its external key, in any environment, with its environment id.
    async fn find_connection_by_key(&self, external_key: &str) -> Result<Option<(String, Connection)>, StoreError>;
    /// Replaces a connection row, with its events.
    async fn update_connection(&self, env: &str, c: &Connection, events: &[Event]) -> Result<(), StoreError>;
    /// Deletes a connection; false if it did not exist.
    async fn delete_connection(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// A page of connections.
    async fn list_connections(&self, env: &str, filter: &ConnectionFilter, page: &PageRequest) -> Result<Page<Connection>, StoreError>;
    /// Inserts a redirect URI.
    async fn insert_redirect_uri(&self, env: &str, r: &RedirectUri) -> Result<(), StoreError>;
    /// Every redirect URI of an environment.
    async fn list_redirect_uris(&self, env: &str) -> Result<Vec<RedirectUri>, StoreError>;
    /// Records a pending authorization.
    async fn insert_sso_request(&self, env: &str, r: &SsoRequest) -> Result<(), StoreError>;
    /// A pending authorization that has not expired.
    async fn get_sso_request(&self, env: &str, id: &str, now: Timestamp) -> Result<Option<SsoRequest>, StoreError>;
    /// Consumes a pending authorization; false if it was already consumed or expired.
    async fn consume_sso_request(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError>;
    /// Remembers an assertion id until `expires_at`; false if it was seen before.
    async fn remember_assertion(&self, env: &str, connection_id: &str, assertion_id: &str, expires_at: Timestamp) -> Result<bool, StoreError>;
    /// Inserts or refreshes the profile of (connection, idp_id); returns its stable id.
    async fn upsert_profile(&self, env: &str, connection_id: &str, idp_id: &str, new_id: &str, data: &Value, now: Timestamp) -> Result<String, StoreError>;
    /// A stored profile by id.
    async fn get_profile(&self, env: &str, id: &str) -> Result<Option<Value>, StoreError>;
    /// Stores a code or access token under `digest`.
    async fn insert_sso_grant(&self, env: &str, digest: &str, g: &SsoGrant) -> Result<(), StoreError>;
    /// Removes and returns an unexpired code (single use).
    async fn take_sso_grant(&self, digest: &str, kind: &str, now: Timestamp) -> Result<Option<(String, SsoGrant)>, StoreError>;
    /// An unexpired grant without consuming it, with its environment.
    async fn get_sso_grant(&self, digest: &str, kind: &str, now: Timestamp) -> Result<Option<(String, SsoGrant)>, StoreError>;
    /// Records a login attempt.
    async fn insert_login_attempt(&self, env: &str, a: &LoginAttempt) -> Result<(), StoreError>;
    /// A page of a connection's login attempts.
    async fn list_login_attempts(&self, env: &str, connection_id: &str, page: &PageRequest) -> Result<Page<LoginAttempt>, StoreError>;
    /// The environment's token signing key, if it has one yet.
    async fn get_signing_key(&self, env: &str) -> Result<Option<crate::sso::jwks::SigningKey>, StoreError>;
    /// Stores the environment's signing key unless it already has one (the first stays).
    async fn insert_signing_key(&self, env: &str, key: &crate::sso::jwks::SigningKey) -> Result<(), StoreError>;
    /// Drops expired requests, grants and replay-cache entries.
    async fn purge_sso(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// Seals connection secrets and signing keys stored before the server had a master key;
    /// how many rows it sealed.
    async fn reseal_sso_secrets(&self) -> Result<u64, StoreError>;
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Connection", id: id.to_owned() }
}

/// The parts of a create or update body that describe the IdP.
#[derive(Default)]
struct ProtocolInput {
    saml: Option<SamlInput>,
    oidc: Option<OidcConfig>,
}

#[derive(Default)]
struct SamlInput {
    /// `saml` or `saml_options`: where field errors point.
    key: &'static str,
    metadata: Option<IdpSettings>,
    entity_id: Option<String>,
    sso_url: Option<String>,
    certificates: Option<Vec<String>>,
    metadata_url: Option<String>,
    allow_idp_initiated: Option<bool>,
}

fn read_url(f: &mut Fields<'_>, name: &str) -> Option<String> {
    let v = f.optional_string(name, 2048)?;
    match url::Url::parse(&v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(v),
        _ => {
            f.invalid(name, "invalid_url");
            None
        }
    }
}

/// Reads `saml`/`saml_options` and `oidc`/`oidc_options` (our extension and the SDK's
/// spelling are the same object under two names).
fn read_protocol(f: &mut Fields<'_>) -> ProtocolInput {
    let mut out = ProtocolInput::default();
    for key in ["saml", "saml_options"] {
        if let Some(s) = f.object(key, false, |s| {
            let mut i = SamlInput { key, ..SamlInput::default() };
            if let Some(xml) = s.optional_string_raw("idp_metadata_xml", 1024 * 1024) {
                match vestibule_saml::parse_idp_metadata(&xml) {
                    Ok(m) => i.metadata = Some(m),
                    Err(e) => s.invalid("idp_metadata_xml", metadata_code(&e)),
                }
            }
            i.metadata_url = read_url(s, "idp_metadata_url");
            i.entity_id = s.optional_string("idp_entity_id", 1024);
            i.sso_url = read_url(s, "idp_sso_url");
            let mut certs: Vec<String> = Vec::new();
            let mut given = false;
            if let Some(pem) = s.optional_string_raw("idp_certificate", 64 * 1024) {
                given = true;
                match vestibule_saml::parse_certificate(&pem) {
                    Ok(c) => certs.push(c),
                    Err(_) => s.invalid("idp_certificate", "invalid_certificate"),
                }
            }
            if let Some(list) = s.optional_strings("idp_signing_certs", 10, 64 * 1024) {
                given = true;
                for (n, pem) in list.iter().enumerate() {
                    match vestibule_saml::parse_certificate(pem) {
                        Ok(c) => certs.push(c),
                        Err(_) => s.invalid(&format!("idp_signing_certs[{n}]"), "invalid_certificate"),
                    }
                }
            }
            if given {
                i.certificates = Some(certs);
            }
            i.allow_idp_initiated = s.optional_bool("allow_idp_initiated");
            Some(i)
        }) {
            out.saml = Some(s);
        }
    }
    for key in ["oidc", "oidc_options"] {
        if let Some(o) = f.object(key, false, |o| {
            let issuer = read_url(o, "issuer").or_else(|| {
                read_url(o, "discovery_endpoint").map(|d| d.trim_end_matches("/.well-known/openid-configuration").to_owned())
            });
            Some(OidcConfig {
                issuer: issuer.map(|i| i.trim_end_matches('/').to_owned()),
                client_id: o.optional_string("client_id", 512),
                client_secret: o.optional_string_raw("client_secret", 2048),
            })
        }) {
            out.oidc = Some(o);
        }
    }
    out
}

fn read_attribute_maps(f: &mut Fields<'_>) -> Option<AttributeMaps> {
    f.object("attribute_maps", false, |m| {
        let mut maps = AttributeMaps::default();
        for (key, target) in [("standard_attributes", &mut maps.standard_attributes), ("custom_attributes", &mut maps.custom_attributes)] {
            if let Some(Value::Object(obj)) = m.value(key) {
                for (k, v) in obj {
                    match v {
                        Value::String(s) if !s.is_empty() && s.len() <= 512 && k.len() <= 128 => {
                            target.insert(k.clone(), s.clone());
                        }
                        Value::Null => {}
                        _ => m.invalid(&format!("{key}.{k}"), "invalid_type"),
                    }
                }
            }
        }
        Some(maps)
    })
}

/// Largest IdP metadata document fetched from `idp_metadata_url` (the same bound as
/// `idp_metadata_xml`).
const MAX_METADATA_BYTES: usize = 1024 * 1024;

fn metadata_code(e: &vestibule_saml::MetadataError) -> &'static str {
    match e {
        vestibule_saml::MetadataError::BadCertificate => "invalid_certificate",
        vestibule_saml::MetadataError::NoSsoService => "missing_sso_url",
        vestibule_saml::MetadataError::NoEntityId => "missing_entity_id",
        _ => "invalid_metadata",
    }
}

impl Vestibule {
    /// Fills `i.metadata` from `i.metadata_url` when the body gave a URL and no XML: the
    /// target must pass the webhook target policy (no private addresses; loopback only
    /// in `--dev`), the answer must be a 2xx without redirect, within the size cap and
    /// the timeout, and must be valid IdP metadata. Any failure is a 422 on the field.
    async fn fetch_idp_metadata(&self, i: &mut SamlInput) -> Result<()> {
        let (Some(url), None) = (&i.metadata_url, &i.metadata) else { return Ok(()) };
        let field = format!("{}.idp_metadata_url", i.key);
        let failed = |code: &str, why: String| CoreError::Validation(vec![crate::kernel::error::FieldError::explained(field.clone(), code, why)]);
        let addrs = self
            .webhook_targets
            .resolve(url)
            .await
            .map_err(|why| failed("metadata_url_not_allowed", format!("The metadata URL cannot be fetched: {why}")))?;
        let xml = self
            .sso
            .oidc_http
            .get_document(url, &addrs, MAX_METADATA_BYTES)
            .await
            .map_err(|why| failed("metadata_fetch_failed", format!("The metadata could not be fetched: {why}")))?;
        let parsed = vestibule_saml::parse_idp_metadata(&xml).map_err(|e| failed(metadata_code(&e), format!("The fetched metadata was refused: {e}")))?;
        i.metadata = Some(parsed);
        Ok(())
    }
}

fn apply_saml(cfg: &mut SamlConfig, i: SamlInput) {
    if let Some(m) = i.metadata {
        cfg.idp_entity_id = Some(m.entity_id);
        cfg.idp_sso_url = Some(m.sso_url);
        cfg.idp_certificates = m.certificates;
    }
    if let Some(u) = i.metadata_url {
        cfg.idp_metadata_url = Some(u);
    }
    if let Some(e) = i.entity_id {
        cfg.idp_entity_id = Some(e);
    }
    if let Some(u) = i.sso_url {
        cfg.idp_sso_url = Some(u);
    }
    if let Some(c) = i.certificates {
        cfg.idp_certificates = c;
    }
    if let Some(a) = i.allow_idp_initiated {
        cfg.allow_idp_initiated = a;
    }
}

fn apply_oidc(cfg: &mut OidcConfig, i: OidcConfig) {
    if i.issuer.is_some() {
        cfg.issuer = i.issuer;
    }
    if i.client_id.is_some() {
        cfg.client_id = i.client_id;
    }
    if i.client_secret.is_some() {
        cfg.client_secret = i.client_secret;
    }
}

fn not_activatable() -> CoreError {
    CoreError::Unprocessable {
        code: "connection_not_activatable",
        message: "The connection cannot be activated: a SAML connection needs the IdP's entity id, SSO URL and signing certificate; an OIDC connection needs an issuer, client id and client secret.".into(),
    }
}

impl Vestibule {
    /// The SP side of a SAML connection: entity id, ACS and metadata URLs.
    pub fn sp_settings(&self, c: &Connection) -> SpSettings {
        let base = &self.public_url;
        let b64 = base64::engine::general_purpose::STANDARD;
        let encryption = c.saml.as_ref().and_then(|s| {
            let certificate = s.sp_encryption_certificate.clone()?;
            let private_pkcs8 = base64::Engine::decode(&b64, s.sp_encryption_key.as_deref()?).ok()?;
            Some(vestibule_saml::SpEncryptionKey { certificate, private_pkcs8 })
        });
        SpSettings {
            entity_id: format!("{base}/sso/saml/metadata/{}", c.external_key),
            acs_url: format!("{base}/sso/saml/acs/{}", c.external_key),
            metadata_url: format!("{base}/sso/saml/metadata/{}", c.external_key),
            encryption,
        }
    }

    /// The OIDC redirect URI of a connection.
    pub fn oidc_redirect_uri(&self, c: &Connection) -> String {
        format!("{}/sso/oidc/{}/callback", self.public_url, c.external_key)
    }

    /// A connection as the API serves it: the WorkOS Connection object, plus (extension)
    /// `saml` or `oidc` with what the IdP must be told. Secrets are never included.
    pub async fn connection_view(&self, env: &str, c: &Connection) -> Result<Value> {
        let domains = match &c.organization_id {
            Some(org) => match self.store.get_organization(env, org).await? {
                Some(o) => o
                    .domains
                    .iter()
                    .map(|d| serde_json::json!({"object": "connection_domain", "id": d.id, "domain": d.domain}))
                    .collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let mut v = serde_json::json!({
            "object": "connection",
            "id": c.id,
            "organization_id": c.organization_id,
            "connection_type": c.connection_type,
            "name": c.name,
            "state": c.state,
            "status": if c.state == "active" { "linked" } else { "unlinked" },
            "domains": domains,
            "external_key": c.external_key,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
        });
        if let Some(s) = &c.saml {
            let sp = self.sp_settings(c);
            v["options"] = serde_json::json!({"signing_cert": s.idp_certificates.first()});
            v["saml"] = serde_json::json!({
                "sp_entity_id": sp.entity_id,
                "acs_url": sp.acs_url,
                "sp_metadata_url": sp.metadata_url,
                "idp_entity_id": s.idp_entity_id,
                "idp_sso_url": s.idp_sso_url,
                "idp_metadata_url": s.idp_metadata_url,
                "idp_certificate_count": s.idp_certificates.len(),
                "allow_idp_initiated": s.allow_idp_initiated,
                "sp_encryption_certificate": s.sp_encryption_certificate,
            });
        }
        if let Some(o) = &c.oidc {
            v["oidc"] = serde_json::json!({
                "redirect_uri": self.oidc_redirect_uri(c),
                "issuer": o.issuer,
                "client_id": o.client_id,
                "client_secret_set": o.client_secret.is_some(),
            });
        }
        v["attribute_maps"] = to_json(&c.attribute_maps);
        Ok(v)
    }

    /// `POST /connections` (extension).
    pub async fn create_connection(&self, env: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new(body)?;
        let org_id = f.required_string("organization_id", 100);
        let connection_type = f.optional_string("connection_type", 64);
        let name = f.optional_string("name", 255);
        let state = f.optional_string("state", 20);
        let protocol = read_protocol(&mut f);
        let maps = read_attribute_maps(&mut f);
        let proto = match (&connection_type, &protocol.saml, &protocol.oidc) {
            (Some(t), _, _) => protocol_of(t),
            (None, Some(_), None) => Some(Protocol::Saml),
            (None, None, Some(_)) => Some(Protocol::Oidc),
            _ => None,
        };
        if proto.is_none() {
            f.invalid("connection_type", if connection_type.is_some() { "unsupported_connection_type" } else { "required" });
        }
        if proto == Some(Protocol::Saml) && protocol.oidc.is_some() {
            f.invalid("oidc", "not_allowed_for_saml");
        }
        if proto == Some(Protocol::Oidc) && protocol.saml.is_some() {
            f.invalid("saml", "not_allowed_for_oidc");
        }
        if let Some(s) = &state
            && s != "active"
            && s != "inactive"
        {
            f.invalid("state", "invalid");
        }
        f.finish()?;
        let org = self.get_organization(env, &org_id.unwrap_or_default()).await?;
        let mut protocol = protocol;
        if let Some(i) = protocol.saml.as_mut() {
            self.fetch_idp_metadata(i).await?;
        }
        let proto = proto.unwrap_or(Protocol::Saml);
        let connection_type = connection_type.unwrap_or_else(|| if proto == Protocol::Saml { "GenericSAML" } else { "GenericOIDC" }.into());
        let now = Timestamp::now();
        let mut c = Connection {
            id: vestibule_ids::generate(Kind::Connection),
            organization_id: Some(org.id.clone()),
            connection_type,
            name: name.unwrap_or_else(|| org.name.clone()),
            state: "draft".into(),
            external_key: secrets::random_base62(25),
            saml: None,
            oidc: None,
            attribute_maps: maps.unwrap_or_default(),
            created_at: now,
            updated_at: now,
        };
        match proto {
            Protocol::Saml => {
                let (key, cert) = crate::sso::jwks::self_signed(&format!("Vestibule SP encryption {}", c.id))
                    .map_err(|_| CoreError::Store(StoreError::Backend("SP encryption key generation failed".into())))?;
                let b64 = base64::engine::general_purpose::STANDARD;
                let mut cfg = SamlConfig {
                    sp_encryption_certificate: Some(base64::Engine::encode(&b64, cert)),
                    sp_encryption_key: Some(base64::Engine::encode(&b64, key)),
                    ..SamlConfig::default()
                };
                if let Some(i) = protocol.saml {
                    apply_saml(&mut cfg, i);
                }
                c.saml = Some(cfg);
            }
            Protocol::Oidc => {
                let mut cfg = OidcConfig::default();
                if let Some(i) = protocol.oidc {
                    apply_oidc(&mut cfg, i);
                }
                c.oidc = Some(cfg);
            }
        }
        let mut events = Vec::new();
        match state.as_deref() {
            Some("inactive") => c.state = "inactive".into(),
            Some("active") if !c.activatable() => return Err(not_activatable()),
            _ if c.activatable() => c.state = "active".into(),
            _ => {}
        }
        if c.state == "active" {
            events.push(Event::new(env, "connection.activated", self.connection_view(env, &c).await?, Some(&org.id), now));
        }
        self.store.insert_connection(env, &c, &events).await?;
        self.connection_view(env, &c).await
    }

    /// The stored connection, or 404.
    pub async fn load_connection(&self, env: &str, id: &str) -> Result<Connection> {
        if !plausible(Kind::Connection, id) {
            return Err(not_found(id));
        }
        self.store.get_connection(env, id).await?.ok_or_else(|| not_found(id))
    }

    /// `GET /connections/{id}`.
    pub async fn get_connection(&self, env: &str, id: &str) -> Result<Value> {
        let c = self.load_connection(env, id).await?;
        self.connection_view(env, &c).await
    }

    /// `PATCH /connections/{id}` (extension): the same fields as create, plus `state`.
    pub async fn update_connection(&self, env: &str, id: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new(body)?;
        let name = f.optional_string("name", 255);
        let connection_type = f.optional_string("connection_type", 64);
        let state = f.optional_string("state", 20);
        let protocol = read_protocol(&mut f);
        let maps = read_attribute_maps(&mut f);
        if let Some(s) = &state
            && s != "active"
            && s != "inactive"
        {
            f.invalid("state", "invalid");
        }
        f.finish()?;
        let current = self.load_connection(env, id).await?;
        let mut protocol = protocol;
        if let Some(i) = protocol.saml.as_mut()
            && current.saml.is_some()
        {
            self.fetch_idp_metadata(i).await?;
        }
        let mut c = current.clone();
        if let Some(t) = connection_type
            && t != c.connection_type
        {
            return Err(CoreError::field("connection_type", "immutable"));
        }
        if let Some(n) = name {
            c.name = n;
        }
        match (&mut c.saml, &mut c.oidc) {
            (Some(cfg), _) => {
                if protocol.oidc.is_some() {
                    return Err(CoreError::field("oidc", "not_allowed_for_saml"));
                }
                if let Some(i) = protocol.saml {
                    apply_saml(cfg, i);
                }
            }
            (_, Some(cfg)) => {
                if protocol.saml.is_some() {
                    return Err(CoreError::field("saml", "not_allowed_for_oidc"));
                }
                if let Some(i) = protocol.oidc {
                    apply_oidc(cfg, i);
                }
            }
            _ => {}
        }
        if let Some(m) = maps {
            c.attribute_maps = m;
        }
        let wanted = state.unwrap_or_else(|| if current.state == "draft" && c.activatable() { "active".into() } else { current.state.clone() });
        if wanted == "active" && !c.activatable() {
            return Err(not_activatable());
        }
        c.state = wanted;
        let now = Timestamp::now();
        c.updated_at = now;
        let mut events = Vec::new();
        if c.state != current.state {
            let name = match c.state.as_str() {
                "active" => Some("connection.activated"),
                _ if current.state == "active" => Some("connection.deactivated"),
                _ => None,
            };
            if let Some(name) = name {
                events.push(Event::new(env, name, self.connection_view(env, &c).await?, c.organization_id.as_deref(), now));
            }
        }
        self.store.update_connection(env, &c, &events).await?;
        self.connection_view(env, &c).await
    }

    /// `DELETE /connections/{id}`.
    pub async fn delete_connection(&self, env: &str, id: &str) -> Result<()> {
        let c = self.load_connection(env, id).await?;
        let event = Event::new(env, "connection.deleted", self.connection_view(env, &c).await?, c.organization_id.as_deref(), Timestamp::now());
        if self.store.delete_connection(env, id, &[event]).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// `GET /connections`, filtered by organization, type or domain.
    pub async fn list_connections(&self, env: &str, mut filter: ConnectionFilter, domain: Option<String>, page: PageRequest) -> Result<Page<Value>> {
        if let Some(d) = domain {
            let Some(d) = crate::organizations::parse_domain(&d) else {
                return Ok(Page { data: Vec::new(), before: None, after: None });
            };
            let orgs = self
                .store
                .list_organizations(env, &crate::organizations::OrganizationFilter { domains: vec![d], search: None }, &PageRequest { limit: 100, before: None, after: None, order: crate::kernel::pagination::Order::Desc })
                .await?;
            filter.organization_ids = Some(orgs.data.into_iter().map(|o| o.id).collect());
        }
        let page = self.store.list_connections(env, &filter, &page).await?;
        let mut data = Vec::with_capacity(page.data.len());
        for c in &page.data {
            data.push(self.connection_view(env, c).await?);
        }
        Ok(Page { data, before: page.before, after: page.after })
    }

    /// `GET /connections/{id}/login_attempts` (extension).
    pub async fn list_login_attempts(&self, env: &str, id: &str, page: PageRequest) -> Result<Page<LoginAttempt>> {
        let c = self.load_connection(env, id).await?;
        Ok(self.store.list_login_attempts(env, &c.id, &page).await?)
    }

    /// SP metadata XML of the SAML connection with `external_key`.
    pub async fn sp_metadata(&self, external_key: &str) -> Result<String> {
        let found = self.connection_by_key(external_key).await?;
        match found {
            Some((_, c)) if c.saml.is_some() => Ok(vestibule_saml::sp_metadata_xml(&self.sp_settings(&c))),
            _ => Err(CoreError::NotFound { entity: "Connection", id: external_key.to_owned() }),
        }
    }

    pub(crate) async fn connection_by_key(&self, external_key: &str) -> Result<Option<(String, Connection)>> {
        if external_key.is_empty() || external_key.len() > 64 || !external_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        Ok(self.store.find_connection_by_key(external_key).await?)
    }

    /// `POST /user_management/redirect_uris`: allows a redirect URI in this environment.
    pub async fn create_redirect_uri(&self, env: &str, body: &Value) -> Result<RedirectUri> {
        let mut f = Fields::new(body)?;
        let uri = f.required_string("uri", 2048);
        let default = f.optional_bool("default");
        if let Some(u) = &uri
            && url::Url::parse(u).is_err()
        {
            f.invalid("uri", "invalid_url");
        }
        f.finish()?;
        let now = Timestamp::now();
        let existing = self.store.list_redirect_uris(env).await?;
        let r = RedirectUri {
            object: "redirect_uri",
            id: vestibule_ids::generate(Kind::RedirectUri),
            uri: uri.unwrap_or_default(),
            default: default.unwrap_or(existing.is_empty()),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_redirect_uri(env, &r).await {
            Ok(()) => Ok(r),
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict { code: "redirect_uri_already_exists", message: "This redirect URI is already registered.".into() }),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /user_management/redirect_uris` (extension).
    pub async fn list_redirect_uris(&self, env: &str) -> Result<Vec<RedirectUri>> {
        Ok(self.store.list_redirect_uris(env).await?)
    }
}
