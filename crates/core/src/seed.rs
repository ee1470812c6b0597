//! Seed files in the workos-emulate config format: organizations (with pinned ids and
//! domains) and API keys. Unknown keys are errors, never silently ignored. Seeding is
//! idempotent: objects that already exist are left alone.

use crate::Vestibule;
use crate::environments::Environment;
use crate::kernel::error::{CoreError, FieldError, Result};
use crate::kernel::fields::{Fields, Patch};
use crate::kernel::pagination::PageRequest;
use crate::kernel::time::Timestamp;
use crate::organizations::{Organization, OrganizationDomain, OrganizationFilter, parse_domain};
use serde_json::Value;
use std::collections::BTreeMap;
use vestibule_ids::Kind;

/// Top-level keys this version understands.
const SUPPORTED: &[&str] = &["organizations", "apiKeys", "users", "roles", "permissions"];

/// What a seed run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Organizations created.
    pub organizations: usize,
    /// API keys created.
    pub api_keys: usize,
    /// Users created.
    pub users: usize,
    /// Roles created.
    pub roles: usize,
    /// Permissions created.
    pub permissions: usize,
    /// Memberships created.
    pub memberships: usize,
}

/// Keys of the emulator's seed format this version does not seed yet, with what to do
/// instead: refused by name, never ignored.
const NOT_YET: &[(&str, &str)] = &[
    ("connections", "SSO connections are not seeded yet: create them with POST /connections."),
    ("webhookEndpoints", "webhook endpoints are not seeded yet: create them with POST /webhook_endpoints."),
    ("entitlements", "entitlements are not supported yet."),
    ("groups", "groups are not supported yet."),
    ("jwtTemplate", "the JWT template is not seeded yet: set it with PUT /user_management/jwt_template."),
    ("errorHooks", "error hooks are an emulator feature with no counterpart here."),
    ("oauth_provider", "OAuth providers are not supported yet."),
    ("totp", "TOTP factors are not seeded: enroll them with POST /user_management/users/{id}/auth_factors."),
    ("connectApplications", "Connect applications are not supported yet."),
    ("connectedAccounts", "connected accounts are not supported yet."),
];

fn bad(path: String, code: &str) -> FieldError {
    let message = match code {
        "unknown_key" => format!("{path} is not a key this seed format has."),
        "must_be_a_mapping" => format!("{path} must be a mapping."),
        "must_be_a_list" => format!("{path} must be a list."),
        "must_be_a_list_or_mapping" => format!("{path} must be a list or a mapping."),
        "required" => format!("{path} is required."),
        "invalid_id" => format!("{path} is not an id of this kind (e.g. org_01H…)."),
        "invalid_domain" => format!("{path} is not a domain name."),
        "invalid_email" => format!("{path} is not an email address."),
        "invalid_slug" => format!("{path} must be lowercase letters, digits, '-', '_', ':' or '.'."),
        "must_start_with_sk_" => format!("{path} must be an API key starting with sk_ (8 to 200 characters)."),
        "must_match_a_seeded_user" => format!("{path} must be the email of a user in `users`."),
        _ => format!("{path} is not valid."),
    };
    FieldError::explained(path, code, message)
}

/// Checks a seed document without touching the store; every problem is reported.
pub fn validate(doc: &Value) -> Result<()> {
    let Value::Object(top) = doc else {
        return Err(CoreError::Invalid(vec![bad("$".into(), "must_be_a_mapping")]));
    };
    let mut errors = Vec::new();
    for key in top.keys() {
        if let Some((_, why)) = NOT_YET.iter().find(|(k, _)| k == key) {
            errors.push(FieldError::explained(key.clone(), "not_supported_yet", format!("{key}: {why}")));
        } else if !SUPPORTED.contains(&key.as_str()) {
            errors.push(bad(key.clone(), "unknown_key"));
        }
    }
    if let Some(orgs) = top.get("organizations") {
        match orgs {
            Value::Array(items) => {
                for (i, org) in items.iter().enumerate() {
                    let Value::Object(o) = org else {
                        errors.push(bad(format!("organizations[{i}]"), "must_be_a_mapping"));
                        continue;
                    };
                    for k in o.keys() {
                        if ![
                            "id",
                            "name",
                            "domains",
                            "external_id",
                            "metadata",
                            "allow_profiles_outside_organization",
                            "memberships",
                        ]
                        .contains(&k.as_str())
                        {
                            errors.push(bad(format!("organizations[{i}].{k}"), "unknown_key"));
                        }
                    }
                    if let Some(id) = o.get("id")
                        && id.as_str().is_none_or(|s| vestibule_ids::parse(Kind::Organization, s, false).is_err())
                    {
                        errors.push(bad(format!("organizations[{i}].id"), "invalid_id"));
                    }
                    if o.get("name").and_then(Value::as_str).is_none_or(|s| s.trim().is_empty()) {
                        errors.push(bad(format!("organizations[{i}].name"), "required"));
                    }
                    if let Some(ds) = o.get("domains") {
                        let Value::Array(ds) = ds else {
                            errors.push(bad(format!("organizations[{i}].domains"), "must_be_a_list"));
                            continue;
                        };
                        for (j, d) in ds.iter().enumerate() {
                            let (name, state) = match d {
                                Value::String(s) => (Some(s.as_str()), None),
                                Value::Object(m) => {
                                    (m.get("domain").and_then(Value::as_str), m.get("state").and_then(Value::as_str))
                                }
                                _ => (None, None),
                            };
                            if name.and_then(parse_domain).is_none() {
                                errors.push(bad(format!("organizations[{i}].domains[{j}].domain"), "invalid_domain"));
                            }
                            if state.is_some_and(|s| s != "verified" && s != "pending") {
                                errors.push(bad(format!("organizations[{i}].domains[{j}].state"), "invalid"));
                            }
                        }
                    }
                }
            }
            _ => errors.push(bad("organizations".into(), "must_be_a_list")),
        }
    }
    let users = check_list(
        top,
        "users",
        &["id", "email", "first_name", "last_name", "password", "email_verified", "external_id", "metadata"],
        &mut errors,
    );
    let emails: Vec<String> = users
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let e = u.get("email").and_then(Value::as_str).and_then(crate::user_management::users::parse_email);
            if e.is_none() {
                errors.push(bad(format!("users[{i}].email"), "invalid_email"));
            }
            e
        })
        .collect();
    for (i, p) in check_list(top, "permissions", &["slug", "name", "description"], &mut errors).iter().enumerate() {
        if !p.get("slug").and_then(Value::as_str).is_some_and(crate::authorization::valid_permission_slug) {
            errors.push(bad(format!("permissions[{i}].slug"), "invalid_slug"));
        }
    }
    let roles = check_list(
        top,
        "roles",
        &["slug", "name", "description", "type", "organization_id", "permissions", "priority", "is_default_role"],
        &mut errors,
    );
    for (i, r) in roles.iter().enumerate() {
        if r.get("slug").and_then(Value::as_str).is_none() {
            errors.push(bad(format!("roles[{i}].slug"), "required"));
        }
    }
    for (i, org) in top.get("organizations").and_then(Value::as_array).into_iter().flatten().enumerate() {
        for (j, m) in org.get("memberships").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let email = m.get("email").and_then(Value::as_str).and_then(crate::user_management::users::parse_email);
            if !email.is_some_and(|e| emails.contains(&e)) {
                errors.push(bad(format!("organizations[{i}].memberships[{j}].email"), "must_match_a_seeded_user"));
            }
            for k in m.as_object().into_iter().flat_map(|o| o.keys()) {
                if !["email", "role", "role_slug", "status"].contains(&k.as_str()) {
                    errors.push(bad(format!("organizations[{i}].memberships[{j}].{k}"), "unknown_key"));
                }
            }
            if m.get("status").and_then(Value::as_str).is_some_and(|s| !["active", "inactive", "pending"].contains(&s))
            {
                errors.push(bad(format!("organizations[{i}].memberships[{j}].status"), "invalid"));
            }
        }
    }
    for (i, (value, _)) in api_keys(top.get("apiKeys")).into_iter().enumerate() {
        if !value.as_deref().is_some_and(|v| v.starts_with("sk_") && v.len() >= 8 && v.len() <= 200) {
            errors.push(bad(format!("apiKeys[{i}].value"), "must_start_with_sk_"));
        }
    }
    match top.get("apiKeys") {
        Some(Value::Array(items)) => {
            for (i, k) in items.iter().enumerate() {
                for key in k.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !["value", "name"].contains(&key.as_str()) {
                        errors.push(bad(format!("apiKeys[{i}].{key}"), "unknown_key"));
                    }
                }
            }
        }
        Some(Value::Object(map)) => {
            for (value, settings) in map {
                for key in settings.as_object().into_iter().flat_map(|o| o.keys()) {
                    if key != "name" {
                        errors.push(bad(format!("apiKeys.{value}.{key}"), "unknown_key"));
                    }
                }
            }
        }
        _ => {}
    }
    if matches!(top.get("apiKeys"), Some(v) if !v.is_array() && !v.is_object()) {
        errors.push(bad("apiKeys".into(), "must_be_a_list_or_mapping"));
    }
    if errors.is_empty() { Ok(()) } else { Err(CoreError::Invalid(errors)) }
}

/// The items of a top-level list, with unknown keys of each reported.
fn check_list<'a>(
    top: &'a serde_json::Map<String, Value>, key: &str, allowed: &[&str], errors: &mut Vec<FieldError>,
) -> Vec<&'a Value> {
    match top.get(key) {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_object() {
                    Some(o) => {
                        for k in o.keys().filter(|k| !allowed.contains(&k.as_str())) {
                            errors.push(bad(format!("{key}[{i}].{k}"), "unknown_key"));
                        }
                    }
                    None => errors.push(bad(format!("{key}[{i}]"), "must_be_a_mapping")),
                }
            }
            items.iter().collect()
        }
        Some(_) => {
            errors.push(bad(key.into(), "must_be_a_list"));
            Vec::new()
        }
    }
}

/// API keys in either form the emulator accepts: a list of `{value, name}` or a
/// mapping from key value to settings.
fn api_keys(v: Option<&Value>) -> Vec<(Option<String>, String)> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|k| {
                let value = k.get("value").and_then(Value::as_str).map(str::to_owned);
                let name = k.get("name").and_then(Value::as_str).unwrap_or("Seeded key").to_owned();
                (value, name)
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(value, settings)| {
                let name = settings.get("name").and_then(Value::as_str).unwrap_or("Seeded key").to_owned();
                (Some(value.clone()), name)
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Vestibule {
    /// Applies a validated seed document to `env`.
    pub async fn apply_seed(&self, env: &Environment, doc: &Value) -> Result<SeedReport> {
        validate(doc)?;
        let mut report = SeedReport::default();
        for (value, name) in api_keys(doc.get("apiKeys")) {
            let value = value.unwrap_or_default();
            if self.store.find_api_key(&crate::kernel::secrets::digest(&value)).await?.is_some() {
                continue;
            }
            self.create_api_key(env, &name, Some(&value)).await?;
            report.api_keys += 1;
        }
        for p in doc.get("permissions").and_then(Value::as_array).into_iter().flatten() {
            let slug = p.get("slug").and_then(Value::as_str).unwrap_or_default();
            if self.store.get_permission(&env.id, slug).await?.is_none() {
                let mut body = p.clone();
                if body.get("name").is_none() {
                    body["name"] = Value::String(slug.to_owned());
                }
                self.create_permission(&env.id, &body).await?;
                report.permissions += 1;
            }
        }
        let mut org_roles = Vec::new();
        for r in doc.get("roles").and_then(Value::as_array).into_iter().flatten() {
            let slug = r.get("slug").and_then(Value::as_str).unwrap_or_default();
            if let Some(org) = r.get("organization_id").and_then(Value::as_str) {
                org_roles.push((org.to_owned(), r.clone()));
                continue;
            }
            self.seed_role(&env.id, None, slug, r).await?;
            report.roles += 1;
        }
        for u in doc.get("users").and_then(Value::as_array).into_iter().flatten() {
            let email = u
                .get("email")
                .and_then(Value::as_str)
                .and_then(crate::user_management::users::parse_email)
                .unwrap_or_default();
            if self.store.get_user_by_email(&env.id, &email).await?.is_some() {
                continue;
            }
            let mut body = u.clone();
            body.as_object_mut().map(|o| o.remove("id"));
            let mut user = match self.create_user_unsaved(&body).await {
                Ok(user) => user,
                Err(e) => return Err(e),
            };
            if let Some(id) = u.get("id").and_then(Value::as_str) {
                user.id = id.to_owned();
            }
            self.insert_new_user(&env.id, &user).await?;
            report.users += 1;
        }
        for org in doc.get("organizations").and_then(Value::as_array).into_iter().flatten() {
            if self.seeded_organization_exists(&env.id, org).await? {
                continue;
            }
            let now = Timestamp::now();
            let id = org
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| vestibule_ids::generate(Kind::Organization), str::to_owned);
            let mut f = Fields::new(org)?;
            let metadata = match f.metadata("metadata") {
                Patch::Set(m) => m,
                _ => BTreeMap::new(),
            };
            let external_id = f.optional_string("external_id", 128);
            f.finish()?;
            let domains = org
                .get("domains")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| {
                    let (name, state) = match d {
                        Value::String(s) => (s.as_str(), "verified"),
                        _ => (d.get("domain")?.as_str()?, d.get("state").and_then(Value::as_str).unwrap_or("verified")),
                    };
                    let mut od = OrganizationDomain {
                        object: "organization_domain",
                        id: vestibule_ids::generate(Kind::OrganizationDomain),
                        organization_id: id.clone(),
                        domain: parse_domain(name)?,
                        state: state.to_owned(),
                        verification_strategy: "manual".into(),
                        verification_token: None,
                        verification_prefix: None,
                        created_at: now,
                        updated_at: now,
                    };
                    od.updated_at = now;
                    Some(od)
                })
                .collect();
            let org = Organization {
                object: "organization",
                id,
                name: org.get("name").and_then(Value::as_str).unwrap_or_default().trim().to_owned(),
                allow_profiles_outside_organization: org
                    .get("allow_profiles_outside_organization")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                domains,
                metadata,
                external_id,
                stripe_customer_id: None,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            self.seed_organization(&env.id, &org).await?;
            report.organizations += 1;
            for m in doc_memberships(doc, &org.name) {
                let email = m
                    .get("email")
                    .and_then(Value::as_str)
                    .and_then(crate::user_management::users::parse_email)
                    .unwrap_or_default();
                let Some(user) = self.store.get_user_by_email(&env.id, &email).await? else { continue };
                let role = m
                    .get("role")
                    .or_else(|| m.get("role_slug"))
                    .and_then(Value::as_str)
                    .unwrap_or(crate::authorization::DEFAULT_ROLE);
                let status = m.get("status").and_then(Value::as_str).unwrap_or("active");
                let membership = Self::new_membership(&user, &org, vec![role.to_owned()], status);
                self.insert_new_membership(&env.id, &membership).await?;
                report.memberships += 1;
            }
        }
        for (org, r) in org_roles {
            let slug = r.get("slug").and_then(Value::as_str).unwrap_or_default();
            self.seed_role(&env.id, Some(&org), slug, &r).await?;
            report.roles += 1;
        }
        Ok(report)
    }

    async fn seed_role(&self, env: &str, org: Option<&str>, slug: &str, r: &Value) -> Result<()> {
        let permissions = r.get("permissions").cloned().unwrap_or(Value::Array(Vec::new()));
        if self.store.get_role(env, org, slug).await?.is_some() {
            self.set_role_permissions(env, org, slug, &serde_json::json!({"permissions": permissions})).await?;
            return Ok(());
        }
        let body = serde_json::json!({
            "slug": slug,
            "name": r.get("name").and_then(Value::as_str).unwrap_or(slug),
            "description": r.get("description"),
            "permissions": permissions,
        });
        self.create_role(env, org, &body).await?;
        Ok(())
    }

    async fn seeded_organization_exists(&self, env: &str, org: &Value) -> Result<bool> {
        if let Some(id) = org.get("id").and_then(Value::as_str) {
            return Ok(self.store.get_organization(env, id).await?.is_some());
        }
        if let Some(ext) = org.get("external_id").and_then(Value::as_str) {
            return Ok(self.store.get_organization_by_external_id(env, ext).await?.is_some());
        }
        let name = org.get("name").and_then(Value::as_str).unwrap_or_default().trim();
        let filter = OrganizationFilter { search: Some(name.to_owned()), ..Default::default() };
        let page = PageRequest { limit: 100, ..Default::default() };
        let found = self.store.list_organizations(env, &filter, &page).await?;
        Ok(found.data.iter().any(|o| o.name == name))
    }
}

/// The `memberships` of the seeded organization named `name`.
fn doc_memberships<'a>(doc: &'a Value, name: &str) -> Vec<&'a Value> {
    doc.get("organizations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|o| o.get("name").and_then(Value::as_str).map(str::trim) == Some(name))
        .flat_map(|o| o.get("memberships").and_then(Value::as_array).into_iter().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_and_invalid_keys_are_reported() {
        let doc = json!({
            "organizations": [{"name": "Acme", "domains": [{"domain": "acme.com", "state": "nope"}], "colour": "red"}],
            "connections": [],
            "colours": [],
            "apiKeys": [{"value": "pk_bad"}, {"value": "sk_test_expired_key", "expiresAt": "2020-01-01"}],
            "users": [{"email": "ada@example.com"}]
        });
        let doc = {
            let mut d = doc;
            d["organizations"][0]["memberships"] = json!([{"email": "ada@example.com", "rank": "x"}]);
            d
        };
        let Err(CoreError::Invalid(errs)) = validate(&doc) else { panic!("expected errors") };
        let got: Vec<_> = errs.iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert!(got.contains(&"connections:not_supported_yet".to_string()), "{got:?}");
        assert!(got.contains(&"colours:unknown_key".to_string()), "{got:?}");
        assert!(
            got.contains(&"apiKeys[1].expiresAt:unknown_key".to_string()),
            "an expiry is refused, not ignored: {got:?}"
        );
        assert!(got.contains(&"organizations[0].memberships[0].rank:unknown_key".to_string()), "{got:?}");
        // Every error says what is wrong in a sentence.
        assert!(errs.iter().all(|e| e.message.as_deref().is_some_and(|m| m.ends_with('.'))), "{errs:?}");
        let connections = errs.iter().find(|e| e.field == "connections").unwrap();
        assert!(connections.message.as_deref().unwrap().contains("POST /connections"));
        assert!(got.contains(&"organizations[0].colour:unknown_key".to_string()), "{got:?}");
        assert!(got.contains(&"organizations[0].domains[0].state:invalid".to_string()), "{got:?}");
        assert!(got.contains(&"apiKeys[0].value:must_start_with_sk_".to_string()), "{got:?}");
    }

    #[test]
    fn valid_documents_pass() {
        let doc = json!({
            "organizations": [{"id": "org_acme", "name": "Acme", "domains": ["acme.com", {"domain": "acme.io", "state": "pending"}]}],
            "apiKeys": {"sk_test_seeded_key": {"name": "CI"}}
        });
        validate(&doc).unwrap();
    }
}
