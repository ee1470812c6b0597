//! The discovery documents a SCIM service provider publishes (RFC 7643 §5–7): the
//! `/Schemas` of Users, the enterprise extension and Groups, and the `/ResourceTypes`.

use crate::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{Value, json};

/// The schemas the service provider publishes at `/Schemas`: the resources' and the
/// three that describe discovery itself (RFC 7643 §5–7).
pub fn schemas() -> Vec<Value> {
    vec![
        user_schema(),
        enterprise_schema(),
        group_schema(),
        meta_schema(
            "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
            "ServiceProviderConfig",
            &["documentationUri"],
        ),
        meta_schema(
            "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
            "ResourceType",
            &["id", "name", "description", "endpoint", "schema"],
        ),
        meta_schema("urn:ietf:params:scim:schemas:core:2.0:Schema", "Schema", &["id", "name", "description"]),
    ]
}

fn meta_schema(id: &str, name: &str, attrs: &[&str]) -> Value {
    let attributes = attrs
        .iter()
        .map(|a| {
            let mut v = attr(a, "string", false, false, false, "readOnly", "none");
            if *a == "id" || *a == "endpoint" || *a == "schema" {
                v["required"] = json!(true);
            }
            if *a == "documentationUri" || *a == "endpoint" || *a == "schema" {
                v["type"] = json!("reference");
                v["referenceTypes"] = json!(["uri"]);
            }
            v
        })
        .collect();
    schema_doc(id, name, attributes)
}

fn reference(name: &str, types: &[&str], mutability: &str) -> Value {
    let mut a = attr(name, "reference", false, false, false, mutability, "none");
    a["referenceTypes"] = json!(types);
    a
}

fn attr(
    name: &str, kind: &str, multi: bool, required: bool, case_exact: bool, mutability: &str, uniqueness: &str,
) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "description": name, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": "default", "uniqueness": uniqueness,
    })
}

fn string(name: &str) -> Value {
    attr(name, "string", false, false, false, "readWrite", "none")
}

fn complex(name: &str, multi: bool, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, false, false, "readWrite", "none");
    a["subAttributes"] = Value::Array(subs);
    a
}

fn multi_subs(with_primary: bool) -> Vec<Value> {
    let mut v = vec![string("value"), string("display"), string("type")];
    if with_primary {
        v.push(attr("primary", "boolean", false, false, false, "readWrite", "none"));
    }
    v
}

fn schema_doc(id: &str, name: &str, attributes: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id, "name": name, "description": name, "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("/Schemas/{id}")},
    })
}

fn user_schema() -> Value {
    schema_doc(
        USER_SCHEMA,
        "User",
        vec![
            attr("userName", "string", false, true, false, "readWrite", "server"),
            complex(
                "name",
                false,
                vec![
                    string("formatted"),
                    string("familyName"),
                    string("givenName"),
                    string("middleName"),
                    string("honorificPrefix"),
                    string("honorificSuffix"),
                ],
            ),
            string("displayName"),
            string("nickName"),
            string("title"),
            string("userType"),
            string("preferredLanguage"),
            string("locale"),
            string("timezone"),
            attr("active", "boolean", false, false, false, "readWrite", "none"),
            complex("emails", true, multi_subs(true)),
            complex("phoneNumbers", true, multi_subs(true)),
            complex("roles", true, multi_subs(true)),
            {
                let read_only = |mut a: Value| {
                    a["mutability"] = json!("readOnly");
                    a
                };
                read_only(complex(
                    "groups",
                    true,
                    vec![
                        read_only(string("value")),
                        reference("$ref", &["Group"], "readOnly"),
                        read_only(string("display")),
                    ],
                ))
            },
        ],
    )
}

fn enterprise_schema() -> Value {
    schema_doc(
        ENTERPRISE_SCHEMA,
        "EnterpriseUser",
        vec![
            string("employeeNumber"),
            string("costCenter"),
            string("organization"),
            string("division"),
            string("department"),
            complex("manager", false, vec![string("value"), string("displayName")]),
        ],
    )
}

fn group_schema() -> Value {
    schema_doc(
        GROUP_SCHEMA,
        "Group",
        vec![
            attr("displayName", "string", false, true, false, "readWrite", "none"),
            complex(
                "members",
                true,
                vec![
                    attr("value", "string", false, false, true, "immutable", "none"),
                    reference("$ref", &["User", "Group"], "immutable"),
                ],
            ),
        ],
    )
}

/// `/ResourceTypes`.
pub fn resource_types() -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User", "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/User"},
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group", "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/Group"},
        }),
    ]
}
