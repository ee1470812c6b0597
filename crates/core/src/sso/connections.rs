//! Connections: created from IdP metadata (XML or a URL) or its parts, read, updated,
//! activated and deactivated, deleted, listed, their login attempts and SP metadata.

use super::model::*;
use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::{Vestibule, kernel::secrets, plausible, to_json};
use serde_json::Value;
use vestibule_ids::Kind;
use vestibule_saml::{IdpSettings, SpSettings};

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
                read_url(o, "discovery_endpoint")
                    .map(|d| d.trim_end_matches("/.well-known/openid-configuration").to_owned())
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
        for (key, target) in
            [("standard_attributes", &mut maps.standard_attributes), ("custom_attributes", &mut maps.custom_attributes)]
        {
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
        let failed = |code: &str, why: String| {
            CoreError::Invalid(vec![crate::kernel::error::FieldError::explained(field.clone(), code, why)])
        };
        let addrs =
            self.webhook_targets.resolve(url).await.map_err(|why| {
                failed("metadata_url_not_allowed", format!("The metadata URL cannot be fetched: {why}"))
            })?;
        let xml = self
            .sso
            .oidc_http
            .get_document(url, &addrs, MAX_METADATA_BYTES)
            .await
            .map_err(|why| failed("metadata_fetch_failed", format!("The metadata could not be fetched: {why}")))?;
        let parsed = vestibule_saml::parse_idp_metadata(&xml)
            .map_err(|e| failed(metadata_code(&e), format!("The fetched metadata was refused: {e}")))?;
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
    CoreError::Unusable {
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
            f.invalid(
                "connection_type",
                if connection_type.is_some() { "unsupported_connection_type" } else { "required" },
            );
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
        let connection_type = connection_type
            .unwrap_or_else(|| if proto == Protocol::Saml { "GenericSAML" } else { "GenericOIDC" }.into());
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
                let (key, cert) =
                    crate::sso::jwks::self_signed(&format!("Vestibule SP encryption {}", c.id)).map_err(|_| {
                        CoreError::Internal(StoreError::Backend("SP encryption key generation failed".into()))
                    })?;
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
            events.push(Event::new(
                env,
                "connection.activated",
                self.connection_view(env, &c).await?,
                Some(&org.id),
                now,
            ));
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
        let wanted = state.unwrap_or_else(|| {
            if current.state == "draft" && c.activatable() { "active".into() } else { current.state.clone() }
        });
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
                events.push(Event::new(
                    env,
                    name,
                    self.connection_view(env, &c).await?,
                    c.organization_id.as_deref(),
                    now,
                ));
            }
        }
        self.store.update_connection(env, &c, &events).await?;
        self.connection_view(env, &c).await
    }

    /// `DELETE /connections/{id}`.
    pub async fn delete_connection(&self, env: &str, id: &str) -> Result<()> {
        let c = self.load_connection(env, id).await?;
        let event = Event::new(
            env,
            "connection.deleted",
            self.connection_view(env, &c).await?,
            c.organization_id.as_deref(),
            Timestamp::now(),
        );
        if self.store.delete_connection(env, id, &[event]).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// `GET /connections`, filtered by organization, type or domain.
    pub async fn list_connections(
        &self, env: &str, mut filter: ConnectionFilter, domain: Option<String>, page: PageRequest,
    ) -> Result<Page<Value>> {
        if let Some(d) = domain {
            let Some(d) = crate::organizations::parse_domain(&d) else {
                return Ok(Page { data: Vec::new(), before: None, after: None });
            };
            let orgs = self
                .store
                .list_organizations(
                    env,
                    &crate::organizations::OrganizationFilter { domains: vec![d], search: None },
                    &PageRequest {
                        limit: 100,
                        before: None,
                        after: None,
                        order: crate::kernel::pagination::Order::Desc,
                    },
                )
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
        if external_key.is_empty()
            || external_key.len() > 64
            || !external_key.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Ok(None);
        }
        Ok(self.store.find_connection_by_key(external_key).await?)
    }
}
