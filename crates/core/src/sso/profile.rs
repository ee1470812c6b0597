//! From IdP attributes (SAML) or claims (OIDC) to a WorkOS profile. Each field is
//! looked up under the connection's own attribute map first, then under the names the
//! common IdPs use (Okta, Entra ID, Google, ADFS, OneLogin, JumpCloud), matched without
//! regard to case.

use crate::sso::Connection;
use serde_json::{Map, Value, json};

const EMAIL: &[&str] = &[
    "email",
    "mail",
    "emailaddress",
    "email_address",
    "user.email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "preferred_username",
];
const FIRST_NAME: &[&str] = &[
    "first_name",
    "firstname",
    "givenname",
    "given_name",
    "user.firstname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
];
const LAST_NAME: &[&str] = &[
    "last_name",
    "lastname",
    "surname",
    "sn",
    "family_name",
    "familyname",
    "user.lastname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
];
const NAME: &[&str] = &[
    "name",
    "displayname",
    "display_name",
    "fullname",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
];
const GROUPS: &[&str] = &[
    "groups",
    "group",
    "memberof",
    "member_of",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
    "http://schemas.xmlsoap.org/claims/group",
    "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
];
const IDP_ID: &[&str] =
    &["http://schemas.microsoft.com/identity/claims/objectidentifier", "oid", "sub", "user_id", "userid", "uid", "id"];
const ROLE: &[&str] = &["role", "roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"];

/// The first non-empty value of an attribute, by exact name (case-insensitive).
fn lookup<'a>(raw: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    raw.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| match v {
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Null => false,
        _ => true,
    })
}

fn first_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Array(a) => a.iter().find_map(first_string),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(first_string).collect(),
        other => first_string(other).into_iter().collect(),
    }
}

fn pick<'a>(c: &Connection, raw: &'a Map<String, Value>, field: &str, defaults: &[&str]) -> Option<&'a Value> {
    if let Some(name) = c.attribute_maps.standard_attributes.get(field) {
        return lookup(raw, name);
    }
    defaults.iter().find_map(|n| lookup(raw, n))
}

/// The profile (without its `id`) for a subject of connection `c`.
pub fn map_profile(c: &Connection, subject: &str, raw: &Map<String, Value>) -> Value {
    let email = pick(c, raw, "email", EMAIL)
        .and_then(first_string)
        .or_else(|| subject.contains('@').then(|| subject.to_owned()));
    let first_name = pick(c, raw, "first_name", FIRST_NAME).and_then(first_string);
    let last_name = pick(c, raw, "last_name", LAST_NAME).and_then(first_string);
    let name = pick(c, raw, "name", NAME).and_then(first_string).or_else(|| match (&first_name, &last_name) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.clone()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    });
    let groups = pick(c, raw, "groups", GROUPS).map(strings).unwrap_or_default();
    // SAML subjects are the NameID unless the connection maps an attribute; OIDC's is `sub`.
    let idp_id = match c.attribute_maps.standard_attributes.get("idp_id") {
        Some(n) => lookup(raw, n).and_then(first_string),
        None if c.saml.is_some() => None,
        None => IDP_ID.iter().find_map(|n| lookup(raw, n)).and_then(first_string),
    }
    .unwrap_or_else(|| subject.to_owned());
    let role = pick(c, raw, "role", ROLE).and_then(first_string);
    let mut custom = Map::new();
    for (key, attr) in &c.attribute_maps.custom_attributes {
        if let Some(v) = lookup(raw, attr) {
            custom.insert(key.clone(), v.clone());
        }
    }
    json!({
        "object": "profile",
        "id": Value::Null,
        "idp_id": idp_id,
        "organization_id": c.organization_id,
        "connection_id": c.id,
        "connection_type": c.connection_type,
        "email": email.unwrap_or_default().to_lowercase(),
        "first_name": first_name,
        "last_name": last_name,
        "name": name,
        "groups": groups,
        "role": role.as_ref().map(|r| json!({"slug": r})),
        "roles": role.as_ref().map(|r| json!([{"slug": r}])),
        "custom_attributes": custom,
        "raw_attributes": raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::sso::{AttributeMaps, SamlConfig};

    fn conn(maps: AttributeMaps) -> Connection {
        Connection {
            id: "conn_1".into(),
            organization_id: Some("org_1".into()),
            connection_type: "AzureSAML".into(),
            name: "n".into(),
            state: "active".into(),
            external_key: "k".into(),
            saml: Some(SamlConfig::default()),
            oidc: None,
            attribute_maps: maps,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn entra_claim_names_are_mapped() {
        let raw: Map<String, Value> = serde_json::from_value(json!({
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": "Ada@Example.com",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": "Ada",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": "Lovelace",
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups": ["g1", "g2"],
        }))
        .unwrap();
        let p = map_profile(&conn(AttributeMaps::default()), "nameid-123", &raw);
        assert_eq!(p["email"], "ada@example.com");
        assert_eq!(p["first_name"], "Ada");
        assert_eq!(p["last_name"], "Lovelace");
        assert_eq!(p["name"], "Ada Lovelace");
        assert_eq!(p["groups"], json!(["g1", "g2"]));
        assert_eq!(p["idp_id"], "nameid-123");
    }

    #[test]
    fn okta_names_and_custom_maps() {
        let raw: Map<String, Value> =
            serde_json::from_value(json!({"firstName": "A", "lastName": "B", "dept": "R&D", "mail2": "x@y.z"}))
                .unwrap();
        let mut maps = AttributeMaps::default();
        maps.custom_attributes.insert("department".into(), "dept".into());
        maps.standard_attributes.insert("email".into(), "mail2".into());
        let p = map_profile(&conn(maps), "someone", &raw);
        assert_eq!(p["first_name"], "A");
        assert_eq!(p["email"], "x@y.z");
        assert_eq!(p["custom_attributes"], json!({"department": "R&D"}));
    }
}
