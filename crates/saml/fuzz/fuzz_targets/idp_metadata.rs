//! Arbitrary bytes through the XML handling that runs before any signature check:
//! IdP metadata parsing (what `POST /connections` accepts as `idp_metadata_xml` or
//! fetches from `idp_metadata_url`), certificate parsing, the refusal of DTDs,
//! entities and comments, and the structure check of a response. Nothing may panic
//! or hang; whatever metadata is accepted must be usable and must survive being
//! written out and read back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vestibule_saml::{check_shape, parse_certificate, parse_idp_metadata};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(idp) = parse_idp_metadata(text) {
        assert!(!idp.entity_id.trim().is_empty(), "accepted metadata without an entity id");
        assert!(!idp.sso_url.is_empty(), "accepted metadata without an SSO URL");
        for c in &idp.certificates {
            // What we keep is canonical base64 DER: parsing it again changes nothing.
            assert_eq!(parse_certificate(c).as_deref(), Ok(c.as_str()));
        }
        // Written out as we store it and read back, nothing changes (control characters
        // are left out: attribute-value normalization legitimately rewrites them).
        let plain = |s: &str| !s.chars().any(char::is_control);
        if plain(&idp.entity_id) && plain(&idp.sso_url) {
            assert_eq!(parse_idp_metadata(&idp.metadata_xml()).as_ref(), Ok(&idp));
        }
    }
    let _ = parse_certificate(text);
    let _ = check_shape(text);
});
