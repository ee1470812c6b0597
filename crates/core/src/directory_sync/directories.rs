//! Directory Sync: directories (the SCIM endpoints an organization's identity provider
//! provisions into), the users and groups they hold, and the WorkOS read API over them.
//! The SCIM protocol itself is in [`crate::directory_sync::scim`].
use super::model::*;
use crate::events::Event;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::{Vestibule, kernel::secrets, plausible, to_json};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;
use vestibule_ids::Kind;

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Directory", id: id.to_owned() }
}

/// The body field that sets a directory's custom attribute mapping (extension).
pub const MAPPING_FIELD: &str = "custom_attribute_mapping";

/// Reads a custom attribute mapping from `field`: an object of at most
/// [`MAX_CUSTOM_ATTRIBUTES`] names (1–64 characters) to SCIM attribute paths (at most 256
/// characters, e.g. `title`, `name.givenName`, `urn:example:ext:1.0:User:badge`). `None`
/// when the field is absent or invalid (the problem is recorded in `f`); `null` is the
/// empty mapping.
fn custom_attribute_mapping(f: &mut Fields<'_>, field: &str) -> Option<BTreeMap<String, String>> {
    let mut mapping = BTreeMap::new();
    match f.value(field) {
        None => return None,
        Some(Value::Object(m)) if m.len() <= MAX_CUSTOM_ATTRIBUTES => {
            let before = f.errors.len();
            for (name, path) in m {
                let valid = name.chars().count() <= 64
                    && !name.trim().is_empty()
                    && path.as_str().is_some_and(|p| {
                        p.len() <= 256 && vestibule_scim::filter::AttrPath::parse(p).is_some_and(|a| !a.attr.is_empty())
                    });
                if valid {
                    mapping.insert(name.clone(), path.as_str().unwrap_or_default().to_owned());
                } else {
                    f.invalid(&format!("{field}.{name}"), "invalid");
                }
            }
            if f.errors.len() > before {
                return None;
            }
        }
        Some(Value::Object(_)) => {
            f.invalid(field, "too_many");
            return None;
        }
        Some(_) => {
            f.invalid(field, "invalid_type");
            return None;
        }
    }
    Some(mapping)
}

/// The answer to `POST /directories` and `…/scim_token`: the directory plus its SCIM
/// endpoint and the token, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryWithToken {
    /// The directory.
    #[serde(flatten)]
    pub directory: Directory,
    /// `{endpoint, bearer_token}`.
    pub scim: ScimAccess,
}

/// Where and how the identity provider reaches the directory.
#[derive(Debug, Clone, Serialize)]
pub struct ScimAccess {
    /// The SCIM base URL.
    pub endpoint: String,
    /// The bearer token.
    pub bearer_token: String,
}

/// Path prefix of SCIM endpoints; the directory's external key follows.
pub const SCIM_PATH: &str = "/scim/v2.0";

impl Vestibule {
    fn scim_access(&self, d: &Directory, token: String) -> ScimAccess {
        ScimAccess { endpoint: format!("{}{SCIM_PATH}/{}", self.public_url, d.external_key), bearer_token: token }
    }

    /// `POST /directories` (extension).
    pub async fn create_directory(&self, env: &str, body: &Value) -> Result<DirectoryWithToken> {
        let mut f = Fields::new(body)?;
        let org_id = f.required_string("organization_id", 100);
        let name = f.required_string("name", 255);
        let kind = f.optional_string("type", 64).map(|t| t.to_ascii_lowercase());
        let domain = f.optional_string("domain", 253);
        // `custom_attributes` is the older spelling of the same field.
        let field = if f.value(MAPPING_FIELD).is_some() { MAPPING_FIELD } else { "custom_attributes" };
        let mapping = custom_attribute_mapping(&mut f, field).unwrap_or_default();
        if let Some(k) = &kind
            && !SCIM_TYPES.contains(&k.as_str())
        {
            f.invalid("type", "invalid");
        }
        f.finish()?;
        let org = self.get_organization(env, &org_id.unwrap_or_default()).await?;
        let now = Timestamp::now();
        let d = Directory {
            object: "directory",
            id: vestibule_ids::generate(Kind::Directory),
            organization_id: org.id.clone(),
            external_key: secrets::random_base62(24),
            kind: kind.unwrap_or_else(|| "generic scim v2.0".into()),
            state: "unlinked".into(),
            name: name.unwrap_or_default(),
            domain: domain.or_else(|| org.domains.first().map(|d| d.domain.clone())),
            created_at: now,
            updated_at: now,
            custom_attribute_mapping: mapping,
        };
        let token = secrets::random_base62(48);
        self.store.insert_directory(env, &d, &secrets::digest(&token), &[]).await?;
        let scim = self.scim_access(&d, token);
        Ok(DirectoryWithToken { directory: d, scim })
    }

    /// `POST /directories/{id}/scim_token` (extension): the old token stops working.
    pub async fn rotate_directory_token(&self, env: &str, id: &str) -> Result<DirectoryWithToken> {
        let mut d = self.get_directory(env, id).await?;
        let token = secrets::random_base62(48);
        let now = Timestamp::now();
        if !self.store.set_directory_token(env, id, &secrets::digest(&token), now).await? {
            return Err(not_found(id));
        }
        self.scim_auth.forget(&d.external_key);
        d.updated_at = now;
        let scim = self.scim_access(&d, token);
        Ok(DirectoryWithToken { directory: d, scim })
    }

    /// `GET /directories/{id}`.
    pub async fn get_directory(&self, env: &str, id: &str) -> Result<Directory> {
        if !plausible(Kind::Directory, id) {
            return Err(not_found(id));
        }
        self.store.get_directory(env, id).await?.ok_or_else(|| not_found(id))
    }

    /// `PATCH /directories/{id}` (extension): `name` and `custom_attribute_mapping` (an
    /// object replacing the whole mapping; `null` or `{}` removes it). When the mapping
    /// changes, every user's `custom_attributes` is recomputed with it in the same
    /// transaction; no event is recorded, as the identity provider changed nothing.
    pub async fn update_directory(&self, env: &str, id: &str, body: &Value) -> Result<Directory> {
        let mut f = Fields::new(body)?;
        let name = f.optional_string("name", 255);
        if matches!(body.get("name"), Some(Value::String(s)) if s.trim().is_empty()) {
            f.invalid("name", "required");
        }
        let mapping = match body.get(MAPPING_FIELD) {
            Some(Value::Null) => Some(BTreeMap::new()),
            _ => custom_attribute_mapping(&mut f, MAPPING_FIELD),
        };
        f.finish()?;
        let mut d = self.get_directory(env, id).await?;
        let remap = mapping.as_ref().is_some_and(|m| *m != d.custom_attribute_mapping);
        let renamed = name.as_ref().is_some_and(|n| *n != d.name);
        if !remap && !renamed {
            return Ok(d);
        }
        if let Some(n) = name {
            d.name = n;
        }
        if let Some(m) = mapping {
            d.custom_attribute_mapping = m;
        }
        d.updated_at = Timestamp::now();
        if !self.store.update_directory(env, &d, remap).await? {
            return Err(not_found(id));
        }
        self.scim_auth.forget(&d.external_key);
        Ok(d)
    }

    /// `GET /directories`.
    pub async fn list_directories(
        &self, env: &str, filter: DirectoryFilter, page: PageRequest,
    ) -> Result<Page<Directory>> {
        Ok(self.store.list_directories(env, &filter, &page).await?)
    }

    /// `DELETE /directories/{id}`: its users and groups go with it.
    pub async fn delete_directory(&self, env: &str, id: &str) -> Result<()> {
        let mut d = self.get_directory(env, id).await?;
        let now = Timestamp::now();
        d.state = "deleting".into();
        d.updated_at = now;
        let mut data = to_json(&d);
        if let Value::Object(m) = &mut data {
            m.remove("external_key");
        }
        let event = Event::new(env, "dsync.deleted", data, Some(&d.organization_id), now);
        let deleted = self.store.delete_directory(env, id, &[event]).await?;
        self.scim_auth.forget(&d.external_key);
        if deleted { Ok(()) } else { Err(not_found(id)) }
    }

    /// Resolves a SCIM request's directory from the key in its URL and its bearer token;
    /// `None` for an unknown key or a token of anything else. The first authenticated
    /// request links the directory (`dsync.activated`, once).
    pub async fn authenticate_scim(&self, external_key: &str, token: &str) -> Result<Option<DirectoryCredentials>> {
        if external_key.is_empty() || external_key.len() > 64 || token.is_empty() || token.len() > 200 {
            return Ok(None);
        }
        let digest = secrets::digest(token);
        if let Some(creds) = self.scim_auth.get(external_key, &digest, Instant::now()) {
            return Ok(Some(creds));
        }
        let generation = self.scim_auth.generation();
        let Some(mut creds) = self.store.find_directory_by_key(external_key).await? else { return Ok(None) };
        if !secrets::digests_match(&creds.token_digest, &digest) {
            return Ok(None);
        }
        if creds.directory.state != "linked" {
            let now = Timestamp::now();
            let mut d = creds.directory.clone();
            d.state = "linked".into();
            d.updated_at = now;
            let mut data = d.event_data();
            data["state"] = json!("active");
            let event = Event::new(&creds.environment_id, "dsync.activated", data, Some(&d.organization_id), now);
            self.store.activate_directory(&creds.environment_id, &d.id, now, &event).await?;
            creds.directory = d;
        }
        self.scim_auth.put(&creds, generation, Instant::now());
        Ok(Some(creds))
    }

    /// `GET /directory_users`.
    pub async fn list_directory_users(
        &self, env: &str, filter: DirectoryMemberFilter, page: PageRequest,
    ) -> Result<Page<Value>> {
        let users = self.store.list_directory_users(env, &filter, &page).await?;
        let ids: Vec<String> = users.data.iter().map(|u| u.id.clone()).collect();
        let groups = self.store.groups_of_users(env, &ids).await?;
        Ok(users.map(|u| {
            let mine: Vec<DirectoryGroup> =
                groups.iter().filter(|(uid, _)| *uid == u.id).map(|(_, g)| g.clone()).collect();
            u.view_with_groups(&mine)
        }))
    }

    /// `GET /directory_users/{id}`.
    pub async fn get_directory_user(&self, env: &str, id: &str) -> Result<Value> {
        let missing = || CoreError::NotFound { entity: "Directory User", id: id.to_owned() };
        if !plausible(Kind::DirectoryUser, id) {
            return Err(missing());
        }
        let u = self.store.get_directory_user(env, id).await?.ok_or_else(missing)?;
        let groups: Vec<DirectoryGroup> =
            self.store.groups_of_users(env, std::slice::from_ref(&u.id)).await?.into_iter().map(|(_, g)| g).collect();
        Ok(u.view_with_groups(&groups))
    }

    /// `GET /directory_groups`.
    pub async fn list_directory_groups(
        &self, env: &str, filter: DirectoryMemberFilter, page: PageRequest,
    ) -> Result<Page<Value>> {
        Ok(self.store.list_directory_groups(env, &filter, &page).await?.map(|g| g.view()))
    }

    /// `GET /directory_groups/{id}`.
    pub async fn get_directory_group(&self, env: &str, id: &str) -> Result<Value> {
        let missing = || CoreError::NotFound { entity: "Directory Group", id: id.to_owned() };
        if !plausible(Kind::DirectoryGroup, id) {
            return Err(missing());
        }
        Ok(self.store.get_directory_group(env, id).await?.ok_or_else(missing)?.view())
    }
}
