//! The audit-log objects as served: events, schemas, actions, exports and the
//! organization configuration, and the row an event is stored as.

use crate::kernel::pagination::HasId;
use crate::kernel::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who performed an action, or what it was performed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLogEntity {
    /// The application's id for it.
    pub id: String,
    /// Its type, e.g. `user` or `invoice`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Key/value metadata (strings, numbers, booleans).
    pub metadata: Map<String, Value>,
}

/// Where and how an action happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLogContext {
    /// IP address or other location.
    pub location: String,
    /// The client's user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// One audit-log event, as stored and as checked against its schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLogEvent {
    /// `audit_log_event_…`
    pub id: String,
    /// The organization it belongs to.
    #[serde(skip)]
    pub organization_id: String,
    /// What happened, e.g. `user.signed_in`.
    pub action: String,
    /// When it happened, by the sender's clock.
    pub occurred_at: Timestamp,
    /// The schema version it was checked against, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Who did it.
    pub actor: AuditLogEntity,
    /// What it was done to.
    pub targets: Vec<AuditLogEntity>,
    /// Where it was done from.
    pub context: AuditLogContext,
    /// Key/value metadata.
    pub metadata: Map<String, Value>,
    /// The `Idempotency-Key` it arrived with, for tracing duplicates.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    /// When we received it.
    #[serde(skip)]
    pub created_at: Timestamp,
}

/// One version of an action's schema, as the API serves it. Never changed once stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLogSchema {
    /// Always `audit_log_schema`.
    pub object: &'static str,
    /// 1, 2, … per action.
    pub version: i64,
    /// `{"metadata": <JSON Schema>}` for the actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Value>,
    /// `[{"type", "metadata"?: <JSON Schema>}]`: the target types events may name.
    pub targets: Vec<Value>,
    /// JSON Schema of the event's own metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Creation time.
    pub created_at: Timestamp,
    /// `als_…`: the list cursor.
    #[serde(skip)]
    pub id: String,
    /// The action it belongs to.
    #[serde(skip)]
    pub action: String,
}

impl HasId for AuditLogSchema {
    fn id(&self) -> &str {
        &self.id
    }
}

/// An action with its latest schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLogAction {
    /// Always `audit_log_action`.
    pub object: &'static str,
    /// The action name, e.g. `user.signed_in`.
    pub name: String,
    /// Its latest schema.
    pub schema: AuditLogSchema,
    /// Creation time.
    pub created_at: Timestamp,
    /// When its latest schema was added.
    pub updated_at: Timestamp,
    /// `ala_…`: the list cursor.
    #[serde(skip)]
    pub id: String,
}

impl HasId for AuditLogAction {
    fn id(&self) -> &str {
        &self.id
    }
}

/// What an export selects besides organization and range; empty lists select all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFilter {
    /// Actions to include.
    pub actions: Vec<String>,
    /// Actor names to include (`actor_names` and the deprecated `actors`).
    pub actor_names: Vec<String>,
    /// Actor ids to include; an event matches on a name or an id.
    pub actor_ids: Vec<String>,
    /// Target types to include; an event matches when any of its targets has one.
    pub targets: Vec<String>,
}

/// An export, as the API serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLogExport {
    /// Always `audit_log_export`.
    pub object: &'static str,
    /// `audit_log_export_…`
    pub id: String,
    /// `pending`, `ready` or `error`.
    pub state: String,
    /// A signed download link when ready; `null` otherwise.
    pub url: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change of state.
    pub updated_at: Timestamp,
    /// The environment it belongs to.
    #[serde(skip)]
    pub environment_id: String,
    /// The organization whose events it holds.
    #[serde(skip)]
    pub organization_id: String,
    /// First `occurred_at` included.
    #[serde(skip)]
    pub range_start: Timestamp,
    /// Last `occurred_at` included.
    #[serde(skip)]
    pub range_end: Timestamp,
    /// Further selection.
    #[serde(skip)]
    pub filter: ExportFilter,
    /// Times a worker has taken it.
    #[serde(skip)]
    pub attempts: i64,
    /// Events written, once ready.
    #[serde(skip)]
    pub row_count: Option<i64>,
    /// Stored CSV chunks, once ready.
    #[serde(skip)]
    pub chunk_count: Option<i64>,
    /// Why it failed, for logs and operators.
    #[serde(skip)]
    pub error: Option<String>,
}

/// `GET /organizations/{id}/audit_log_configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditLogConfiguration {
    /// The organization.
    pub organization_id: String,
    /// The retention in force, in days.
    pub retention_period_in_days: i64,
    /// Always `active`: audit logs need no setup here.
    pub state: &'static str,
}

/// An event as stored: its JSON parts (actor metadata, targets, metadata) are the compact
/// JSON text they were stored as, so an export copies them into the CSV unparsed.
#[derive(Debug, Clone)]
pub struct AuditLogRow {
    pub id: String,
    pub organization_id: String,
    pub action: String,
    pub occurred_at: Timestamp,
    pub version: Option<i64>,
    pub actor_id: String,
    pub actor_type: String,
    pub actor_name: Option<String>,
    pub actor_metadata: String,
    pub targets: String,
    pub location: String,
    pub user_agent: Option<String>,
    pub metadata: String,
    pub idempotency_key: Option<String>,
    pub created_at: Timestamp,
}

impl From<&AuditLogEvent> for AuditLogRow {
    fn from(e: &AuditLogEvent) -> Self {
        Self {
            id: e.id.clone(),
            organization_id: e.organization_id.clone(),
            action: e.action.clone(),
            occurred_at: e.occurred_at,
            version: e.version,
            actor_id: e.actor.id.clone(),
            actor_type: e.actor.kind.clone(),
            actor_name: e.actor.name.clone(),
            actor_metadata: serde_json::to_string(&e.actor.metadata).expect("metadata serializes"),
            targets: serde_json::to_string(&e.targets).expect("targets serialize"),
            location: e.context.location.clone(),
            user_agent: e.context.user_agent.clone(),
            metadata: serde_json::to_string(&e.metadata).expect("metadata serializes"),
            idempotency_key: e.idempotency_key.clone(),
            created_at: e.created_at,
        }
    }
}

impl AuditLogRow {
    /// The event, its JSON parts parsed.
    pub fn into_event(self) -> AuditLogEvent {
        AuditLogEvent {
            actor: AuditLogEntity {
                id: self.actor_id,
                kind: self.actor_type,
                name: self.actor_name,
                metadata: serde_json::from_str(&self.actor_metadata).unwrap_or_default(),
            },
            targets: serde_json::from_str(&self.targets).unwrap_or_default(),
            context: AuditLogContext { location: self.location, user_agent: self.user_agent },
            metadata: serde_json::from_str(&self.metadata).unwrap_or_default(),
            id: self.id,
            organization_id: self.organization_id,
            action: self.action,
            occurred_at: self.occurred_at,
            version: self.version,
            idempotency_key: self.idempotency_key,
            created_at: self.created_at,
        }
    }

    /// Whether the event passes the export's target-type filter (the store applies the
    /// rest); the targets are parsed only when there is such a filter.
    pub(super) fn matches_targets(&self, filter: &ExportFilter) -> bool {
        #[derive(Deserialize)]
        struct Target {
            #[serde(rename = "type")]
            kind: String,
        }
        filter.targets.is_empty()
            || serde_json::from_str::<Vec<Target>>(&self.targets)
                .is_ok_and(|targets| targets.iter().any(|t| filter.targets.contains(&t.kind)))
    }
}
