//! Any text an identity provider may send as `filter=`: parsing never panics, and a
//! parsed filter matches a user without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use vestibule_scim::filter;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = filter::parse(text) {
        let user = json!({
            "userName": "ada@example.com",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "meta": {"lastModified": "2026-12-07T00:00:00Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        });
        let _ = filter::matches(&f, &user);
    }
});
