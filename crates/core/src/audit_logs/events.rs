//! `POST /audit_logs/events`: an event read from its body, limited, checked against its
//! action's schema when it has one, and written through the group-commit writer.

use super::schemas::{action_name_ok, check_against};
use super::*;
use crate::Vestibule;
use crate::kernel::error::{CoreError, Result, SchemaViolation};
use crate::kernel::fields::Fields;
use crate::kernel::time::Timestamp;
use serde_json::{Map, Value};
use vestibule_ids::Kind;

/// Reads a metadata object with WorkOS's limits: at most 50 keys of up to 40
/// characters from `[A-Za-z0-9_-]`, values strings of up to 500 characters, numbers or
/// booleans.
pub(super) fn read_metadata(f: &mut Fields<'_>, name: &str) -> Map<String, Value> {
    let Some(v) = f.value(name) else { return Map::new() };
    let Value::Object(map) = v else {
        f.invalid(name, "invalid_type");
        return Map::new();
    };
    if map.len() > MAX_METADATA_KEYS {
        f.invalid(name, "too_many_keys");
        return Map::new();
    }
    for (k, v) in map {
        let key_ok =
            k.len() <= MAX_METADATA_KEY_CHARS && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key_ok {
            f.invalid(&format!("{name}.{k}"), "invalid_key");
            continue;
        }
        match v {
            Value::String(s) if s.chars().count() > MAX_METADATA_VALUE_CHARS => {
                f.invalid(&format!("{name}.{k}"), "too_long")
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
            _ => f.invalid(&format!("{name}.{k}"), "invalid_type"),
        }
    }
    map.clone()
}

pub(super) fn read_entity(f: &mut Fields<'_>) -> Option<AuditLogEntity> {
    let id = f.required_string("id", 255);
    let kind = f.required_string("type", 100);
    let name = f.optional_string("name", 255);
    let metadata = read_metadata(f, "metadata");
    Some(AuditLogEntity { id: id?, kind: kind?, name: name.filter(|n| !n.is_empty()), metadata })
}

pub(super) fn read_timestamp(f: &mut Fields<'_>, name: &str) -> Option<Timestamp> {
    let raw = f.required_string(name, 64)?;
    let t = Timestamp::parse(&raw);
    if t.is_none() {
        f.invalid(name, "invalid_date");
    }
    t
}

/// Parses a `POST /audit_logs/events` body into the organization id and the event.
pub(super) fn read_event(body: &Value, now: Timestamp) -> Result<(String, AuditLogEvent)> {
    let mut f = Fields::new(body)?;
    let organization_id = f.required_string("organization_id", 100);
    let event = f.object("event", true, |e| {
        let action = e.required_string("action", 100);
        if action.as_deref().is_some_and(|a| !action_name_ok(a)) {
            e.invalid("action", "invalid");
        }
        let occurred_at = read_timestamp(e, "occurred_at");
        if occurred_at.is_some_and(|t| t.millis() > now.millis() + FUTURE_SKEW_MS) {
            e.invalid("occurred_at", "in_future");
        }
        let version = e.optional_int("version");
        if version.is_some_and(|v| v < 1) {
            e.invalid("version", "invalid");
        }
        let actor = e.object("actor", true, read_entity);
        if e.value("targets").is_none() {
            e.invalid("targets", "required");
        }
        let targets = e.optional_objects("targets", MAX_TARGETS, read_entity);
        let context = e.object("context", true, |c| {
            let location = c.required_string("location", 255);
            let user_agent = c.optional_string("user_agent", 1024);
            Some(AuditLogContext { location: location?, user_agent: user_agent.filter(|u| !u.is_empty()) })
        });
        let metadata = read_metadata(e, "metadata");
        Some(AuditLogEvent {
            id: vestibule_ids::generate(Kind::AuditLogEvent),
            organization_id: String::new(),
            action: action?,
            occurred_at: occurred_at?,
            version,
            actor: actor?,
            targets: targets?,
            context: context?,
            metadata,
            idempotency_key: None,
            created_at: now,
        })
    });
    f.finish()?;
    match (organization_id, event) {
        (Some(org), Some(mut event)) => {
            event.organization_id = org.clone();
            Ok((org, event))
        }
        // Every missing piece was recorded as a field error above.
        _ => Err(CoreError::field("event", "invalid")),
    }
}

impl Vestibule {
    /// `POST /audit_logs/events`: checks the event (fields, limits, organization, the
    /// action's schema) and stores it.
    pub async fn create_audit_log_event(&self, env: &str, body: &Value, idempotency_key: Option<&str>) -> Result<()> {
        let now = Timestamp::now();
        let (org_id, mut event) = read_event(body, now)?;
        self.organization_json(env, &org_id).await.map_err(|e| match e {
            CoreError::NotFound { .. } => organization_missing(&org_id),
            e => e,
        })?;
        match self.audit_log_schema(env, &event.action, event.version).await? {
            Some(schema) => {
                check_against(&schema, &event)?;
                event.version = Some(schema.version);
            }
            None if event.version.is_some() => {
                return Err(CoreError::InvalidAuditLogEvent(vec![SchemaViolation {
                    instance_path: "/version".into(),
                    message: format!(
                        "Action {} has no schema version {}.",
                        event.action,
                        event.version.unwrap_or_default()
                    ),
                }]));
            }
            None => {}
        }
        event.idempotency_key = idempotency_key.map(str::to_owned);
        self.audit_log_writer.insert(env, event).await?;
        Ok(())
    }
}
