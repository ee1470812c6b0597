//! Audit logs: actions with immutable, versioned JSON Schemas; events checked against
//! them; CSV exports written in the background and downloaded through signed, expiring
//! links; and a retention period per organization.

mod events;
mod exports;
mod model;
mod retention;
mod schemas;
mod store;

pub use exports::ExportDownload;
pub use model::*;
pub use schemas::action_name_ok;
pub use store::AuditLogStore;

use crate::kernel::error::CoreError;

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
pub const CSV_COLUMNS: [&str; 11] = [
    "id",
    "occurred_at",
    "action",
    "version",
    "actor_id",
    "actor_type",
    "actor_name",
    "targets",
    "location",
    "user_agent",
    "metadata",
];
/// Name of the server secret that download-link keys derive from.
const EXPORT_SECRET_NAME: &str = "audit_log_export_links";

fn organization_missing(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Organization", id: id.to_owned() }
}

fn export_not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Audit Log Export", id: id.to_owned() }
}

fn action_not_found(name: &str) -> CoreError {
    CoreError::NotFound { entity: "Audit Log Action", id: name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::events::read_event;
    use super::exports::write_csv;
    use super::schemas::check_against;
    use super::*;

    use crate::kernel::time::Timestamp;
    use serde_json::{Map, Value, json};
    use vestibule_ids::Kind;

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
            CoreError::Invalid(errs) => errs.into_iter().map(|e| (e.field, e.code)).collect(),
            e => panic!("expected validation error, got {e:?}"),
        }
    }

    #[test]
    fn events_parse_and_missing_fields_are_named() {
        let (org, e) = read_event(&body(), Timestamp::now()).unwrap();
        assert_eq!((org.as_str(), e.action.as_str(), e.targets.len()), ("org_1", "user.signed_in", 1));
        let errs =
            fields(read_event(&json!({"event": {"actor": {"id": "x"}, "context": {}}}), Timestamp::now()).unwrap_err());
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
            targets: vec![
                json!({"type": "team", "metadata": {"type": "object", "properties": {"seats": {"type": "integer"}}, "required": ["seats"]}}),
            ],
            metadata: Some(json!({"type": "object", "required": ["reason"]})),
            created_at: Timestamp(0),
            id: vestibule_ids::generate(Kind::AuditLogSchema),
            action: "user.signed_in".into(),
        };
        let (_, mut e) = read_event(&body(), Timestamp::now()).unwrap();
        let Err(CoreError::InvalidAuditLogEvent(errs)) = check_against(&schema, &e) else {
            panic!("metadata.reason is required")
        };
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
        assert_eq!(
            r.iter().skip(1).take(6).collect::<Vec<_>>(),
            ["2024-01-01T00:00:00.000Z", "user.signed_in", "", "user_1", "user", "Ada"]
        );
        assert_eq!(serde_json::from_str::<Vec<AuditLogEntity>>(&r[7]).unwrap(), e.targets);
        assert_eq!(serde_json::from_str::<Map<String, Value>>(&r[10]).unwrap(), e.metadata);
    }
}
