//! What audit logs need from the store.

use super::*;
use crate::kernel::error::Result;
use crate::kernel::error::StoreError;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use async_trait::async_trait;

/// Storage for audit logs.
#[async_trait]
pub trait AuditLogStore {
    /// Inserts events, each with its environment, in one transaction: all or none.
    async fn insert_audit_log_events(&self, events: &[(&str, &AuditLogEvent)]) -> Result<(), StoreError>;
    /// Stores `schema` as the next version of its action (creating the action, with id
    /// `action_id`, when missing) and returns that version; [`StoreError::Contended`] when another
    /// writer took the same version first.
    async fn insert_audit_log_schema(
        &self, env: &str, action_id: &str, schema: &AuditLogSchema,
    ) -> Result<i64, StoreError>;
    /// One schema of `action`: `version`, or the latest when `None`.
    async fn get_audit_log_schema(
        &self, env: &str, action: &str, version: Option<i64>,
    ) -> Result<Option<AuditLogSchema>, StoreError>;
    /// A page of the schema versions of `action`.
    async fn list_audit_log_schemas(
        &self, env: &str, action: &str, page: &PageRequest,
    ) -> Result<Page<AuditLogSchema>, StoreError>;
    /// A page of actions, each with its latest schema.
    async fn list_audit_log_actions(&self, env: &str, page: &PageRequest) -> Result<Page<AuditLogAction>, StoreError>;
    /// Inserts a pending export.
    async fn insert_audit_log_export(&self, export: &AuditLogExport) -> Result<(), StoreError>;
    /// One export by id, in `env` when given (download links carry no environment).
    async fn get_audit_log_export(&self, env: Option<&str>, id: &str) -> Result<Option<AuditLogExport>, StoreError>;
    /// Takes one pending export whose lease ran out, for `lease_ms`, counting an attempt.
    async fn claim_audit_log_export(&self, now: Timestamp, lease_ms: i64)
    -> Result<Option<AuditLogExport>, StoreError>;
    /// Up to `limit` events of the export's organization, range, actions and actors,
    /// ordered by `(occurred_at, id)` and after `after` in that order. Target types
    /// are left to the caller.
    async fn audit_log_events_page(
        &self, export: &AuditLogExport, after: Option<(Timestamp, String)>, limit: u32,
    ) -> Result<Vec<AuditLogRow>, StoreError>;
    /// Stores chunk `seq` of an export's CSV and renews the lease until `lease_until`;
    /// false when attempt `attempt` no longer holds the export.
    async fn put_audit_log_export_chunk(
        &self, id: &str, attempt: i64, seq: i64, data: &[u8], lease_until: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Marks an export ready with its counts; false when `attempt` lost it.
    async fn complete_audit_log_export(
        &self, id: &str, attempt: i64, rows: i64, chunks: i64, at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Records a failed attempt: retried after `retry_at`, or `error` for good when `None`.
    async fn fail_audit_log_export(
        &self, id: &str, attempt: i64, error: &str, retry_at: Option<Timestamp>, at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Chunk `seq` of a ready export's CSV.
    async fn get_audit_log_export_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// The retention an organization chose, in days.
    async fn get_audit_log_retention(&self, env: &str, organization_id: &str) -> Result<Option<i64>, StoreError>;
    /// Sets an organization's retention.
    async fn set_audit_log_retention(
        &self, env: &str, organization_id: &str, days: i64, at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Deletes events past their organization's retention (default [`DEFAULT_RETENTION_DAYS`])
    /// and exports older than [`EXPORT_KEEP_MS`]; returns the events deleted.
    async fn purge_audit_logs(&self, now: Timestamp) -> Result<u64, StoreError>;
    /// The server-wide secret `name`, created from `candidate` if none exists yet, so
    /// that every instance on the database agrees on it.
    async fn server_secret(&self, name: &str, candidate: &str, at: Timestamp) -> Result<String, StoreError>;
}
