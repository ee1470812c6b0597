//! SAML 2.0, service-provider side: reading IdP metadata, building AuthnRequests for the
//! HTTP-Redirect binding, publishing SP metadata, and verifying responses from the
//! HTTP-POST binding. Verification goes through samael (libxmlsec1) behind the
//! [`SamlVerifier`] trait, with checks of our own around it (see [`XmlSecVerifier`]).
//!
//! No I/O and no clocks beyond `now` handed in by the caller of [`Expectations`]; the
//! verifier is CPU-bound C, so callers run it on a blocking thread.
#![forbid(unsafe_code)]

mod decrypt;
mod metadata;
mod verify;

pub use metadata::{
    IdpSettings, MetadataError, SpEncryptionKey, SpSettings, authn_request_redirect, parse_certificate,
    parse_idp_metadata, sp_metadata_xml,
};
pub use verify::{
    Expectations, MAX_ENCODED_RESPONSE_BYTES, Rejection, SamlVerifier, VerifiedAssertion, XmlSecVerifier, check_shape,
};

/// Escapes text for an XML attribute value or element content.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Refuses markup that a SAML document never needs and attacks rely on: document type
/// declarations and entities (XXE, billion laughs), comments (NameID truncation,
/// CVE-2017-11427 class), CDATA sections and processing instructions. Runs before any
/// parser sees the document.
pub(crate) fn refuse_dangerous_markup(xml: &str) -> Result<(), Rejection> {
    let body = xml.trim_start_matches('\u{feff}').trim_start();
    // An XML declaration is the one processing instruction allowed, and only first.
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => match rest.find("?>") {
            Some(end) => &rest[end + 2..],
            None => return Err(Rejection::Malformed),
        },
        None => body,
    };
    if body.contains("<!DOCTYPE") || body.contains("<!doctype") || body.contains("<!ENTITY") {
        return Err(Rejection::DocumentType);
    }
    if body.contains("<!--") {
        return Err(Rejection::Comment);
    }
    if body.contains("<!") || body.contains("<?") {
        return Err(Rejection::DocumentType);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_markup_is_refused_before_parsing() {
        assert!(refuse_dangerous_markup("<?xml version=\"1.0\"?><a/>").is_ok());
        assert_eq!(refuse_dangerous_markup("<!DOCTYPE a [<!ENTITY x \"y\">]><a/>"), Err(Rejection::DocumentType));
        assert_eq!(refuse_dangerous_markup("<?xml version=\"1.0\"?>\n<!DOCTYPE a><a/>"), Err(Rejection::DocumentType));
        assert_eq!(refuse_dangerous_markup("<a>x<!---->y</a>"), Err(Rejection::Comment));
        assert_eq!(refuse_dangerous_markup("<a><![CDATA[x]]></a>"), Err(Rejection::DocumentType));
        assert_eq!(refuse_dangerous_markup("<a><?pi x?></a>"), Err(Rejection::DocumentType));
        assert_eq!(xml_escape("a<\"&'>"), "a&lt;&quot;&amp;&apos;&gt;");
    }
}
