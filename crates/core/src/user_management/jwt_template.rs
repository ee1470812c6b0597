//! The JWT template (`GET/PUT /user_management/jwt_template`): a JSON object whose values
//! may name the signing-in user, organization and membership with `{{user.email}}`-style
//! expressions, merged into every access token. An expression inside a JSON string is
//! replaced by the text of the value; standing alone it becomes the value itself
//! (`{"urn:app:email": {{user.email}}}`). Reserved claims cannot be overridden.

use crate::Vestibule;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::time::Timestamp;
use serde_json::{Map, Value, json};

/// Claims a template may not set: the token's identity and lifetime, and the
/// authorization the SDKs read from it (organization, roles, permissions, entitlements,
/// feature flags, impersonation), which come from the membership alone.
pub const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sid",
    "aud",
    "auth_time",
    "org_id",
    "role",
    "roles",
    "permissions",
    "entitlements",
    "feature_flags",
    "act",
];

/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 8 * 1024;

/// The template with each expression replaced from `context`, as claims.
pub fn render(template: &str, context: &Value) -> Result<Map<String, Value>> {
    let mut out = String::with_capacity(template.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if !escaped && rest.starts_with("{{") {
            let end = rest.find("}}").ok_or_else(invalid)?;
            let path = rest[2..end].trim();
            let value = lookup(context, path)?;
            if in_string {
                let text = match value {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let quoted = Value::String(text).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            } else {
                out.push_str(&value.to_string());
            }
            rest = &rest[end + 2..];
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    match serde_json::from_str::<Value>(&out) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(invalid()),
    }
}

fn invalid() -> CoreError {
    CoreError::Invalid(vec![crate::FieldError::explained(
        "content",
        "invalid",
        "The template must be a JSON object whose {{…}} expressions name user, organization or organization_membership fields.",
    )])
}

/// `user.email`, `organization.name`, `user.metadata.plan`: a missing field is null, an
/// unknown root is an error.
fn lookup(context: &Value, path: &str) -> Result<Value> {
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    if !["user", "organization", "organization_membership"].contains(&root) {
        return Err(invalid());
    }
    let mut v = context.get(root).cloned().unwrap_or(Value::Null);
    for p in parts {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid());
        }
        v = v.get(p).cloned().unwrap_or(Value::Null);
    }
    Ok(v)
}

/// A context with every root present, to check a template before it is stored.
fn sample_context() -> Value {
    json!({"user": {"id": "user_x", "email": "a@example.com"}, "organization": {"id": "org_x"}, "organization_membership": {}})
}

impl Vestibule {
    pub(crate) async fn jwt_template_content(&self, env: &str) -> Result<Option<String>> {
        Ok(self.store.get_jwt_template(env).await?.map(|(c, _, _)| c))
    }

    /// `GET /user_management/jwt_template`: the empty template `{}` (as old as the
    /// environment) until one is set.
    pub async fn get_jwt_template(&self, env: &str) -> Result<Value> {
        let (content, created_at, updated_at) = match self.store.get_jwt_template(env).await? {
            Some(t) => t,
            None => {
                let since = self.store.get_environment(env).await?.map_or(Timestamp(0), |e| e.created_at);
                ("{}".into(), since, since)
            }
        };
        Ok(json!({"object": "jwt_template", "content": content, "created_at": created_at, "updated_at": updated_at}))
    }

    /// `PUT /user_management/jwt_template`.
    pub async fn put_jwt_template(&self, env: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new(body)?;
        let content = f.required_string("content", MAX_TEMPLATE_BYTES);
        f.finish()?;
        let content = content.unwrap_or_default();
        render(&content, &sample_context())?;
        self.store.put_jwt_template(env, &content, Timestamp::now()).await?;
        self.get_jwt_template(env).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_fill_strings_and_stand_for_values() {
        let ctx = json!({"user": {"email": "ada@example.com", "metadata": {"plan": "pro"}, "email_verified": true}});
        let claims = render(
            r#"{"urn:e": {{ user.email }}, "urn:s": "{{user.metadata.plan}}-x", "v": {{user.email_verified}}}"#,
            &ctx,
        )
        .unwrap();
        assert_eq!(claims["urn:e"], "ada@example.com");
        assert_eq!(claims["urn:s"], "pro-x");
        assert_eq!(claims["v"], true);
        // A value with quotes stays inside its string.
        let ctx = json!({"user": {"first_name": "a\"b"}});
        assert_eq!(render(r#"{"n": "{{user.first_name}}"}"#, &ctx).unwrap()["n"], "a\"b");
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["[]", "{\"a\": {{secrets.key}}}", "{\"a\": {{user.email}", "not json", "{\"a\": {{user.e-mail}}}"] {
            assert!(render(bad, &sample_context()).is_err(), "{bad}");
        }
    }
}
