//! PATCH operations as identity providers send them, applied to resources.

use super::*;
use serde_json::json;

fn run(mut doc: Value, schema: &Schema, body: Value) -> Result<Value, ScimError> {
    for op in parse_request(&body)? {
        apply(&mut doc, schema, &op)?;
    }
    normalize(&mut doc, schema);
    Ok(doc)
}

fn ops(list: Value) -> Value {
    json!({"schemas": [crate::PATCH_OP], "Operations": list})
}

#[test]
fn entra_style_operations() {
    let doc = json!({"userName": "a@x.com", "active": true, "emails": [{"type": "work", "value": "a@x.com", "primary": true}]});
    let out = run(
        doc,
        &USER,
        ops(json!([
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "b@x.com"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
            {"op": "Replace", "value": {"name.givenName": "Bea", "displayName": "Bea X"}},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
        ])),
    )
    .unwrap();
    assert_eq!(out["active"], json!(false));
    assert_eq!(out["emails"], json!([{"type": "work", "value": "b@x.com", "primary": true}]));
    assert_eq!(out["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555"}]));
    assert_eq!(out["name"], json!({"givenName": "Bea"}));
    assert_eq!(out[ENTERPRISE_SCHEMA]["department"], json!("R&D"));
    assert_eq!(out["schemas"], json!([crate::USER_SCHEMA, ENTERPRISE_SCHEMA]));
}

#[test]
fn okta_style_replace_and_removals() {
    let doc = json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}, "emails": [{"type": "work", "value": "a@x"}, {"type": "home", "value": "h@x"}]});
    let out = run(
        doc,
        &USER,
        ops(json!([
            {"op": "replace", "value": {"active": false, "name": {"familyName": "C"}}},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
            {"op": "remove", "path": "name.givenName"},
        ])),
    )
    .unwrap();
    assert_eq!(out["active"], json!(false));
    assert_eq!(out["name"], json!({"familyName": "C"}));
    assert_eq!(out["emails"], json!([{"type": "work", "value": "a@x"}]));
}

#[test]
fn bad_paths_are_refused() {
    let doc = json!({"userName": "a"});
    let e = run(doc.clone(), &USER, ops(json!([{"op": "replace", "path": "nosuchthing", "value": "x"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some("invalidPath"));
    let e = run(doc.clone(), &USER, ops(json!([{"op": "replace", "path": "name.nosuch", "value": "x"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some("invalidPath"));
    let e =
        run(doc.clone(), &USER, ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some("invalidPath"));
    let e = run(doc.clone(), &USER, ops(json!([{"op": "remove"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some("noTarget"));
    let e = run(
        doc.clone(),
        &USER,
        ops(json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "x"}}])),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some("noTarget"));
    let e = run(doc.clone(), &USER, ops(json!([{"op": "replace", "path": "id", "value": "x"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some("mutability"));
    let e = run(doc, &USER, ops(json!([{"op": "move", "path": "userName"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some("invalidSyntax"));
    // Custom extensions are the IdP's business: kept as given.
    let out = run(
        json!({"userName": "a"}),
        &USER,
        ops(json!([{"op": "add", "path": "urn:example:ext:1.0:User:badge", "value": "7"}])),
    )
    .unwrap();
    assert_eq!(out["urn:example:ext:1.0:User"], json!({"badge": "7"}));
}

#[test]
fn normalize_fixes_names_and_booleans() {
    let mut doc = json!({"USERNAME": "a", "Active": "True", "emails": {"Value": "a@x", "Primary": "false"}, "id": "x", "title": null});
    normalize(&mut doc, &USER);
    assert_eq!(
        doc,
        json!({"userName": "a", "active": true, "emails": [{"value": "a@x", "primary": false}], "schemas": [crate::USER_SCHEMA]})
    );
}
