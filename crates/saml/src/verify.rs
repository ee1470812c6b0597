//! Response verification (HTTP-POST binding). The order matters: size cap, base64,
//! refusal of DTDs/entities/comments, then xmlsec signature verification reduced to the
//! signed content (samael), then the checks samael leaves to us.

use crate::metadata::{IdpSettings, SpSettings};
use crate::refuse_dangerous_markup;
use base64::Engine as _;
use chrono::Duration;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::schema::{Assertion, Response};
use samael::service_provider::{Error as SpError, ServiceProvider};

/// Largest `SAMLResponse` form value accepted, base64 as posted.
pub const MAX_ENCODED_RESPONSE_BYTES: usize = 256 * 1024;

/// What a response must match to be accepted for one connection.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// Us, for this connection (Audience, Destination, Recipient).
    pub sp: &'a SpSettings,
    /// The IdP: Issuer and signing certificates.
    pub idp: &'a IdpSettings,
    /// The AuthnRequest id we issued and have not seen answered; `None` only for an
    /// IdP-initiated login on a connection that allows it.
    pub request_id: Option<&'a str>,
    /// Tolerated clock difference with the IdP, in seconds.
    pub clock_skew_secs: i64,
}

/// A verified assertion: only what the signature covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The Assertion's ID (for the replay cache).
    pub assertion_id: String,
    /// The IdP's entity id.
    pub issuer: String,
    /// The subject's NameID.
    pub name_id: String,
    /// Its format, when given.
    pub name_id_format: Option<String>,
    /// Attributes in document order: name (or friendly name) and values.
    pub attributes: Vec<(String, Vec<String>)>,
    /// The SessionIndex of the first AuthnStatement, when given.
    pub session_index: Option<String>,
    /// Until when the assertion is valid (ms since the epoch): replay-cache lifetime.
    pub valid_until_ms: i64,
}

/// Why a response was refused, without anything secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The posted value is over [`MAX_ENCODED_RESPONSE_BYTES`].
    #[error("response too large")]
    TooLarge,
    /// Not base64, not UTF-8, not well-formed XML, or not a SAML Response.
    #[error("malformed response")]
    Malformed,
    /// A DTD, entity declaration, CDATA section or processing instruction.
    #[error("document type declarations and entities are not allowed")]
    DocumentType,
    /// An XML comment anywhere in the document.
    #[error("comments are not allowed")]
    Comment,
    /// SHA-1 (or weaker) in a signature or digest.
    #[error("weak signature algorithm")]
    WeakAlgorithm,
    /// No valid signature by the connection's certificate over the assertion.
    #[error("signature invalid or missing")]
    Signature,
    /// The connection has no IdP signing certificate.
    #[error("no IdP signing certificate configured")]
    NoCertificate,
    /// Issuer is not the IdP's entity id.
    #[error("issuer mismatch")]
    Issuer,
    /// Destination is not our ACS URL.
    #[error("destination mismatch")]
    Destination,
    /// SubjectConfirmationData Recipient is not our ACS URL.
    #[error("recipient mismatch")]
    Recipient,
    /// No AudienceRestriction naming our entity id.
    #[error("audience mismatch")]
    Audience,
    /// InResponseTo is not a request we issued (or it was already answered).
    #[error("InResponseTo does not match an issued request")]
    InResponseTo,
    /// An unsolicited response on a connection that does not allow them.
    #[error("IdP-initiated login is not enabled for this connection")]
    IdpInitiated,
    /// Past NotOnOrAfter (or the IssueInstant is too old).
    #[error("assertion expired")]
    Expired,
    /// Before NotBefore.
    #[error("assertion not yet valid")]
    NotYetValid,
    /// A bearer SubjectConfirmation with its data is missing.
    #[error("subject confirmation missing")]
    SubjectConfirmation,
    /// The subject has no NameID.
    #[error("subject NameID missing")]
    NameId,
    /// The IdP answered with a non-success status.
    #[error("IdP returned a non-success status")]
    Status,
    /// An encrypted assertion that could not be decrypted: no key on this connection,
    /// another key, a refused algorithm (RSA PKCS#1 v1.5, AES-CBC) or a broken ciphertext.
    #[error("encrypted assertion refused")]
    Encrypted,
    /// The document is not one Response holding exactly one Assertion with signatures
    /// only where SAML puts them: the shapes of signature-wrapping attacks.
    #[error("unexpected document structure (signature wrapping)")]
    Wrapping,
    /// The assertion ID was seen before.
    #[error("assertion replayed")]
    Replayed,
}

/// Verifies SAML responses. Implemented with libxmlsec1 by [`XmlSecVerifier`]; a
/// pure-Rust verifier could take its place behind the same trait.
pub trait SamlVerifier: Send + Sync {
    /// Verifies a decoded response document (see [`decode`](Self::decode)) against `expect`.
    fn verify(&self, xml: &str, expect: &Expectations<'_>) -> Result<VerifiedAssertion, Rejection>;

    /// Decodes the posted `SAMLResponse` value: size cap, base64, UTF-8, forbidden
    /// markup, and the one document shape we accept (see [`check_shape`]).
    fn decode(&self, encoded: &str) -> Result<String, Rejection> {
        if encoded.len() > MAX_ENCODED_RESPONSE_BYTES {
            return Err(Rejection::TooLarge);
        }
        let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| Rejection::Malformed)?;
        let xml = String::from_utf8(bytes).map_err(|_| Rejection::Malformed)?;
        refuse_dangerous_markup(&xml)?;
        check_shape(&xml)?;
        Ok(xml)
    }

    /// The InResponseTo a decoded response claims, unverified: only for finding which
    /// request it answers. Verification then holds it to that request.
    fn claimed_request_id(&self, xml: &str) -> Result<Option<String>, Rejection> {
        let r: Response = xml.parse().map_err(|_| Rejection::Malformed)?;
        if let Some(id) = r.in_response_to {
            return Ok(Some(id));
        }
        let from_assertion = r
            .assertion
            .as_ref()
            .and_then(|a| a.subject.as_ref())
            .and_then(|s| s.subject_confirmations.as_ref())
            .into_iter()
            .flatten()
            .find_map(|c| c.subject_confirmation_data.as_ref().and_then(|d| d.in_response_to.clone()));
        Ok(from_assertion)
    }
}

/// The libxmlsec1 verifier (through samael), with signature algorithms limited to
/// SHA-256 and stronger and the reduce-to-signed-content mode that defeats wrapping.
#[derive(Debug, Default, Clone, Copy)]
pub struct XmlSecVerifier;

const WEAK_ALGORITHMS: &[&str] =
    &["xmldsig#rsa-sha1", "xmldsig#dsa-sha1", "xmldsig#hmac-sha1", "xmldsig#sha1", "#md5", "-md5"];

fn allowed_algorithms() -> Vec<AllowedSignatureAlgorithm> {
    use AllowedSignatureAlgorithm::*;
    vec![RsaSha256, RsaSha384, RsaSha512, EcdsaSha256, EcdsaSha384, EcdsaSha512]
}

fn map_error(e: SpError) -> Rejection {
    match e {
        SpError::DestinationValidationError { .. } => Rejection::Destination,
        SpError::AssertionExpired { .. }
        | SpError::AssertionConditionExpired { .. }
        | SpError::AssertionSubjectConfirmationExpired { .. }
        | SpError::ResponseExpired { .. } => Rejection::Expired,
        SpError::AssertionConditionExpiredBefore { .. } | SpError::AssertionSubjectConfirmationExpiredBefore { .. } => {
            Rejection::NotYetValid
        }
        SpError::AssertionIssuerMismatch { .. } | SpError::ResponseIssuerMismatch { .. } => Rejection::Issuer,
        SpError::AssertionConditionAudienceRestrictionFailed { .. } => Rejection::Audience,
        SpError::AssertionRecipientMismatch { .. } => Rejection::Recipient,
        SpError::AssertionInResponseToInvalid { .. } | SpError::ResponseInResponseToInvalid { .. } => {
            Rejection::InResponseTo
        }
        SpError::ResponseBadStatusCode { .. } => Rejection::Status,
        SpError::FailedToValidateSignature => Rejection::Signature,
        SpError::AssertionBearerSubjectConfirmationMissing | SpError::AssertionSubjectConfirmationMissing => {
            Rejection::SubjectConfirmation
        }
        SpError::MissingPrivateKeySP
        | SpError::EncryptedAssertionsNotYetSupported
        | SpError::FailedToDecryptAssertion => Rejection::Encrypted,
        _ => Rejection::Malformed,
    }
}

impl SamlVerifier for XmlSecVerifier {
    fn verify(&self, xml: &str, expect: &Expectations<'_>) -> Result<VerifiedAssertion, Rejection> {
        // The decode step already refused these; a direct caller gets the same rules.
        refuse_dangerous_markup(xml)?;
        if WEAK_ALGORITHMS.iter().any(|w| xml.contains(w)) {
            return Err(Rejection::WeakAlgorithm);
        }
        check_shape(xml)?;
        // samael parses without verifying when the IdP has no signing certificate.
        if expect.idp.certificates.is_empty() {
            return Err(Rejection::NoCertificate);
        }
        // The unsigned envelope may still refuse: its Destination and Status must be ours
        // and success when present, whether or not the signature covers them.
        let envelope: Response = xml.parse().map_err(|_| Rejection::Malformed)?;
        if envelope.destination.as_deref().is_some_and(|d| d != expect.sp.acs_url) {
            return Err(Rejection::Destination);
        }
        if let Some(code) = envelope.status.as_ref().and_then(|s| s.status_code.value.as_deref())
            && code != "urn:oasis:names:tc:SAML:2.0:status:Success"
        {
            return Err(Rejection::Status);
        }
        if envelope.encrypted_assertion.is_some() {
            // Decrypted, put in its place, and the result verified from the start: the
            // assertion's own signature must cover it (a Response signature was made over
            // the ciphertext, so it cannot). The plaintext gets the same markup and
            // structure rules, and cannot carry another encrypted assertion.
            let key = expect.sp.encryption.as_ref().ok_or(Rejection::Encrypted)?;
            let spliced = crate::decrypt::decrypt_in_place(xml, &key.private_pkcs8)?;
            let plain_sp = SpSettings { encryption: None, ..expect.sp.clone() };
            let plain = Expectations { sp: &plain_sp, ..expect.clone() };
            return self.verify(&spliced, &plain);
        }
        let idp_metadata = expect.idp.metadata_xml().parse().map_err(|_| Rejection::NoCertificate)?;
        let skew = Duration::seconds(expect.clock_skew_secs.clamp(0, 600));
        let provider = ServiceProvider {
            entity_id: Some(expect.sp.entity_id.clone()),
            acs_url: Some(expect.sp.acs_url.clone()),
            metadata_url: Some(expect.sp.metadata_url.clone()),
            idp_metadata,
            allow_idp_initiated: expect.request_id.is_none(),
            max_clock_skew: skew,
            max_issue_delay: Duration::seconds(300) + skew,
            allowed_signature_algorithms: Some(allowed_algorithms()),
            ..ServiceProvider::default()
        };
        match provider.idp_signing_certs() {
            Ok(Some(c)) if !c.is_empty() => {}
            _ => return Err(Rejection::NoCertificate),
        }
        let ids = expect.request_id.map(|r| [r]);
        let assertion = provider.parse_xml_response(xml, ids.as_ref().map(|a| &a[..])).map_err(map_error)?;
        check_signed_assertion(&assertion, expect)
    }
}

const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";

/// The one shape we accept, checked before any cryptography: a `samlp:Response` root;
/// exactly one `Assertion` (or `EncryptedAssertion`), a direct child of the root; every
/// `ds:Signature` a direct child of the Response or of that Assertion; no `ds:Object`;
/// no two elements with the same `ID`. Every XSW1–8 permutation breaks one of these, so
/// wrapping is refused here even before samael reduces the document to signed content.
pub fn check_shape(xml: &str) -> Result<(), Rejection> {
    use quick_xml::events::Event as X;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut stack: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let (mut assertions, mut roots) = (0usize, 0usize);
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|_| Rejection::Malformed)?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_vec(),
            ResolveResult::Unbound => Vec::new(),
            ResolveResult::Unknown(_) => return Err(Rejection::Malformed),
        };
        let (element, empty) = match event {
            X::Start(e) => (e, false),
            X::Empty(e) => (e, true),
            X::End(_) => {
                stack.pop();
                continue;
            }
            X::Eof => break,
            X::Comment(_) => return Err(Rejection::Comment),
            X::DocType(_) | X::PI(_) | X::CData(_) => return Err(Rejection::DocumentType),
            _ => continue,
        };
        let local = element.local_name().as_ref().to_vec();
        let depth = stack.len();
        if depth == 0 {
            roots += 1;
            if roots > 1 || ns != PROTOCOL_NS || local != b"Response" {
                return Err(Rejection::Malformed);
            }
        }
        let parent = stack.last().map(|(n, l)| (n.as_slice(), l.as_slice()));
        if ns == ASSERTION_NS && (local == b"Assertion" || local == b"EncryptedAssertion") {
            assertions += 1;
            if depth != 1 {
                return Err(Rejection::Wrapping);
            }
        }
        if ns == DSIG_NS && local == b"Signature" {
            let allowed = matches!(parent, Some((PROTOCOL_NS, b"Response")) | Some((ASSERTION_NS, b"Assertion")));
            if !allowed || depth > 2 {
                return Err(Rejection::Wrapping);
            }
        }
        if ns == DSIG_NS && local == b"Object" {
            return Err(Rejection::Wrapping);
        }
        for attr in element.attributes() {
            let attr = attr.map_err(|_| Rejection::Malformed)?;
            if attr.key.as_ref() == b"ID" && !ids.insert(attr.value.to_vec()) {
                return Err(Rejection::Wrapping);
            }
        }
        if !empty {
            stack.push((ns, local));
        }
    }
    if roots != 1 || !stack.is_empty() {
        return Err(Rejection::Malformed);
    }
    if assertions != 1 {
        return Err(Rejection::Wrapping);
    }
    Ok(())
}

/// Checks samael leaves optional, on the assertion reduced to signed content.
fn check_signed_assertion(a: &Assertion, expect: &Expectations<'_>) -> Result<VerifiedAssertion, Rejection> {
    if a.issuer.value.as_deref() != Some(expect.idp.entity_id.as_str()) {
        return Err(Rejection::Issuer);
    }
    let conditions = a.conditions.as_ref().ok_or(Rejection::Audience)?;
    let audiences = conditions.audience_restrictions.as_deref().unwrap_or_default();
    // Every AudienceRestriction must name us (SAML core 2.5.1.4).
    if audiences.is_empty() || !audiences.iter().all(|r| r.audience.contains(&expect.sp.entity_id)) {
        return Err(Rejection::Audience);
    }
    let subject = a.subject.as_ref().ok_or(Rejection::NameId)?;
    let name_id = subject.name_id.as_ref().ok_or(Rejection::NameId)?;
    let value = name_id.value.trim();
    if value.is_empty() {
        return Err(Rejection::NameId);
    }
    let confirmation_end = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter_map(|c| c.subject_confirmation_data.as_ref().and_then(|d| d.not_on_or_after))
        .max();
    let valid_until = [conditions.not_on_or_after, confirmation_end]
        .into_iter()
        .flatten()
        .max()
        .map_or_else(|| chrono::Utc::now().timestamp_millis() + 3_600_000, |t| t.timestamp_millis())
        + expect.clock_skew_secs.max(0) * 1000;
    let attributes = a
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter_map(|attr| {
            let name = attr.name.clone().or_else(|| attr.friendly_name.clone())?;
            let values = attr.values.iter().filter_map(|v| v.value.clone()).collect();
            Some((name, values))
        })
        .collect();
    let session_index = a.authn_statements.iter().flatten().find_map(|s| s.session_index.clone());
    Ok(VerifiedAssertion {
        assertion_id: a.id.clone(),
        issuer: expect.idp.entity_id.clone(),
        name_id: value.to_owned(),
        name_id_format: name_id.format.clone(),
        attributes,
        session_index,
        valid_until_ms: valid_until,
    })
}
