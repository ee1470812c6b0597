//! Arbitrary bytes through everything an unauthenticated POST to the ACS reaches:
//! base64 decoding and markup refusal, the shape check, the unverified InResponseTo
//! lookup, encrypted-assertion parsing and decryption, and full verification
//! (libxmlsec1 via samael) against a fixed connection.
//! Nothing may panic, hang or accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vestibule_saml::{Expectations, IdpSettings, SamlVerifier, SpEncryptionKey, SpSettings, XmlSecVerifier};

/// An SP encryption key, generated once per run, so encrypted-assertion parsing and
/// decryption are reached too.
fn encryption_key() -> SpEncryptionKey {
    static KEY: OnceLock<SpEncryptionKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("key")).expect("key");
        SpEncryptionKey { certificate: String::new(), private_pkcs8: key.private_key_to_pkcs8().expect("pkcs8") }
    })
    .clone()
}

// A real self-signed certificate, so verification runs to the signature check.
const CERT: &str = "MIIBiDCCAS2gAwIBAgIUGljzKgF/D4zj3vtmN5OGSNVmuG0wCgYIKoZIzj0EAwIwGTEXMBUGA1UEAwwOdmVzdGlidWxlLWZ1enowHhcNMjYxMTI4MTYxNDA5WhcNMzYxMTI1MTYxNDA5WjAZMRcwFQYDVQQDDA52ZXN0aWJ1bGUtZnV6ejBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDJkYbC1RN9D9iiuyiGg8jo7I3RW0F4/sHlPf11jztFoGIgjLowqYdZS37fmYzq6HzKA2NHjPSTIRUSvciv+CJajUzBRMB0GA1UdDgQWBBS9Uf5zi+hfYi+a2Kgi2aSP7NUCpDAfBgNVHSMEGDAWgBS9Uf5zi+hfYi+a2Kgi2aSP7NUCpDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQCmoVpcPJBuwhR+TB5UZ6LCURkC5sar0KFw2R5k6vRpTAIhAPpOxmusmthIF6QVI+Hx5k2EqyjcL5OZSJN7hHpuAImB";

fuzz_target!(|data: &[u8]| {
    let verifier = XmlSecVerifier;
    let sp = SpSettings {
        entity_id: "https://sp.test/metadata/k".into(),
        acs_url: "https://sp.test/acs/k".into(),
        metadata_url: "https://sp.test/metadata/k".into(),
        encryption: Some(encryption_key()),
    };
    let idp = IdpSettings { entity_id: "https://idp.test".into(), sso_url: "https://idp.test/sso".into(), certificates: vec![CERT.into()] };
    let expect = Expectations { sp: &sp, idp: &idp, request_id: Some("_r1"), clock_skew_secs: 60 };
    if let Ok(text) = std::str::from_utf8(data) {
        // As posted (base64) and as already-decoded XML.
        if let Ok(xml) = verifier.decode(text) {
            let _ = verifier.claimed_request_id(&xml);
            assert!(verifier.verify(&xml, &expect).is_err());
        }
        if verifier.verify(text, &expect).is_ok() {
            panic!("an unsigned fuzz input verified");
        }
    }
});
