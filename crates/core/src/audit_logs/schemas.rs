//! Versioned JSON Schemas per action: created, listed, compiled once and cached, and
//! what each event is checked against.

use super::*;
use crate::Vestibule;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result, SchemaViolation};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use vestibule_ids::Kind;

/// Action names: `user.signed_in`, `invoice-paid`; 1 to 100 URL-safe characters.
pub fn action_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// A JSON Schema given for `name` must itself be a valid, self-contained schema.
pub(super) fn read_json_schema(f: &mut Fields<'_>, name: &str) -> Option<Value> {
    let v = f.value(name)?;
    if !v.is_object() {
        f.invalid(name, "invalid_type");
        return None;
    }
    if jsonschema::validator_for(v).is_err() {
        f.invalid(name, "invalid_schema");
        return None;
    }
    Some(v.clone())
}

/// The schema an event as a whole must match: the action's actor, target and metadata
/// schemas at their places, and target types limited to those the action declares.
pub(super) fn event_schema(s: &AuditLogSchema) -> Value {
    let mut props = Map::new();
    if let Some(actor) = s.actor.as_ref().and_then(|a| a.get("metadata")).filter(|m| m.is_object()) {
        props.insert("actor".into(), json!({"type": "object", "properties": {"metadata": actor}}));
    }
    if !s.targets.is_empty() {
        let types: Vec<Value> = s.targets.iter().filter_map(|t| t.get("type").cloned()).collect();
        let per_type: Vec<Value> = s
            .targets
            .iter()
            .filter_map(|t| {
                let metadata = t.get("metadata").filter(|m| m.is_object())?;
                Some(json!({
                    "if": {"properties": {"type": {"const": t.get("type")?}}},
                    "then": {"properties": {"metadata": metadata}},
                }))
            })
            .collect();
        let mut items = json!({"properties": {"type": {"enum": types}}});
        if !per_type.is_empty() {
            items["allOf"] = Value::Array(per_type);
        }
        props.insert("targets".into(), json!({"type": "array", "items": items}));
    }
    if let Some(m) = s.metadata.as_ref().filter(|m| m.is_object()) {
        props.insert("metadata".into(), m.clone());
    }
    json!({"type": "object", "properties": props})
}

impl crate::kernel::cache::Weight for Option<Arc<AuditLogSchema>> {
    fn weight(&self) -> usize {
        // Measured only on a cache miss; the serialized size is a fair estimate.
        self.as_ref().map_or(16, |s| serde_json::to_vec(&**s).map_or(4096, |v| v.len()))
    }
}

/// Compiled event schemas by schema id: schemas never change, so a compiled one stays right.
pub(super) fn compiled(schema: &AuditLogSchema) -> Result<Arc<jsonschema::Validator>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&schema.id) {
        return Ok(v.clone());
    }
    let validator = jsonschema::validator_for(&event_schema(schema)).map(Arc::new).map_err(|e| {
        CoreError::Internal(StoreError::Backend(format!("stored schema {} does not compile: {e}", schema.id).into()))
    })?;
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= 1000 {
        map.clear();
    }
    map.insert(schema.id.clone(), validator.clone());
    Ok(validator)
}

pub(super) fn check_against(schema: &AuditLogSchema, event: &AuditLogEvent) -> Result<()> {
    let validator = compiled(schema)?;
    let instance = serde_json::to_value(event).expect("events serialize");
    let errors: Vec<SchemaViolation> = validator
        .iter_errors(&instance)
        .take(20)
        .map(|e| SchemaViolation { instance_path: e.instance_path().as_str().to_owned(), message: e.to_string() })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(CoreError::InvalidAuditLogEvent(errors)) }
}

impl Vestibule {
    /// The schema events of `action` are checked against (`version`, or the latest), from
    /// [`Vestibule::audit_log_schemas_cache`] while no schema was written since it was read.
    pub(super) async fn audit_log_schema(
        &self, env: &str, action: &str, version: Option<i64>,
    ) -> Result<Option<Arc<AuditLogSchema>>> {
        let key = match version {
            Some(v) => format!("{action}/{v}"),
            None => format!("{action}/latest"),
        };
        self.audit_log_schemas_cache
            .get_or_read(env, &key, async {
                Ok(self.store.get_audit_log_schema(env, action, version).await?.map(Arc::new))
            })
            .await
    }

    /// `POST /audit_logs/actions/{action}/schemas`: the action's next schema version.
    pub async fn create_audit_log_schema(&self, env: &str, action: &str, body: &Value) -> Result<AuditLogSchema> {
        if !action_name_ok(action) {
            return Err(CoreError::field("action_name", "invalid"));
        }
        let mut f = Fields::new(body)?;
        let actor = f.object("actor", false, |a| {
            let metadata = read_json_schema(a, "metadata");
            if a.value("metadata").is_none() {
                a.invalid("metadata", "required");
            }
            metadata.map(|m| json!({"metadata": m}))
        });
        if f.value("targets").is_none() {
            f.invalid("targets", "required");
        }
        let targets = f.optional_objects("targets", MAX_TARGETS, |t| {
            let kind = t.required_string("type", 100);
            let metadata = read_json_schema(t, "metadata");
            let mut out = json!({"type": kind?});
            if let Some(m) = metadata {
                out["metadata"] = m;
            }
            Some(out)
        });
        let metadata = read_json_schema(&mut f, "metadata");
        f.finish()?;
        let mut schema = AuditLogSchema {
            object: "audit_log_schema",
            version: 0,
            actor,
            targets: targets.unwrap_or_default(),
            metadata,
            created_at: Timestamp::now(),
            id: vestibule_ids::generate(Kind::AuditLogSchema),
            action: action.to_owned(),
        };
        // Each part compiled alone; the whole must too, or no event could ever be checked.
        if jsonschema::validator_for(&event_schema(&schema)).is_err() {
            return Err(CoreError::field("targets", "invalid_schema"));
        }
        let action_id = vestibule_ids::generate(Kind::AuditLogAction);
        // Two concurrent edits may pick the same next version; the loser takes the one after.
        for _ in 0..5 {
            let inserted = self.store.insert_audit_log_schema(env, &action_id, &schema).await;
            // After the commit: events checked from now on see the new version.
            self.audit_log_schemas_cache.invalidate(env);
            match inserted {
                Ok(version) => {
                    schema.version = version;
                    return Ok(schema);
                }
                Err(StoreError::Contended) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict {
            code: "concurrent_update",
            message: "The action's schema changed concurrently; retry.".into(),
        })
    }

    /// `GET /audit_logs/actions/{action}/schemas`.
    pub async fn list_audit_log_schemas(
        &self, env: &str, action: &str, page: PageRequest,
    ) -> Result<Page<AuditLogSchema>> {
        if !action_name_ok(action) || self.store.get_audit_log_schema(env, action, None).await?.is_none() {
            return Err(action_not_found(action));
        }
        Ok(self.store.list_audit_log_schemas(env, action, &page).await?)
    }

    /// `GET /audit_logs/actions`.
    pub async fn list_audit_log_actions(&self, env: &str, page: PageRequest) -> Result<Page<AuditLogAction>> {
        Ok(self.store.list_audit_log_actions(env, &page).await?)
    }
}
