//! Single sign-on connections (SAML 2.0 and OpenID Connect) and the redirect URIs an
//! environment allows. The browser flow that uses them is in [`crate::sso::flow`].

pub mod connections;
pub mod flow;
pub mod jwks;
pub mod model;
pub mod oidc;
pub mod profile;
pub mod redirect_uris;
pub mod store;

pub use model::*;
pub use store::SsoStore;

use std::sync::Arc;
use vestibule_saml::SamlVerifier;

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
