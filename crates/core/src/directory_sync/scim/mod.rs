//! The SCIM 2.0 service provider behind each directory: Users and Groups created,
//! read, listed with filters, replaced, patched and deleted by the identity provider,
//! each change committed with its `dsync.*` events, and only when something changed.
//!
//! Filters are parsed by `vestibule-scim` and translated by [`filter`] into [`Cond`];
//! [`projection`] applies `attributes` and `excludedAttributes`; the discovery documents
//! are in `vestibule_scim::discovery`.

mod filter;
mod projection;

pub use filter::{Cond, Field, Literal, parse_filter};
pub use projection::Projection;

use crate::Vestibule;
use crate::directory_sync::{DirectoryCredentials, DirectoryGroup, DirectoryUser, GroupChange, MemberChange};
use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::time::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use vestibule_ids::Kind;
use vestibule_scim::ScimError;
use vestibule_scim::filter::{CompValue, CompareOp, Filter, get_ci};
use vestibule_scim::patch::{self, OpKind, Operation, PatchPath};

/// Most resources one list request returns; also the default page size.
pub const MAX_COUNT: u64 = 500;
/// A list of resources in the SCIM ListResponse shape.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [vestibule_scim::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn scim(e: ScimError) -> CoreError {
    CoreError::Scim(e)
}

fn not_found(kind: &str, id: &str) -> CoreError {
    CoreError::Scim(ScimError { status: 404, scim_type: None, detail: format!("{kind} '{id}' not found.") })
}

fn conflict(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict("directory_users.user_name") => CoreError::Scim(ScimError {
            status: 409,
            scim_type: Some("uniqueness"),
            detail: "userName is already taken in this directory.".into(),
        }),
        e => e.into(),
    }
}

fn meta(kind: &str, base: &str, plural: &str, id: &str, created: Timestamp, updated: Timestamp, version: i64) -> Value {
    json!({
        "resourceType": kind,
        "created": created,
        "lastModified": updated,
        "location": format!("{base}/{plural}/{id}"),
        "version": format!("W/\"{version}\""),
    })
}

/// Previous values of the top-level attributes that differ between two resources.
fn previous_attributes(old: &Value, new: &Value) -> Value {
    let mut prev = Map::new();
    let (Some(o), Some(n)) = (old.as_object(), new.as_object()) else { return Value::Object(prev) };
    for (k, v) in o {
        if n.get(k) != Some(v) {
            prev.insert(k.clone(), v.clone());
        }
    }
    for k in n.keys() {
        if !o.contains_key(k) {
            prev.insert(k.clone(), Value::Null);
        }
    }
    Value::Object(prev)
}

fn check_user(resource: &Value) -> std::result::Result<(), ScimError> {
    match get_ci(resource, "userName") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 512 => Ok(()),
        Some(Value::String(s)) if s.len() > 512 => {
            Err(ScimError::bad("invalidValue", "userName is longer than 512 characters."))
        }
        _ => Err(ScimError::bad("invalidValue", "userName is required.")),
    }?;
    if let Some(e) = get_ci(resource, "emails")
        && !e.as_array().is_some_and(|a| a.iter().all(Value::is_object))
    {
        return Err(ScimError::bad("invalidValue", "emails must be an array of objects."));
    }
    if let Some(a) = get_ci(resource, "active")
        && !a.is_boolean()
    {
        return Err(ScimError::bad("invalidValue", "active must be a boolean."));
    }
    Ok(())
}

fn check_group(resource: &Value) -> std::result::Result<(), ScimError> {
    match get_ci(resource, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 512 => Ok(()),
        _ => Err(ScimError::bad("invalidValue", "displayName is required.")),
    }
}

fn object_body(body: &Value) -> std::result::Result<Value, ScimError> {
    if body.is_object() {
        Ok(body.clone())
    } else {
        Err(ScimError::bad("invalidSyntax", "The body must be a JSON object."))
    }
}

/// Takes the `members` out of a group resource: their ids, in order, without duplicates.
fn take_members(resource: &mut Value) -> std::result::Result<Option<Vec<String>>, ScimError> {
    let Some(obj) = resource.as_object_mut() else { return Ok(None) };
    let Some(key) = obj.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned() else { return Ok(None) };
    let members = obj.remove(&key).unwrap_or(Value::Null);
    member_ids(&members).map(Some)
}

fn member_ids(v: &Value) -> std::result::Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        o @ Value::Object(_) => vec![o],
        _ => return Err(ScimError::bad("invalidValue", "members must be an array of objects with a value.")),
    };
    let mut out: Vec<String> = Vec::new();
    for i in items {
        let id = get_ci(i, "value")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::bad("invalidValue", "Each member needs a value."))?;
        if !out.iter().any(|x| x == id) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

/// The ids an `eq`/`or` filter on `value` names, if it is that simple.
fn named_values(f: &Filter, out: &mut Vec<String>) -> bool {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(s) }
            if path.is("value") && path.sub.is_none() =>
        {
            out.push(s.clone());
            true
        }
        Filter::Or(a, b) => named_values(a, out) && named_values(b, out),
        _ => false,
    }
}

impl Vestibule {
    fn scim_user_json(&self, c: &DirectoryCredentials, u: &DirectoryUser, groups: &[DirectoryGroup]) -> Value {
        let mut v = u.resource.clone();
        let base = self.scim_base(c);
        v["id"] = json!(u.id);
        v["groups"] = Value::Array(
            groups
                .iter()
                .map(|g| json!({"value": g.id, "display": g.display_name(), "$ref": format!("{base}/Groups/{}", g.id)}))
                .collect(),
        );
        if groups.is_empty()
            && let Some(o) = v.as_object_mut()
        {
            o.remove("groups");
        }
        v["meta"] = meta("User", &base, "Users", &u.id, u.created_at, u.updated_at, u.version);
        v
    }

    fn scim_group_json(&self, c: &DirectoryCredentials, g: &DirectoryGroup, members: &[(String, String)]) -> Value {
        let mut v = g.resource.clone();
        let base = self.scim_base(c);
        v["id"] = json!(g.id);
        if !members.is_empty() {
            v["members"] = Value::Array(
                members
                    .iter()
                    // Exactly the sub-attributes `/Schemas` publishes: strict clients refuse others.
                    .map(|(id, _)| json!({"value": id, "$ref": format!("{base}/Users/{id}")}))
                    .collect(),
            );
        }
        v["meta"] = meta("Group", &base, "Groups", &g.id, g.created_at, g.updated_at, g.version);
        v
    }

    /// The SCIM base URL of a directory.
    pub fn scim_base(&self, c: &DirectoryCredentials) -> String {
        format!("{}{}/{}", self.public_url, crate::directory_sync::SCIM_PATH, c.directory.external_key)
    }

    async fn scim_user(&self, c: &DirectoryCredentials, id: &str) -> Result<DirectoryUser> {
        if !crate::plausible(Kind::DirectoryUser, id) {
            return Err(not_found("User", id));
        }
        match self.store.get_directory_user(&c.environment_id, id).await? {
            Some(u) if u.directory_id == c.directory.id => Ok(u),
            _ => Err(not_found("User", id)),
        }
    }

    async fn scim_group(&self, c: &DirectoryCredentials, id: &str) -> Result<DirectoryGroup> {
        if !crate::plausible(Kind::DirectoryGroup, id) {
            return Err(not_found("Group", id));
        }
        match self.store.get_directory_group(&c.environment_id, id).await? {
            Some(g) if g.directory_id == c.directory.id => Ok(g),
            _ => Err(not_found("Group", id)),
        }
    }

    fn dsync_event(&self, c: &DirectoryCredentials, name: &str, data: Value, at: Timestamp) -> Event {
        Event::new(&c.environment_id, name, data, Some(&c.directory.organization_id), at)
    }

    /// `POST /Users`.
    pub async fn scim_create_user(&self, c: &DirectoryCredentials, body: &Value) -> Result<Value> {
        let mut resource = object_body(body).map_err(scim)?;
        patch::normalize(&mut resource, &patch::USER);
        check_user(&resource).map_err(scim)?;
        let now = Timestamp::now();
        let mut u = DirectoryUser {
            id: vestibule_ids::generate(Kind::DirectoryUser),
            directory_id: c.directory.id.clone(),
            organization_id: c.directory.organization_id.clone(),
            resource,
            custom_attributes: Value::Null,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        u.custom_attributes = u.map_custom_attributes(&c.directory.custom_attribute_mapping);
        let event = self.dsync_event(c, "dsync.user.created", u.view(), now);
        self.store.insert_directory_user(&c.environment_id, &u, &[event]).await.map_err(conflict)?;
        Ok(self.scim_user_json(c, &u, &[]))
    }

    /// `GET /Users/{id}`.
    pub async fn scim_get_user(&self, c: &DirectoryCredentials, id: &str) -> Result<Value> {
        let u = self.scim_user(c, id).await?;
        let groups: Vec<DirectoryGroup> = self
            .store
            .groups_of_users(&c.environment_id, std::slice::from_ref(&u.id))
            .await?
            .into_iter()
            .map(|(_, g)| g)
            .collect();
        Ok(self.scim_user_json(c, &u, &groups))
    }

    /// `GET /Users` with `filter`, `startIndex` (1-based) and `count`.
    pub async fn scim_list_users(
        &self, c: &DirectoryCredentials, cond: &Cond, start_index: u64, count: u64,
    ) -> Result<Value> {
        let start = start_index.max(1);
        let page = self
            .store
            .query_directory_users(&c.environment_id, &c.directory.id, cond, start - 1, count.min(MAX_COUNT))
            .await?;
        let ids: Vec<String> = page.items.iter().map(|u| u.id.clone()).collect();
        let groups =
            if ids.is_empty() { Vec::new() } else { self.store.groups_of_users(&c.environment_id, &ids).await? };
        let resources = page
            .items
            .iter()
            .map(|u| {
                let mine: Vec<DirectoryGroup> =
                    groups.iter().filter(|(uid, _)| *uid == u.id).map(|(_, g)| g.clone()).collect();
                self.scim_user_json(c, u, &mine)
            })
            .collect();
        Ok(list_response(page.total, start, resources))
    }

    /// Writes a new version of a user, if it differs, with `dsync.user.updated`.
    async fn save_user(
        &self, c: &DirectoryCredentials, current: &DirectoryUser, mut resource: Value,
    ) -> Result<Option<DirectoryUser>> {
        patch::normalize(&mut resource, &patch::USER);
        check_user(&resource).map_err(scim)?;
        if resource == current.resource {
            return Ok(Some(current.clone()));
        }
        let now = Timestamp::now();
        let mut next = current.clone();
        next.resource = resource;
        next.custom_attributes = next.map_custom_attributes(&c.directory.custom_attribute_mapping);
        next.updated_at = now;
        next.version = current.version + 1;
        let mut data = next.view();
        data["previous_attributes"] = previous_attributes(&current.resource, &next.resource);
        let mut event = self.dsync_event(c, "dsync.user.updated", data.clone(), now);
        event.context = json!({"previous_attributes": data["previous_attributes"]});
        match self.store.update_directory_user(&c.environment_id, &next, current.version, &[event]).await {
            Ok(()) => Ok(Some(next)),
            Err(StoreError::Contended) => Ok(None),
            Err(e) => Err(conflict(e)),
        }
    }

    async fn user_with_groups(&self, c: &DirectoryCredentials, u: &DirectoryUser) -> Result<Value> {
        let groups: Vec<DirectoryGroup> = self
            .store
            .groups_of_users(&c.environment_id, std::slice::from_ref(&u.id))
            .await?
            .into_iter()
            .map(|(_, g)| g)
            .collect();
        Ok(self.scim_user_json(c, u, &groups))
    }

    /// `PUT /Users/{id}`: full replacement (Okta's way of updating).
    pub async fn scim_replace_user(&self, c: &DirectoryCredentials, id: &str, body: &Value) -> Result<Value> {
        let resource = object_body(body).map_err(scim)?;
        for _ in 0..5 {
            let current = self.scim_user(c, id).await?;
            if let Some(u) = self.save_user(c, &current, resource.clone()).await? {
                return self.user_with_groups(c, &u).await;
            }
        }
        Err(CoreError::Conflict { code: "concurrent_update", message: "The user changed concurrently; retry.".into() })
    }

    /// `PATCH /Users/{id}`.
    pub async fn scim_patch_user(&self, c: &DirectoryCredentials, id: &str, body: &Value) -> Result<Value> {
        let ops = patch::parse_request(body).map_err(scim)?;
        for _ in 0..5 {
            let current = self.scim_user(c, id).await?;
            let mut resource = current.resource.clone();
            for op in &ops {
                patch::apply(&mut resource, &patch::USER, op).map_err(scim)?;
            }
            if let Some(u) = self.save_user(c, &current, resource).await? {
                return self.user_with_groups(c, &u).await;
            }
        }
        Err(CoreError::Conflict { code: "concurrent_update", message: "The user changed concurrently; retry.".into() })
    }

    /// `DELETE /Users/{id}`.
    pub async fn scim_delete_user(&self, c: &DirectoryCredentials, id: &str) -> Result<()> {
        let u = self.scim_user(c, id).await?;
        let event = self.dsync_event(c, "dsync.user.deleted", u.view(), Timestamp::now());
        if self.store.delete_directory_user(&c.environment_id, &c.directory.id, id, &[event]).await? {
            Ok(())
        } else {
            Err(not_found("User", id))
        }
    }

    async fn member_changes(
        &self, c: &DirectoryCredentials, group: &DirectoryGroup, ids: &[String], name: &str, strict: bool,
    ) -> Result<Vec<MemberChange>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let valid: Vec<String> = ids.iter().filter(|i| crate::plausible(Kind::DirectoryUser, i)).cloned().collect();
        let users = self.store.get_directory_users(&c.environment_id, &c.directory.id, &valid).await?;
        if strict && users.len() != ids.len() {
            let missing = ids.iter().find(|i| !users.iter().any(|u| &u.id == *i)).cloned().unwrap_or_default();
            return Err(scim(ScimError::bad(
                "invalidValue",
                format!("Member '{missing}' is not a user of this directory."),
            )));
        }
        let now = Timestamp::now();
        let gview = group.view();
        Ok(users
            .into_iter()
            .map(|u| MemberChange {
                event: self.dsync_event(
                    c,
                    name,
                    json!({"directory_id": c.directory.id, "user": u.view(), "group": gview}),
                    now,
                ),
                user_id: u.id,
            })
            .collect())
    }

    async fn group_json(&self, c: &DirectoryCredentials, g: &DirectoryGroup) -> Result<Value> {
        let members: Vec<(String, String)> = self
            .store
            .group_members(&c.environment_id, std::slice::from_ref(&g.id))
            .await?
            .into_iter()
            .map(|(_, u, n)| (u, n))
            .collect();
        Ok(self.scim_group_json(c, g, &members))
    }

    /// `POST /Groups`.
    pub async fn scim_create_group(&self, c: &DirectoryCredentials, body: &Value) -> Result<Value> {
        let mut resource = object_body(body).map_err(scim)?;
        let members = take_members(&mut resource).map_err(scim)?.unwrap_or_default();
        patch::normalize(&mut resource, &patch::GROUP);
        check_group(&resource).map_err(scim)?;
        let now = Timestamp::now();
        let g = DirectoryGroup {
            id: vestibule_ids::generate(Kind::DirectoryGroup),
            directory_id: c.directory.id.clone(),
            organization_id: c.directory.organization_id.clone(),
            resource,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let adds = self.member_changes(c, &g, &members, "dsync.group.user_added", true).await?;
        let mut events = vec![self.dsync_event(c, "dsync.group.created", g.view(), now)];
        events.extend(adds.into_iter().map(|m| m.event));
        self.store.insert_directory_group(&c.environment_id, &g, &members, &events).await?;
        self.group_json(c, &g).await
    }

    /// `GET /Groups/{id}`.
    pub async fn scim_get_group(&self, c: &DirectoryCredentials, id: &str) -> Result<Value> {
        let g = self.scim_group(c, id).await?;
        self.group_json(c, &g).await
    }

    /// `GET /Groups` with `filter`, `startIndex` and `count`; `members` left out when
    /// `with_members` is false (Entra ID lists groups with `excludedAttributes=members`).
    pub async fn scim_list_groups(
        &self, c: &DirectoryCredentials, cond: &Cond, start_index: u64, count: u64, with_members: bool,
    ) -> Result<Value> {
        let start = start_index.max(1);
        let page = self
            .store
            .query_directory_groups(&c.environment_id, &c.directory.id, cond, start - 1, count.min(MAX_COUNT))
            .await?;
        let ids: Vec<String> = page.items.iter().map(|g| g.id.clone()).collect();
        let members = if with_members && !ids.is_empty() {
            self.store.group_members(&c.environment_id, &ids).await?
        } else {
            Vec::new()
        };
        let resources = page
            .items
            .iter()
            .map(|g| {
                let mine: Vec<(String, String)> =
                    members.iter().filter(|(gid, _, _)| *gid == g.id).map(|(_, u, n)| (u.clone(), n.clone())).collect();
                self.scim_group_json(c, g, &mine)
            })
            .collect();
        Ok(list_response(page.total, start, resources))
    }

    /// Applies attribute changes and membership changes to a group in one transaction.
    async fn change_group(
        &self, c: &DirectoryCredentials, current: &DirectoryGroup, resource: Option<Value>, adds: &[String],
        removes: &[String],
    ) -> Result<bool> {
        let now = Timestamp::now();
        let mut next = current.clone();
        let mut events = Vec::new();
        let mut row = None;
        if let Some(mut resource) = resource {
            patch::normalize(&mut resource, &patch::GROUP);
            check_group(&resource).map_err(scim)?;
            if resource != current.resource {
                next.resource = resource;
                next.updated_at = now;
                next.version = current.version + 1;
                let mut data = next.view();
                data["previous_attributes"] = previous_attributes(&current.resource, &next.resource);
                let mut e = self.dsync_event(c, "dsync.group.updated", data.clone(), now);
                e.context = json!({"previous_attributes": data["previous_attributes"]});
                events.push(e);
                row = Some((&next, current.version));
            }
        }
        let add = self.member_changes(c, &next, adds, "dsync.group.user_added", true).await?;
        let remove = self.member_changes(c, &next, removes, "dsync.group.user_removed", false).await?;
        let change = GroupChange { group: row, events: &events, add: &add, remove: &remove };
        match self.store.change_group(&c.environment_id, &c.directory.id, &current.id, &change).await {
            Ok(_) => Ok(true),
            Err(StoreError::Contended) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT /Groups/{id}`: full replacement, members included.
    pub async fn scim_replace_group(&self, c: &DirectoryCredentials, id: &str, body: &Value) -> Result<Value> {
        let mut resource = object_body(body).map_err(scim)?;
        let wanted = take_members(&mut resource).map_err(scim)?.unwrap_or_default();
        for _ in 0..5 {
            let current = self.scim_group(c, id).await?;
            let have = self.store.group_member_ids(&c.environment_id, id).await?;
            let adds: Vec<String> = wanted.iter().filter(|w| !have.contains(w)).cloned().collect();
            let removes: Vec<String> = have.iter().filter(|h| !wanted.contains(h)).cloned().collect();
            if self.change_group(c, &current, Some(resource.clone()), &adds, &removes).await? {
                let g = self.scim_group(c, id).await?;
                return self.group_json(c, &g).await;
            }
        }
        Err(CoreError::Conflict { code: "concurrent_update", message: "The group changed concurrently; retry.".into() })
    }

    /// `PATCH /Groups/{id}`. Membership operations become single-row inserts and deletes
    /// (no read-modify-write of the member list); other operations patch the resource.
    pub async fn scim_patch_group(&self, c: &DirectoryCredentials, id: &str, body: &Value) -> Result<Value> {
        let ops = patch::parse_request(body).map_err(scim)?;
        for _ in 0..5 {
            let current = self.scim_group(c, id).await?;
            let mut resource = current.resource.clone();
            let mut touched = false;
            let mut adds: BTreeSet<String> = BTreeSet::new();
            let mut removes: BTreeSet<String> = BTreeSet::new();
            let mut current_members: Option<Vec<String>> = None;
            for op in &ops {
                let is_members = |p: &PatchPath| p.attr.is_core() && p.attr.is("members");
                match &op.path {
                    Some(p) if is_members(p) => {
                        if p.attr.sub.is_some() || p.sub.is_some() {
                            return Err(scim(ScimError::bad(
                                "invalidPath",
                                "Member sub-attributes cannot be changed.",
                            )));
                        }
                        let value_ids = match &op.value {
                            Some(v) => member_ids(v).map_err(scim)?,
                            None => Vec::new(),
                        };
                        match (op.op, &p.filter) {
                            (OpKind::Add, None) => {
                                for i in value_ids {
                                    removes.remove(&i);
                                    adds.insert(i);
                                }
                            }
                            (OpKind::Remove, None) if op.value.is_some() => {
                                for i in value_ids {
                                    adds.remove(&i);
                                    removes.insert(i);
                                }
                            }
                            (OpKind::Remove | OpKind::Replace, None) => {
                                // Everything goes; a replace then adds its values back.
                                if current_members.is_none() {
                                    current_members = Some(self.store.group_member_ids(&c.environment_id, id).await?);
                                }
                                adds.clear();
                                for i in current_members.clone().unwrap_or_default() {
                                    removes.insert(i);
                                }
                                for i in value_ids {
                                    removes.remove(&i);
                                    adds.insert(i);
                                }
                            }
                            (OpKind::Remove, Some(f)) => {
                                let mut named = Vec::new();
                                if !named_values(f, &mut named) {
                                    if current_members.is_none() {
                                        current_members =
                                            Some(self.store.group_member_ids(&c.environment_id, id).await?);
                                    }
                                    named = current_members
                                        .clone()
                                        .unwrap_or_default()
                                        .into_iter()
                                        .filter(|m| vestibule_scim::filter::matches(f, &json!({"value": m})))
                                        .collect();
                                }
                                for i in named {
                                    adds.remove(&i);
                                    removes.insert(i);
                                }
                            }
                            (_, Some(_)) => {
                                return Err(scim(ScimError::bad(
                                    "invalidPath",
                                    "Members are added or replaced without a filter.",
                                )));
                            }
                        }
                    }
                    None if op.op != OpKind::Remove
                        && op.value.as_ref().and_then(|v| get_ci(v, "members")).is_some() =>
                    {
                        // A value-less operation carrying members among other attributes.
                        let mut value = op.value.clone().unwrap_or_default();
                        let ids = take_members(&mut value).map_err(scim)?.unwrap_or_default();
                        if op.op == OpKind::Replace {
                            if current_members.is_none() {
                                current_members = Some(self.store.group_member_ids(&c.environment_id, id).await?);
                            }
                            adds.clear();
                            removes.extend(current_members.clone().unwrap_or_default());
                        }
                        for i in ids {
                            removes.remove(&i);
                            adds.insert(i);
                        }
                        if value.as_object().is_some_and(|o| !o.is_empty()) {
                            let rest = Operation { op: op.op, path: None, value: Some(value) };
                            patch::apply(&mut resource, &patch::GROUP, &rest).map_err(scim)?;
                            touched = true;
                        }
                    }
                    _ => {
                        patch::apply(&mut resource, &patch::GROUP, op).map_err(scim)?;
                        touched = true;
                    }
                }
            }
            let adds: Vec<String> = adds.into_iter().collect();
            let removes: Vec<String> = removes.into_iter().filter(|r| !adds.contains(r)).collect();
            if self.change_group(c, &current, touched.then_some(resource), &adds, &removes).await? {
                let g = self.scim_group(c, id).await?;
                return self.group_json(c, &g).await;
            }
        }
        Err(CoreError::Conflict { code: "concurrent_update", message: "The group changed concurrently; retry.".into() })
    }

    /// `POST /.search`: Users then Groups in one list. A filter that only one of the two
    /// resource types understands selects that type alone (`None` for a type leaves it out).
    pub async fn scim_search_all(
        &self, c: &DirectoryCredentials, users: Option<&Cond>, groups: Option<&Cond>, start_index: u64, count: u64,
        with_members: bool,
    ) -> Result<Value> {
        let start = start_index.max(1);
        let count = count.min(MAX_COUNT);
        let (mut resources, users_total) = match users {
            Some(cond) => {
                let list = self.scim_list_users(c, cond, start, count).await?;
                let total = list["totalResults"].as_u64().unwrap_or(0);
                (list["Resources"].as_array().cloned().unwrap_or_default(), total)
            }
            None => (Vec::new(), 0),
        };
        let mut total = users_total;
        if let Some(cond) = groups {
            let group_start = if start > users_total { start - users_total } else { 1 };
            let left = count.saturating_sub(resources.len() as u64);
            let list = self.scim_list_groups(c, cond, group_start, left, with_members).await?;
            total += list["totalResults"].as_u64().unwrap_or(0);
            resources.extend(list["Resources"].as_array().cloned().unwrap_or_default());
        }
        Ok(list_response(total, start, resources))
    }

    /// `DELETE /Groups/{id}`.
    pub async fn scim_delete_group(&self, c: &DirectoryCredentials, id: &str) -> Result<()> {
        let g = self.scim_group(c, id).await?;
        let event = self.dsync_event(c, "dsync.group.deleted", g.view(), Timestamp::now());
        if self.store.delete_directory_group(&c.environment_id, &c.directory.id, id, &[event]).await? {
            Ok(())
        } else {
            Err(not_found("Group", id))
        }
    }
}

/// `/ServiceProviderConfig`.
pub fn service_provider_config() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://workos.com/docs/directory-sync",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
            "description": "The directory's SCIM bearer token in the Authorization header.",
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_name_what_changed() {
        let prev = previous_attributes(&json!({"a": 1, "b": 2}), &json!({"a": 1, "b": 3, "c": 4}));
        assert_eq!(prev, json!({"b": 2, "c": null}));
    }
}
