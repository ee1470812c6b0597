//! Audit logs: actions with immutable, versioned JSON Schemas; events checked against
//! them; CSV exports written in the background and downloaded through signed, expiring
//! links; and a retention period per organization.

use crate::error::{CoreError, Result, SchemaViolation};
use crate::metadata::Fields;
use crate::pagination::{HasId, Page, PageRequest};
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::{secrets, Vestibule};
use async_trait::async_trait;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use vestibule_ids::Kind;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Most targets one event may name.
pub const MAX_TARGETS: usize = 50;
/// Most keys in one metadata object (root, actor or target).
pub const MAX_METADATA_KEYS: usize = 50;
/// Longest metadata key.
pub const MAX_METADATA_KEY_CHARS: usize = 40;
/// Longest metadata string value.
pub const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Largest accepted `POST /audit_logs/events` body, in bytes.
pub const MAX_EVENT_BODY_BYTES: usize = 256 * 1024;
/// How far ahead of our clock `occurred_at` may be: senders' clocks drift.
pub const FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// Longest export range: three months.
pub const MAX_EXPORT_RANGE_MS: i64 = 92 * DAY_MS;
/// Events read per page while writing an export; only one page is held in memory.
pub const EXPORT_PAGE_ROWS: u32 = 1000;
/// How long a worker holds an export before another may take it over; renewed per page.
pub const EXPORT_LEASE_MS: i64 = 60_000;
/// Attempts before an export is given up as `error`.
pub const EXPORT_MAX_ATTEMPTS: i64 = 3;
/// How long finished exports are kept before housekeeping deletes them.
pub const EXPORT_KEEP_MS: i64 = 7 * DAY_MS;
/// How long a download link stays valid.
pub const DOWNLOAD_LINK_TTL_MS: i64 = 10 * 60 * 1000;
/// Retention periods an organization may choose, in days.
pub const RETENTION_PERIODS: [i64; 2] = [30, 365];
/// Retention of organizations that never chose one, in days.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;
/// The columns of an export's CSV, in order.
pub const CSV_COLUMNS: [&str; 11] =
    ["id", "occurred_at", "action", "version", "actor_id", "actor_type", "actor_name", "targets", "location", "user_agent", "metadata"];
/// Name of the server secret that download-link keys derive from.
const EXPORT_SECRET_NAME: &str = "audit_log_export_links";

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
    fn matches_targets(&self, filter: &ExportFilter) -> bool {
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

/// Storage for audit logs.
#[async_trait]
pub trait AuditLogStore {
    /// Inserts events, each with its environment, in one transaction: all or none.
    async fn insert_audit_log_events(&self, events: &[(&str, &AuditLogEvent)]) -> Result<(), StoreError>;
    /// Stores `schema` as the next version of its action (creating the action, with id
    /// `action_id`, when missing) and returns that version; [`StoreError::Contended`] when another
    /// writer took the same version first.
    async fn insert_audit_log_schema(&self, env: &str, action_id: &str, schema: &AuditLogSchema) -> Result<i64, StoreError>;
    /// One schema of `action`: `version`, or the latest when `None`.
    async fn get_audit_log_schema(&self, env: &str, action: &str, version: Option<i64>) -> Result<Option<AuditLogSchema>, StoreError>;
    /// A page of the schema versions of `action`.
    async fn list_audit_log_schemas(&self, env: &str, action: &str, page: &PageRequest) -> Result<Page<AuditLogSchema>, StoreError>;
    /// A page of actions, each with its latest schema.
    async fn list_audit_log_actions(&self, env: &str, page: &PageRequest) -> Result<Page<AuditLogAction>, StoreError>;
    /// Inserts a pending export.
    async fn insert_audit_log_export(&self, export: &AuditLogExport) -> Result<(), StoreError>;
    /// One export by id, in `env` when given (download links carry no environment).
    async fn get_audit_log_export(&self, env: Option<&str>, id: &str) -> Result<Option<AuditLogExport>, StoreError>;
    /// Takes one pending export whose lease ran out, for `lease_ms`, counting an attempt.
    async fn claim_audit_log_export(&self, now: Timestamp, lease_ms: i64) -> Result<Option<AuditLogExport>, StoreError>;
    /// Up to `limit` events of the export's organization, range, actions and actors,
    /// ordered by `(occurred_at, id)` and after `after` in that order. Target types
    /// are left to the caller.
    async fn audit_log_events_page(
        &self,
        export: &AuditLogExport,
        after: Option<(Timestamp, String)>,
        limit: u32,
    ) -> Result<Vec<AuditLogRow>, StoreError>;
    /// Stores chunk `seq` of an export's CSV and renews the lease until `lease_until`;
    /// false when attempt `attempt` no longer holds the export.
    async fn put_audit_log_export_chunk(&self, id: &str, attempt: i64, seq: i64, data: &[u8], lease_until: Timestamp) -> Result<bool, StoreError>;
    /// Marks an export ready with its counts; false when `attempt` lost it.
    async fn complete_audit_log_export(&self, id: &str, attempt: i64, rows: i64, chunks: i64, at: Timestamp) -> Result<bool, StoreError>;
    /// Records a failed attempt: retried after `retry_at`, or `error` for good when `None`.
    async fn fail_audit_log_export(&self, id: &str, attempt: i64, error: &str, retry_at: Option<Timestamp>, at: Timestamp) -> Result<(), StoreError>;
    /// Chunk `seq` of a ready export's CSV.
    async fn get_audit_log_export_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// The retention an organization chose, in days.
    async fn get_audit_log_retention(&self, env: &str, organization_id: &str) -> Result<Option<i64>, StoreError>;
    /// Sets an organization's retention.
    async fn set_audit_log_retention(&self, env: &str, organization_id: &str, days: i64, at: Timestamp) -> Result<(), StoreError>;
    /// Deletes events past their organization's retention (default [`DEFAULT_RETENTION_DAYS`])
    /// and exports older than [`EXPORT_KEEP_MS`]; returns the events deleted.
    async fn purge_audit_logs(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// The server-wide secret `name`, created from `candidate` if none exists yet, so
    /// that every instance on the database agrees on it.
    async fn server_secret(&self, name: &str, candidate: &str, at: Timestamp) -> Result<String, StoreError>;
}

/// A ready export's CSV, read back one stored chunk at a time.
pub struct ExportDownload {
    store: Arc<dyn crate::Store>,
    id: String,
    next: i64,
    chunks: i64,
}

impl std::fmt::Debug for ExportDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportDownload").field("id", &self.id).field("next", &self.next).field("chunks", &self.chunks).finish()
    }
}

impl ExportDownload {
    /// The next piece of the CSV, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.next >= self.chunks {
            return Ok(None);
        }
        let chunk = self.store.get_audit_log_export_chunk(&self.id, self.next).await?;
        self.next += 1;
        chunk.map(Some).ok_or_else(|| CoreError::Store(StoreError::Backend(format!("export {} lost a chunk", self.id))))
    }
}

fn organization_missing(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Organization", id: id.to_owned() }
}

fn export_not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Audit Log Export", id: id.to_owned() }
}

fn action_not_found(name: &str) -> CoreError {
    CoreError::NotFound { entity: "Audit Log Action", id: name.to_owned() }
}

/// Action names: `user.signed_in`, `invoice-paid`; 1 to 100 URL-safe characters.
pub fn action_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// Reads a metadata object with WorkOS's limits: at most 50 keys of up to 40
/// characters from `[A-Za-z0-9_-]`, values strings of up to 500 characters, numbers or
/// booleans.
fn read_metadata(f: &mut Fields<'_>, name: &str) -> Map<String, Value> {
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
        let key_ok = k.len() <= MAX_METADATA_KEY_CHARS && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key_ok {
            f.invalid(&format!("{name}.{k}"), "invalid_key");
            continue;
        }
        match v {
            Value::String(s) if s.chars().count() > MAX_METADATA_VALUE_CHARS => f.invalid(&format!("{name}.{k}"), "too_long"),
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
            _ => f.invalid(&format!("{name}.{k}"), "invalid_type"),
        }
    }
    map.clone()
}

fn read_entity(f: &mut Fields<'_>) -> Option<AuditLogEntity> {
    let id = f.required_string("id", 255);
    let kind = f.required_string("type", 100);
    let name = f.optional_string("name", 255);
    let metadata = read_metadata(f, "metadata");
    Some(AuditLogEntity { id: id?, kind: kind?, name: name.filter(|n| !n.is_empty()), metadata })
}

fn read_timestamp(f: &mut Fields<'_>, name: &str) -> Option<Timestamp> {
    let raw = f.required_string(name, 64)?;
    let t = Timestamp::parse(&raw);
    if t.is_none() {
        f.invalid(name, "invalid_date");
    }
    t
}

/// Parses a `POST /audit_logs/events` body into the organization id and the event.
fn read_event(body: &Value, now: Timestamp) -> Result<(String, AuditLogEvent)> {
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

/// A JSON Schema given for `name` must itself be a valid, self-contained schema.
fn read_json_schema(f: &mut Fields<'_>, name: &str) -> Option<Value> {
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
fn event_schema(s: &AuditLogSchema) -> Value {
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

impl crate::cache::Weight for Option<Arc<AuditLogSchema>> {
    fn weight(&self) -> usize {
        // Measured only on a cache miss; the serialized size is a fair estimate.
        self.as_ref().map_or(16, |s| serde_json::to_vec(s).map_or(4096, |v| v.len()))
    }
}

/// Compiled event schemas by schema id: schemas never change, so a compiled one stays right.
fn compiled(schema: &AuditLogSchema) -> Result<Arc<jsonschema::Validator>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&schema.id) {
        return Ok(v.clone());
    }
    let validator = jsonschema::validator_for(&event_schema(schema))
        .map(Arc::new)
        .map_err(|e| CoreError::Store(StoreError::Backend(format!("stored schema {} does not compile: {e}", schema.id))))?;
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= 1000 {
        map.clear();
    }
    map.insert(schema.id.clone(), validator.clone());
    Ok(validator)
}

fn check_against(schema: &AuditLogSchema, event: &AuditLogEvent) -> Result<()> {
    let validator = compiled(schema)?;
    let instance = serde_json::to_value(event).expect("events serialize");
    let errors: Vec<SchemaViolation> = validator
        .iter_errors(&instance)
        .take(20)
        .map(|e| SchemaViolation { instance_path: e.instance_path().as_str().to_owned(), message: e.to_string() })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(CoreError::InvalidAuditLogEvent(errors)) }
}

/// Writes the CSV records of `rows` (after the header when `header`), in [`CSV_COLUMNS`] order.
fn write_csv(header: bool, rows: &[AuditLogRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256 + 128));
    let fail = |e: csv::Error| CoreError::Store(StoreError::Backend(format!("writing CSV: {e}")));
    if header {
        w.write_record(CSV_COLUMNS).map_err(fail)?;
    }
    let mut version = String::new();
    for r in rows {
        version.clear();
        if let Some(v) = r.version {
            version.push_str(&v.to_string());
        }
        let occurred_at = r.occurred_at.to_iso();
        w.write_record([
            r.id.as_str(),
            &occurred_at,
            &r.action,
            &version,
            &r.actor_id,
            &r.actor_type,
            r.actor_name.as_deref().unwrap_or_default(),
            &r.targets,
            &r.location,
            r.user_agent.as_deref().unwrap_or_default(),
            &r.metadata,
        ])
        .map_err(fail)?;
    }
    w.into_inner().map_err(|e| CoreError::Store(StoreError::Backend(format!("writing CSV: {e}"))))
}

/// Delay before export attempt `n + 1`: 5 s, 10 s, 20 s.
fn export_backoff_ms(attempts: i64) -> i64 {
    5_000i64 << attempts.clamp(0, 10)
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
                    message: format!("Action {} has no schema version {}.", event.action, event.version.unwrap_or_default()),
                }]));
            }
            None => {}
        }
        event.idempotency_key = idempotency_key.map(str::to_owned);
        self.audit_log_writer.insert(env, event).await?;
        Ok(())
    }

    /// The schema events of `action` are checked against (`version`, or the latest), from
    /// [`Vestibule::audit_log_schemas_cache`] while no schema was written since it was read.
    async fn audit_log_schema(&self, env: &str, action: &str, version: Option<i64>) -> Result<Option<Arc<AuditLogSchema>>> {
        let key = match version {
            Some(v) => format!("{action}/{v}"),
            None => format!("{action}/latest"),
        };
        self.audit_log_schemas_cache
            .get_or_read(env, &key, async { Ok(self.store.get_audit_log_schema(env, action, version).await?.map(Arc::new)) })
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
        Err(CoreError::Conflict { code: "concurrent_update", message: "The action's schema changed concurrently; retry.".into() })
    }

    /// `GET /audit_logs/actions/{action}/schemas`.
    pub async fn list_audit_log_schemas(&self, env: &str, action: &str, page: PageRequest) -> Result<Page<AuditLogSchema>> {
        if !action_name_ok(action) || self.store.get_audit_log_schema(env, action, None).await?.is_none() {
            return Err(action_not_found(action));
        }
        Ok(self.store.list_audit_log_schemas(env, action, &page).await?)
    }

    /// `GET /audit_logs/actions`.
    pub async fn list_audit_log_actions(&self, env: &str, page: PageRequest) -> Result<Page<AuditLogAction>> {
        Ok(self.store.list_audit_log_actions(env, &page).await?)
    }

    /// `POST /audit_logs/exports`: a pending export that the export worker fills.
    pub async fn create_audit_log_export(&self, env: &str, body: &Value) -> Result<AuditLogExport> {
        let mut f = Fields::new(body)?;
        let organization_id = f.required_string("organization_id", 100);
        let start = read_timestamp(&mut f, "range_start");
        let end = read_timestamp(&mut f, "range_end");
        // An impossible range is the spec's 400, not a field error.
        let bad_range = match (start, end) {
            (Some(s), Some(e)) if s >= e => Some("range_start must be before range_end."),
            (Some(s), Some(e)) if e.millis() - s.millis() > MAX_EXPORT_RANGE_MS => Some("The range may span at most 92 days."),
            _ => None,
        };
        let actions = f.optional_strings("actions", 100, 100).unwrap_or_default();
        let mut actor_names = f.optional_strings("actor_names", 100, 255).unwrap_or_default();
        actor_names.extend(f.optional_strings("actors", 100, 255).unwrap_or_default());
        let actor_ids = f.optional_strings("actor_ids", 100, 255).unwrap_or_default();
        let targets = f.optional_strings("targets", 100, 100).unwrap_or_default();
        f.finish()?;
        if let Some(message) = bad_range {
            return Err(CoreError::BadRequest { code: "invalid_audit_log_export_range_date", message: message.into() });
        }
        let (Some(org_id), Some(start), Some(end)) = (organization_id, start, end) else {
            return Err(CoreError::field("organization_id", "required"));
        };
        let org = self.get_organization(env, &org_id).await?;
        let now = Timestamp::now();
        let export = AuditLogExport {
            object: "audit_log_export",
            id: vestibule_ids::generate(Kind::AuditLogExport),
            state: "pending".into(),
            url: None,
            created_at: now,
            updated_at: now,
            environment_id: env.to_owned(),
            organization_id: org.id,
            range_start: start,
            range_end: end,
            filter: ExportFilter { actions, actor_names, actor_ids, targets },
            attempts: 0,
            row_count: None,
            chunk_count: None,
            error: None,
        };
        self.store.insert_audit_log_export(&export).await?;
        self.audit_log_exports_queued.notify_one();
        Ok(export)
    }

    /// `GET /audit_logs/exports/{id}`: when ready, with a fresh signed download link.
    pub async fn get_audit_log_export(&self, env: &str, id: &str) -> Result<AuditLogExport> {
        if !crate::plausible(Kind::AuditLogExport, id) {
            return Err(export_not_found(id));
        }
        let mut export = self.store.get_audit_log_export(Some(env), id).await?.ok_or_else(|| export_not_found(id))?;
        if export.state == "ready" {
            let expires = Timestamp::now().plus_millis(DOWNLOAD_LINK_TTL_MS);
            export.url = Some(self.audit_log_export_download_url(&export.id, expires).await?);
        }
        Ok(export)
    }

    /// A signed link to an export's CSV, valid until `expires` (whole seconds).
    pub async fn audit_log_export_download_url(&self, id: &str, expires: Timestamp) -> Result<String> {
        let expires = expires.millis() / 1000;
        let signature = hex::encode(self.sign_download(id, expires).await?.finalize().into_bytes());
        Ok(format!("{}/audit_logs/exports/{id}/download?expires={expires}&signature={signature}", self.public_url))
    }

    /// The MAC of a download link, keyed from the database's shared secret so that
    /// every instance signs and checks alike.
    async fn sign_download(&self, id: &str, expires: i64) -> Result<hmac::Hmac<sha2::Sha256>> {
        let candidate = secrets::random_base62(48);
        let secret = self.store.server_secret(EXPORT_SECRET_NAME, &candidate, Timestamp::now()).await?;
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(format!("{id}\n{expires}").as_bytes());
        Ok(mac)
    }

    /// `GET /audit_logs/exports/{id}/download`: checks the link's signature and expiry
    /// (no API key: the link is the credential) and opens the CSV.
    pub async fn open_audit_log_export_download(&self, id: &str, expires: &str, signature: &str) -> Result<ExportDownload> {
        let refused = || CoreError::Forbidden { code: "invalid_signature", message: "The download link is invalid.".into() };
        let expires: i64 = expires.parse().map_err(|_| refused())?;
        let signature = hex::decode(signature).map_err(|_| refused())?;
        if !crate::plausible(Kind::AuditLogExport, id) {
            return Err(refused());
        }
        // Constant-time comparison: a timing difference must not reveal a valid prefix.
        self.sign_download(id, expires).await?.verify_slice(&signature).map_err(|_| refused())?;
        if expires.saturating_mul(1000) < Timestamp::now().millis() {
            return Err(CoreError::Forbidden { code: "download_link_expired", message: "The download link has expired.".into() });
        }
        let export = self.store.get_audit_log_export(None, id).await?.ok_or_else(|| export_not_found(id))?;
        match (export.state.as_str(), export.chunk_count) {
            ("ready", Some(chunks)) => Ok(ExportDownload { store: self.store.clone(), id: export.id, next: 0, chunks }),
            _ => Err(export_not_found(id)),
        }
    }

    /// Runs one due export, if any: writes its CSV page by page and marks it ready, or
    /// records the failure. Returns whether there was one.
    pub async fn process_next_audit_log_export(&self) -> Result<bool> {
        let Some(export) = self.store.claim_audit_log_export(Timestamp::now(), EXPORT_LEASE_MS).await? else { return Ok(false) };
        if export.attempts > EXPORT_MAX_ATTEMPTS {
            // Its workers kept dying mid-export (their leases ran out): stop trying.
            let reason = "the export was interrupted too many times";
            self.store.fail_audit_log_export(&export.id, export.attempts, reason, None, Timestamp::now()).await?;
            return Ok(true);
        }
        match self.write_audit_log_export(&export).await {
            // False: another worker took it over after our lease ran out; it carries on.
            Ok(_) => {}
            Err(e) => {
                let now = Timestamp::now();
                let retry = (export.attempts < EXPORT_MAX_ATTEMPTS).then(|| now.plus_millis(export_backoff_ms(export.attempts)));
                self.store.fail_audit_log_export(&export.id, export.attempts, &e.to_string(), retry, now).await?;
                return Err(e);
            }
        }
        Ok(true)
    }

    /// Streams the export's events into CSV chunks; false when another worker took it over.
    /// The next page is read while the current chunk is written.
    async fn write_audit_log_export(&self, export: &AuditLogExport) -> Result<bool> {
        let (mut rows, mut seq) = (0i64, 0i64);
        let mut page = self.store.audit_log_events_page(export, None, EXPORT_PAGE_ROWS).await?;
        loop {
            let last_page = page.len() < EXPORT_PAGE_ROWS as usize;
            let after = page.last().map(|r| (r.occurred_at, r.id.clone()));
            let selected: Vec<AuditLogRow> = page.into_iter().filter(|r| r.matches_targets(&export.filter)).collect();
            let write = async {
                if seq > 0 && selected.is_empty() {
                    return Ok(true);
                }
                let data = write_csv(seq == 0, &selected)?;
                let lease = Timestamp::now().plus_millis(EXPORT_LEASE_MS);
                Ok::<_, CoreError>(self.store.put_audit_log_export_chunk(&export.id, export.attempts, seq, &data, lease).await?)
            };
            let next = async {
                match after {
                    Some(after) if !last_page => self.store.audit_log_events_page(export, Some(after), EXPORT_PAGE_ROWS).await,
                    _ => Ok(Vec::new()),
                }
            };
            let (held, next) = tokio::join!(write, next);
            if !held? {
                return Ok(false);
            }
            if seq == 0 || !selected.is_empty() {
                rows += selected.len() as i64;
                seq += 1;
            }
            if last_page {
                break;
            }
            page = next?;
        }
        Ok(self.store.complete_audit_log_export(&export.id, export.attempts, rows, seq, Timestamp::now()).await?)
    }

    /// `GET /organizations/{id}/audit_logs_retention`: `None` when never set.
    pub async fn get_audit_logs_retention(&self, env: &str, organization_id: &str) -> Result<Option<i64>> {
        let org = self.get_organization(env, organization_id).await?;
        Ok(self.store.get_audit_log_retention(env, &org.id).await?)
    }

    /// `PUT /organizations/{id}/audit_logs_retention`: 30 or 365 days.
    pub async fn set_audit_logs_retention(&self, env: &str, organization_id: &str, body: &Value) -> Result<i64> {
        let mut f = Fields::new(body)?;
        let mut days = f.optional_int("retention_period_in_days");
        // The Node SDK sends `retention_period` as a duration name instead.
        if days.is_none() {
            match f.optional_string("retention_period", 16).as_deref() {
                Some("1_MONTH") => days = Some(30),
                Some("1_YEAR") => days = Some(365),
                Some(_) => f.invalid("retention_period", "invalid_retention_period"),
                None => {}
            }
        }
        match days {
            None if f.errors.is_empty() => f.invalid("retention_period_in_days", "required"),
            None => {}
            Some(d) if !RETENTION_PERIODS.contains(&d) => f.invalid("retention_period_in_days", "invalid_retention_period"),
            _ => {}
        }
        f.finish()?;
        let days = days.unwrap_or(DEFAULT_RETENTION_DAYS);
        let org = self.get_organization(env, organization_id).await?;
        self.store.set_audit_log_retention(env, &org.id, days, Timestamp::now()).await?;
        Ok(days)
    }

    /// `GET /organizations/{id}/audit_log_configuration`.
    pub async fn get_audit_log_configuration(&self, env: &str, organization_id: &str) -> Result<AuditLogConfiguration> {
        let days = self.get_audit_logs_retention(env, organization_id).await?;
        Ok(AuditLogConfiguration {
            organization_id: organization_id.to_owned(),
            retention_period_in_days: days.unwrap_or(DEFAULT_RETENTION_DAYS),
            state: "active",
        })
    }

    /// Housekeeping: deletes events past retention and old exports.
    pub async fn purge_audit_logs(&self, now: Timestamp) -> Result<u64> {
        Ok(self.store.purge_audit_logs(now).await?)
    }

    /// The events of an export, through the same paging and filters as the CSV writer;
    /// for tests and tools that check an export's contents.
    pub async fn audit_log_export_events(&self, export: &AuditLogExport) -> Result<Vec<AuditLogEvent>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.audit_log_events_page(export, after, EXPORT_PAGE_ROWS).await?;
            let done = page.len() < EXPORT_PAGE_ROWS as usize;
            after = page.last().map(|e| (e.occurred_at, e.id.clone()));
            out.extend(page.into_iter().filter(|r| r.matches_targets(&export.filter)).map(AuditLogRow::into_event));
            if done {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({
            "organization_id": "org_1",
            "event": {
                "action": "user.signed_in",
                "occurred_at": "2024-01-01T00:00:00.000Z",
                "actor": {"id": "user_1", "type": "user", "name": "Ada"},
                "targets": [{"id": "team_1", "type": "team", "metadata": {"seats": 3}}],
                "context": {"location": "1.2.3.4"},
            }
        })
    }

    fn fields(e: CoreError) -> Vec<(String, String)> {
        match e {
            CoreError::Validation(errs) => errs.into_iter().map(|e| (e.field, e.code)).collect(),
            e => panic!("expected validation error, got {e:?}"),
        }
    }

    #[test]
    fn events_parse_and_missing_fields_are_named() {
        let (org, e) = read_event(&body(), Timestamp::now()).unwrap();
        assert_eq!((org.as_str(), e.action.as_str(), e.targets.len()), ("org_1", "user.signed_in", 1));
        let errs = fields(read_event(&json!({"event": {"actor": {"id": "x"}, "context": {}}}), Timestamp::now()).unwrap_err());
        let want = [
            ("organization_id", "required"),
            ("event.action", "required"),
            ("event.occurred_at", "required"),
            ("event.actor.type", "required"),
            ("event.targets", "required"),
            ("event.context.location", "required"),
        ];
        assert_eq!(errs, want.map(|(f, c)| (f.to_string(), c.to_string())));
    }

    #[test]
    fn metadata_limits_and_future_dates() {
        let mut b = body();
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        b["event"]["metadata"] = Value::Object(many);
        b["event"]["actor"]["metadata"] = json!({"x".repeat(41): "v", "ok": "v".repeat(501), "nested": {}});
        b["event"]["occurred_at"] = json!(Timestamp::now().plus_millis(FUTURE_SKEW_MS + 60_000).to_iso());
        let errs = fields(read_event(&b, Timestamp::now()).unwrap_err());
        let codes: Vec<&str> = errs.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(codes, ["in_future", "invalid_key", "too_long", "invalid_type", "too_many_keys"], "{errs:?}");
    }

    #[test]
    fn schemas_check_actor_targets_and_metadata() {
        let schema = AuditLogSchema {
            object: "audit_log_schema",
            version: 1,
            actor: Some(json!({"metadata": {"type": "object", "properties": {"role": {"type": "string"}}}})),
            targets: vec![json!({"type": "team", "metadata": {"type": "object", "properties": {"seats": {"type": "integer"}}, "required": ["seats"]}})],
            metadata: Some(json!({"type": "object", "required": ["reason"]})),
            created_at: Timestamp(0),
            id: vestibule_ids::generate(Kind::AuditLogSchema),
            action: "user.signed_in".into(),
        };
        let (_, mut e) = read_event(&body(), Timestamp::now()).unwrap();
        let Err(CoreError::InvalidAuditLogEvent(errs)) = check_against(&schema, &e) else { panic!("metadata.reason is required") };
        assert_eq!(errs[0].instance_path, "/metadata");
        e.metadata.insert("reason".into(), json!("login"));
        check_against(&schema, &e).unwrap();
        e.targets[0].metadata.insert("seats".into(), json!("three"));
        e.targets.push(AuditLogEntity { id: "x".into(), kind: "invoice".into(), name: None, metadata: Map::new() });
        let Err(CoreError::InvalidAuditLogEvent(errs)) = check_against(&schema, &e) else { panic!("bad targets") };
        let paths: Vec<&str> = errs.iter().map(|e| e.instance_path.as_str()).collect();
        assert!(paths.contains(&"/targets/0/metadata/seats") && paths.contains(&"/targets/1/type"), "{paths:?}");
    }

    #[test]
    fn csv_records_follow_the_columns() {
        let (_, e) = read_event(&body(), Timestamp::now()).unwrap();
        let row = AuditLogRow::from(&e);
        assert_eq!(row.clone().into_event(), e, "stored text parses back to the same event");
        let bytes = write_csv(true, &[row]).unwrap();
        let mut csv = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), CSV_COLUMNS);
        let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(&r[0], e.id);
        assert_eq!(r.iter().skip(1).take(6).collect::<Vec<_>>(), ["2024-01-01T00:00:00.000Z", "user.signed_in", "", "user_1", "user", "Ada"]);
        assert_eq!(serde_json::from_str::<Vec<AuditLogEntity>>(&r[7]).unwrap(), e.targets);
        assert_eq!(serde_json::from_str::<Map<String, Value>>(&r[10]).unwrap(), e.metadata);
    }
}
