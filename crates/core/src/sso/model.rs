//! The SSO objects: connections with their SAML or OIDC configuration, redirect URIs,
//! pending requests, grants and login attempts.

use crate::kernel::pagination::HasId;
use crate::kernel::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use vestibule_saml::IdpSettings;

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
