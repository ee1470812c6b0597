//! The redirect URIs an environment allows SSO and AuthKit to send users back to.

use super::model::*;
use crate::Vestibule;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::time::Timestamp;
use serde_json::Value;
use vestibule_ids::Kind;

impl Vestibule {
    /// `POST /user_management/redirect_uris`: allows a redirect URI in this environment.
    pub async fn create_redirect_uri(&self, env: &str, body: &Value) -> Result<RedirectUri> {
        let mut f = Fields::new(body)?;
        let uri = f.required_string("uri", 2048);
        let default = f.optional_bool("default");
        if let Some(u) = &uri
            && url::Url::parse(u).is_err()
        {
            f.invalid("uri", "invalid_url");
        }
        f.finish()?;
        let now = Timestamp::now();
        let existing = self.store.list_redirect_uris(env).await?;
        let r = RedirectUri {
            object: "redirect_uri",
            id: vestibule_ids::generate(Kind::RedirectUri),
            uri: uri.unwrap_or_default(),
            default: default.unwrap_or(existing.is_empty()),
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_redirect_uri(env, &r).await {
            Ok(()) => Ok(r),
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict {
                code: "redirect_uri_already_exists",
                message: "This redirect URI is already registered.".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `DELETE /user_management/redirect_uris/{id}`.
    pub async fn delete_redirect_uri(&self, env: &str, id: &str) -> Result<()> {
        if crate::plausible(Kind::RedirectUri, id) && self.store.delete_redirect_uri(env, id).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound { entity: "Redirect URI", id: id.to_owned() })
        }
    }

    /// `GET /user_management/redirect_uris` (extension).
    pub async fn list_redirect_uris(&self, env: &str) -> Result<Vec<RedirectUri>> {
        Ok(self.store.list_redirect_uris(env).await?)
    }
}
