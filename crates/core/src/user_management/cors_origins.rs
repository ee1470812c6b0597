//! CORS origins (`/user_management/cors_origins`): the browser origins allowed to call
//! the browser-facing endpoints, `scheme://host[:port]` with nothing after it.

use super::auth_store::CorsOrigin;
use crate::Vestibule;
use crate::kernel::error::{CoreError, Result, StoreError};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use serde_json::Value;
use vestibule_ids::Kind;

/// The origin `raw` names, normalized, if it is one: http(s), a host, no path or query.
pub fn parse_origin(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    (matches!(url.scheme(), "http" | "https") && url.host().is_some() && bare && plain)
        .then(|| url.origin().ascii_serialization())
}

impl Vestibule {
    /// `POST /user_management/cors_origins`.
    pub async fn create_cors_origin(&self, env: &str, body: &Value) -> Result<CorsOrigin> {
        let mut f = Fields::new(body)?;
        let origin = f.required_string("origin", 2048);
        f.finish()?;
        let origin =
            parse_origin(&origin.unwrap_or_default()).ok_or_else(|| CoreError::field("origin", "invalid_origin"))?;
        let now = Timestamp::now();
        let o = CorsOrigin {
            object: "cors_origin",
            id: vestibule_ids::generate(Kind::CorsOrigin),
            origin,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_cors_origin(env, &o).await {
            Ok(()) => Ok(o),
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict {
                code: "duplicate_cors_origin",
                message: "This origin is already allowed.".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /user_management/cors_origins`.
    pub async fn list_cors_origins(&self, env: &str, page: PageRequest) -> Result<Page<CorsOrigin>> {
        Ok(self.store.list_cors_origins(env, &page).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(parse_origin("https://App.Example.com").as_deref(), Some("https://app.example.com"));
        assert_eq!(parse_origin("http://localhost:3000/").as_deref(), Some("http://localhost:3000"));
        for bad in
            ["https://a.example/path", "ftp://a.example", "javascript:alert(1)", "https://u:p@a.example", "a.example"]
        {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
    }
}
