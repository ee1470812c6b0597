//! Any JSON body an identity provider may send to PATCH a user or a group: parsing never
//! panics, and applying the parsed operations (refused or not) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use vestibule_scim::patch;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(ops) = patch::parse_request(&body) else { return };
    let mut user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@example.com",
        "active": true,
        "name": {"givenName": "Ada"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}]
    });
    let mut group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineers",
        "members": [{"value": "u1"}, {"value": "u2"}]
    });
    for op in &ops {
        let _ = patch::apply(&mut user, &patch::USER, op);
        let _ = patch::apply(&mut group, &patch::GROUP, op);
    }
});
