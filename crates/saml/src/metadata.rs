//! Both sides' metadata and the AuthnRequest: what we learn about an IdP (entity id, SSO
//! URL, signing certificates) and what we tell it about ourselves.

use crate::{refuse_dangerous_markup, xml_escape};
use base64::Engine as _;
use samael::metadata::EntityDescriptor;
use samael::service_provider::ServiceProvider;

/// An identity provider as a connection knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpSettings {
    /// Its entity id: the Issuer of its responses.
    pub entity_id: String,
    /// Where AuthnRequests go (HTTP-Redirect binding).
    pub sso_url: String,
    /// Its signing certificates, base64 DER (no PEM armour, no whitespace).
    pub certificates: Vec<String>,
}

impl IdpSettings {
    /// The settings as IdP metadata XML, the form samael reads them in.
    pub fn metadata_xml(&self) -> String {
        let mut keys = String::new();
        for c in &self.certificates {
            keys.push_str(&format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data>\
                 <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                xml_escape(c)
            ));
        }
        format!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{}\">\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
             <md:SingleSignOnService Binding=\"{REDIRECT}\" Location=\"{}\"/></md:IDPSSODescriptor></md:EntityDescriptor>",
            xml_escape(&self.entity_id),
            xml_escape(&self.sso_url)
        )
    }
}

/// Us, as one connection presents us to its IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpSettings {
    /// Our entity id for this connection: the Audience we require.
    pub entity_id: String,
    /// The Assertion Consumer Service URL: Destination and Recipient we require.
    pub acs_url: String,
    /// Where our metadata is served.
    pub metadata_url: String,
    /// Our key for assertions encrypted to us, when the connection has one.
    pub encryption: Option<SpEncryptionKey>,
}

/// The key pair an IdP encrypts assertions to: the certificate is published in our
/// metadata (`use="encryption"`), the private key never leaves the server.
#[derive(Clone, PartialEq, Eq)]
pub struct SpEncryptionKey {
    /// The certificate, base64 DER.
    pub certificate: String,
    /// The private key, PKCS#8 DER.
    pub private_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SpEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpEncryptionKey")
            .field("certificate", &self.certificate)
            .field("private_pkcs8", &"<redacted>")
            .finish()
    }
}

pub(crate) const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub(crate) const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub(crate) const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Why IdP metadata or a certificate was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not well-formed, or not an EntityDescriptor.
    #[error("The metadata is not a SAML EntityDescriptor.")]
    NotMetadata,
    /// The document carries a DTD, entities or comments.
    #[error("The metadata contains a document type declaration, entities or comments.")]
    Forbidden,
    /// No IDPSSODescriptor, or no SingleSignOnService in it.
    #[error("The metadata names no single sign-on service.")]
    NoSsoService,
    /// No entityID.
    #[error("The metadata has no entityID.")]
    NoEntityId,
    /// A certificate is not an X.509 certificate.
    #[error("The certificate is not a valid X.509 certificate.")]
    BadCertificate,
    /// The AuthnRequest could not be encoded.
    #[error("The authentication request could not be built.")]
    Request,
}

/// Checks a certificate (PEM, or bare base64 DER) and returns it as base64 DER.
pub fn parse_certificate(text: &str) -> Result<String, MetadataError> {
    let t = text.trim();
    let der = if t.starts_with("-----BEGIN") {
        openssl::x509::X509::from_pem(t.as_bytes())
            .and_then(|c| c.to_der())
            .map_err(|_| MetadataError::BadCertificate)?
    } else {
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        let raw =
            base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| MetadataError::BadCertificate)?;
        openssl::x509::X509::from_der(&raw).and_then(|c| c.to_der()).map_err(|_| MetadataError::BadCertificate)?
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(der))
}

/// Reads an IdP's metadata document: entity id, SSO URL (Redirect binding preferred)
/// and signing certificates (those marked `signing`, else those with no use).
pub fn parse_idp_metadata(xml: &str) -> Result<IdpSettings, MetadataError> {
    if xml.len() > 1024 * 1024 {
        return Err(MetadataError::NotMetadata);
    }
    refuse_dangerous_markup(xml).map_err(|_| MetadataError::Forbidden)?;
    if !root_is_entity_descriptor(xml) {
        return Err(MetadataError::NotMetadata);
    }
    let ed: EntityDescriptor = xml.parse().map_err(|_| MetadataError::NotMetadata)?;
    let entity_id = ed.entity_id.clone().filter(|e| !e.trim().is_empty()).ok_or(MetadataError::NoEntityId)?;
    let descriptors = ed.idp_sso_descriptors.as_deref().unwrap_or_default();
    let services: Vec<_> = descriptors.iter().flat_map(|d| d.single_sign_on_services.iter()).collect();
    let sso_url = services
        .iter()
        .find(|s| s.binding == REDIRECT)
        .or_else(|| services.iter().find(|s| s.binding == POST))
        .map(|s| s.location.clone())
        .ok_or(MetadataError::NoSsoService)?;
    let keys: Vec<_> = descriptors.iter().flat_map(|d| d.key_descriptors.iter()).collect();
    let signing: Vec<_> = keys.iter().filter(|k| k.key_use.as_deref() == Some("signing")).collect();
    let chosen = if signing.is_empty() {
        keys.iter().filter(|k| k.key_use.as_deref().is_none_or(str::is_empty)).collect()
    } else {
        signing
    };
    let mut certificates = Vec::new();
    for k in chosen {
        for c in k.key_info.x509_data.iter().flat_map(|x| x.certificates.iter()) {
            let c = parse_certificate(c)?;
            if !certificates.contains(&c) {
                certificates.push(c);
            }
        }
    }
    Ok(IdpSettings { entity_id, sso_url, certificates })
}

/// Whether the document element is `md:EntityDescriptor` (an HTML login page or any
/// other XML is not metadata, whatever a lenient deserializer makes of it).
fn root_is_entity_descriptor(xml: &str) -> bool {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(e) | Event::Empty(e))) => {
                return matches!(ns, ResolveResult::Bound(n) if n.as_ref() == b"urn:oasis:names:tc:SAML:2.0:metadata")
                    && e.local_name().as_ref() == b"EntityDescriptor";
            }
            Ok((_, Event::Eof)) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// Our metadata for one connection: entity id and ACS (HTTP-POST). We want signed
/// assertions and do not sign our requests.
pub fn sp_metadata_xml(sp: &SpSettings) -> String {
    let encryption = sp.encryption.as_ref().map_or_else(String::new, |k| {
        format!(
            "\x20   <md:KeyDescriptor use=\"encryption\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data>\
             <ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             <md:EncryptionMethod Algorithm=\"{AES256_GCM}\"/><md:EncryptionMethod Algorithm=\"{AES128_GCM}\"/>\
             <md:EncryptionMethod Algorithm=\"{RSA_OAEP_MGF1P}\"/></md:KeyDescriptor>\n",
            xml_escape(&k.certificate)
        )
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{}\">\n\
         \x20 <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
         {encryption}\
         \x20   <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n\
         \x20   <md:AssertionConsumerService Binding=\"{POST}\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>\n\
         \x20 </md:SPSSODescriptor>\n\
         </md:EntityDescriptor>\n",
        xml_escape(&sp.entity_id),
        xml_escape(&sp.acs_url)
    )
}

/// The IdP URL that carries an AuthnRequest with id `request_id` by the HTTP-Redirect
/// binding (deflated, base64, unsigned), with `relay_state`.
pub fn authn_request_redirect(
    sp: &SpSettings, idp: &IdpSettings, request_id: &str, force_authn: bool, relay_state: &str,
) -> Result<String, MetadataError> {
    let provider = ServiceProvider {
        entity_id: Some(sp.entity_id.clone()),
        acs_url: Some(sp.acs_url.clone()),
        metadata_url: Some(sp.metadata_url.clone()),
        force_authn,
        ..ServiceProvider::default()
    };
    let mut request = provider.make_authentication_request(&idp.sso_url).map_err(|_| MetadataError::Request)?;
    request.id = request_id.to_owned();
    let url = request.redirect(relay_state).map_err(|_| MetadataError::Request)?.ok_or(MetadataError::Request)?;
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_without_sso_service_or_with_dtd_is_refused() {
        let no_sso = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>"#;
        assert_eq!(parse_idp_metadata(no_sso), Err(MetadataError::NoSsoService));
        assert_eq!(parse_idp_metadata("<!DOCTYPE x><x/>"), Err(MetadataError::Forbidden));
        assert_eq!(parse_idp_metadata("<x/>"), Err(MetadataError::NotMetadata));
        assert_eq!(parse_idp_metadata("<html><body>Sign in</body></html>"), Err(MetadataError::NotMetadata));
        let no_entity_id = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>"#;
        assert_eq!(parse_idp_metadata(no_entity_id), Err(MetadataError::NoEntityId));
        assert_eq!(parse_idp_metadata("<x"), Err(MetadataError::NotMetadata));
        assert_eq!(parse_certificate("not a cert"), Err(MetadataError::BadCertificate));
    }

    #[test]
    fn generated_idp_metadata_round_trips() {
        let idp = IdpSettings {
            entity_id: "https://idp.example/&x".into(),
            sso_url: "https://idp.example/sso".into(),
            certificates: vec![],
        };
        let back = parse_idp_metadata(&idp.metadata_xml()).unwrap();
        assert_eq!(back, idp);
    }

    #[test]
    fn authn_request_goes_to_the_sso_url_with_our_id() {
        let sp = SpSettings {
            entity_id: "https://sp/e".into(),
            acs_url: "https://sp/acs".into(),
            metadata_url: "https://sp/m".into(),
            encryption: None,
        };
        let idp =
            IdpSettings { entity_id: "i".into(), sso_url: "https://idp.example/sso?a=1".into(), certificates: vec![] };
        let url = authn_request_redirect(&sp, &idp, "_req1", false, "rs").unwrap();
        assert!(url.starts_with("https://idp.example/sso?a=1&SAMLRequest="), "{url}");
        assert!(url.ends_with("&RelayState=rs"));
    }
}
