//! SQL for audit logs: actions and schema versions, events, the export queue with its
//! CSV chunks, retention, and server secrets; instantiated for both backends like
//! [`crate::common`].

use crate::common::{map_err, placeholders};
use vestibule_core::StoreError;

const EVENT_COLUMNS: &str = "id, organization_id, action, occurred_at, version, actor_id, actor_type, actor_name, actor_metadata, \
     targets, location, user_agent, metadata, idempotency_key, created_at";
const SCHEMA_COLUMNS: &str = "id, action, version, actor, targets, metadata, created_at";
const EXPORT_COLUMNS: &str = "environment_id, id, organization_id, range_start, range_end, filters, state, attempts, row_count, \
     chunk_count, error, created_at, updated_at";

/// A page of events as one JSON array of arrays (columns in [`EVENT_COLUMNS`] order),
/// aggregated by the database: one result row per page instead of one per event, which on
/// SQLite saves a thread handoff per row. `{cols}` stands for the columns.
const SQLITE_PAGE: &str = "json_group_array(json_array({cols}) ORDER BY occurred_at, id)";
const POSTGRES_PAGE: &str = "COALESCE(json_agg(json_build_array({cols}) ORDER BY occurred_at, id)::text, '[]')";

/// One element of a page: the columns of [`EVENT_COLUMNS`], in order.
#[derive(serde::Deserialize)]
struct PageRow(
    String,
    String,
    String,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
);

impl From<PageRow> for vestibule_core::audit_logs::AuditLogRow {
    fn from(r: PageRow) -> Self {
        Self {
            id: r.0,
            organization_id: r.1,
            action: r.2,
            occurred_at: vestibule_core::Timestamp(r.3),
            version: r.4,
            actor_id: r.5,
            actor_type: r.6,
            actor_name: r.7,
            actor_metadata: r.8,
            targets: r.9,
            location: r.10,
            user_agent: r.11,
            metadata: r.12,
            idempotency_key: r.13,
            created_at: vestibule_core::Timestamp(r.14),
        }
    }
}

/// Events per multi-row INSERT: 16 parameters each stays far below both backends' limits
/// (SQLite 32,766, PostgreSQL 65,535).
const EVENTS_PER_STATEMENT: usize = 256;

/// A bind parameter of a query assembled at run time.
enum Arg {
    Text(String),
    Int(i64),
}

macro_rules! audit_logs {
    ($module:ident, $store:ident, $db:ty, $row:ty, $skip_locked:literal, $backend:literal, $page:expr) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use serde_json::Value;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::audit_logs::{
                AuditLogAction, AuditLogEvent, AuditLogExport, AuditLogRow, AuditLogSchema, AuditLogStore,
                DEFAULT_RETENTION_DAYS, EXPORT_KEEP_MS, RETENTION_PERIODS,
            };
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::Timestamp;

            const DAY_MS: i64 = 24 * 60 * 60 * 1000;

            fn schema(r: &$row) -> Result<AuditLogSchema, sqlx::Error> {
                let actor: Option<String> = r.try_get("actor")?;
                let targets: String = r.try_get("targets")?;
                let metadata: Option<String> = r.try_get("metadata")?;
                Ok(AuditLogSchema {
                    object: "audit_log_schema",
                    version: r.try_get("version")?,
                    actor: actor.and_then(|a| serde_json::from_str(&a).ok()),
                    targets: crate::common::json::<Vec<Value>>("targets", &targets)?,
                    metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
                    created_at: Timestamp(r.try_get("created_at")?),
                    id: r.try_get("id")?,
                    action: r.try_get("action")?,
                })
            }

            fn export(r: &$row) -> Result<AuditLogExport, sqlx::Error> {
                let filters: String = r.try_get("filters")?;
                Ok(AuditLogExport {
                    object: "audit_log_export",
                    id: r.try_get("id")?,
                    state: r.try_get("state")?,
                    url: None,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    environment_id: r.try_get("environment_id")?,
                    organization_id: r.try_get("organization_id")?,
                    range_start: Timestamp(r.try_get("range_start")?),
                    range_end: Timestamp(r.try_get("range_end")?),
                    filter: crate::common::json("filters", &filters)?,
                    attempts: r.try_get("attempts")?,
                    row_count: r.try_get("row_count")?,
                    chunk_count: r.try_get("chunk_count")?,
                    error: r.try_get("error")?,
                })
            }

            fn bind_all<'q>(
                mut q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                args: Vec<Arg>,
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                for a in args {
                    q = match a {
                        Arg::Text(s) => q.bind(s),
                        Arg::Int(i) => q.bind(i),
                    };
                }
                q
            }

            #[async_trait]
            impl AuditLogStore for $store {
                async fn insert_audit_log_events(&self, events: &[(&str, &AuditLogEvent)]) -> Result<(), StoreError> {
                    // One transaction, and one multi-row INSERT per `EVENTS_PER_STATEMENT`
                    // events: a batch costs one commit however many requests it answers.
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
                        let rows: Vec<String> = (0..chunk.len()).map(|i| placeholders(1 + i * 16, 16)).collect();
                        let sql = format!(
                            "INSERT INTO audit_log_events (environment_id, id, organization_id, action, occurred_at, version, \
                             actor_id, actor_type, actor_name, actor_metadata, targets, location, user_agent, metadata, \
                             idempotency_key, created_at) VALUES {}",
                            rows.join(", ")
                        );
                        let mut q = sqlx::query(AssertSqlSafe(sql));
                        for (env, e) in chunk {
                            let r = AuditLogRow::from(*e);
                            q = q
                                .bind(*env).bind(r.id).bind(r.organization_id).bind(r.action)
                                .bind(r.occurred_at.millis()).bind(r.version).bind(r.actor_id).bind(r.actor_type)
                                .bind(r.actor_name).bind(r.actor_metadata).bind(r.targets).bind(r.location)
                                .bind(r.user_agent).bind(r.metadata).bind(r.idempotency_key)
                                .bind(r.created_at.millis());
                        }
                        q.execute(&mut *tx).await.map_err(map_err)?;
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(())
                }

                async fn insert_audit_log_schema(&self, env: &str, action_id: &str, s: &AuditLogSchema) -> Result<i64, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    // The upsert locks the action row, so concurrent versions of one action queue here.
                    sqlx::query(
                        "INSERT INTO audit_log_actions (environment_id, name, id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (environment_id, name) DO UPDATE SET updated_at = excluded.updated_at",
                    )
                    .bind(env).bind(&s.action).bind(action_id).bind(s.created_at.millis()).execute(&mut *tx).await
                    .map_err(map_err)?;
                    let next: i64 = sqlx::query_scalar(
                        "SELECT COALESCE(MAX(version), 0) + 1 FROM audit_log_schemas WHERE environment_id = $1 AND action = $2",
                    )
                    .bind(env).bind(&s.action).fetch_one(&mut *tx).await.map_err(map_err)?;
                    let inserted = sqlx::query(
                        "INSERT INTO audit_log_schemas (environment_id, action, version, id, actor, targets, metadata, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(env).bind(&s.action).bind(next).bind(&s.id).bind(s.actor.as_ref().map(Value::to_string))
                    .bind(Value::Array(s.targets.clone()).to_string()).bind(s.metadata.as_ref().map(Value::to_string))
                    .bind(s.created_at.millis()).execute(&mut *tx).await;
                    match inserted.map_err(map_err) {
                        Ok(_) => {}
                        Err(StoreError::Conflict(_)) => return Err(StoreError::Contended),
                        Err(e) => return Err(e),
                    }
                    if $backend == "postgres" {
                        // Other instances cache schemas: tell them when this one commits.
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(crate::changes::CHANNEL)
                            .bind(crate::changes::payload(crate::changes::AUDIT_LOG_SCHEMA_CREATED, env))
                            .execute(&mut *tx).await.map_err(map_err)?;
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(next)
                }

                async fn get_audit_log_schema(&self, env: &str, action: &str, version: Option<i64>) -> Result<Option<AuditLogSchema>, StoreError> {
                    let sql = format!(
                        "SELECT {SCHEMA_COLUMNS} FROM audit_log_schemas WHERE environment_id = $1 AND action = $2 \
                         AND ($3 IS NULL OR version = $3) ORDER BY version DESC LIMIT 1"
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(action).bind(version).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(schema).transpose().map_err(map_err)
                }

                async fn list_audit_log_schemas(&self, env: &str, action: &str, page: &PageRequest) -> Result<Page<AuditLogSchema>, StoreError> {
                    let q = page.keyset();
                    let mut sql = format!("SELECT {SCHEMA_COLUMNS} FROM audit_log_schemas WHERE environment_id = $1 AND action = $2");
                    let mut args = vec![Arg::Text(env.to_owned()), Arg::Text(action.to_owned())];
                    if let Some((op, id)) = &q.bound {
                        args.push(Arg::Text(id.clone()));
                        sql.push_str(&format!(" AND id {op} $3"));
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY id {dir} LIMIT {}", q.fetch));
                    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), args).fetch_all(&self.read).await.map_err(map_err)?;
                    let items = rows.iter().map(schema).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                    Ok(page.page(&q, items))
                }

                async fn list_audit_log_actions(&self, env: &str, page: &PageRequest) -> Result<Page<AuditLogAction>, StoreError> {
                    let q = page.keyset();
                    let mut sql = String::from(
                        "SELECT a.id AS action_id, a.created_at AS action_created_at, a.updated_at AS action_updated_at, \
                         s.id, s.action, s.version, s.actor, s.targets, s.metadata, s.created_at \
                         FROM audit_log_actions a JOIN audit_log_schemas s ON s.environment_id = a.environment_id AND s.action = a.name \
                         AND s.version = (SELECT MAX(m.version) FROM audit_log_schemas m WHERE m.environment_id = a.environment_id AND m.action = a.name) \
                         WHERE a.environment_id = $1",
                    );
                    let mut args = vec![Arg::Text(env.to_owned())];
                    if let Some((op, id)) = &q.bound {
                        args.push(Arg::Text(id.clone()));
                        sql.push_str(&format!(" AND a.id {op} $2"));
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY a.id {dir} LIMIT {}", q.fetch));
                    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), args).fetch_all(&self.read).await.map_err(map_err)?;
                    let items = rows
                        .iter()
                        .map(|r| {
                            let s = schema(r)?;
                            Ok(AuditLogAction {
                                object: "audit_log_action",
                                name: s.action.clone(),
                                schema: s,
                                created_at: Timestamp(r.try_get("action_created_at")?),
                                updated_at: Timestamp(r.try_get("action_updated_at")?),
                                id: r.try_get("action_id")?,
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(map_err)?;
                    Ok(page.page(&q, items))
                }

                async fn insert_audit_log_export(&self, x: &AuditLogExport) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO audit_log_exports (environment_id, id, organization_id, range_start, range_end, filters, state, \
                         attempts, lease_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(&x.environment_id).bind(&x.id).bind(&x.organization_id).bind(x.range_start.millis())
                    .bind(x.range_end.millis()).bind(serde_json::to_string(&x.filter).unwrap_or_default())
                    .bind(&x.state).bind(x.attempts).bind(x.created_at.millis()).bind(x.created_at.millis())
                    .bind(x.updated_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn get_audit_log_export(&self, env: Option<&str>, id: &str) -> Result<Option<AuditLogExport>, StoreError> {
                    let sql = format!("SELECT {EXPORT_COLUMNS} FROM audit_log_exports WHERE id = $1 AND ($2 IS NULL OR environment_id = $2)");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(id).bind(env).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(export).transpose().map_err(map_err)
                }

                async fn claim_audit_log_export(&self, now: Timestamp, lease_ms: i64) -> Result<Option<AuditLogExport>, StoreError> {
                    let sql = format!(
                        "UPDATE audit_log_exports SET attempts = attempts + 1, lease_until = $2 WHERE id IN \
                         (SELECT id FROM audit_log_exports WHERE state = 'pending' AND lease_until <= $1 \
                          ORDER BY created_at LIMIT 1 {}) \
                         RETURNING {EXPORT_COLUMNS}",
                        $skip_locked
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(now.millis()).bind(now.millis() + lease_ms).fetch_optional(&self.write).await
                        .map_err(map_err)?;
                    row.as_ref().map(export).transpose().map_err(map_err)
                }

                async fn audit_log_events_page(
                    &self,
                    x: &AuditLogExport,
                    after: Option<(Timestamp, String)>,
                    limit: u32,
                ) -> Result<Vec<AuditLogRow>, StoreError> {
                    // After the first page the cursor itself is the lower bound, as a row
                    // value: the index range starts there instead of at `range_start`, so
                    // each page costs the same wherever it falls in the range.
                    let (lower, bound) = match after {
                        None => ("occurred_at >= $4", vec![Arg::Int(x.range_start.millis())]),
                        Some((at, id)) => ("(occurred_at, id) > ($4, $5)", vec![Arg::Int(at.millis()), Arg::Text(id)]),
                    };
                    let mut sql = format!(
                        "SELECT {EVENT_COLUMNS} FROM audit_log_events WHERE environment_id = $1 AND organization_id = $2 \
                         AND occurred_at <= $3 AND {lower}"
                    );
                    let mut args = vec![
                        Arg::Text(x.environment_id.clone()),
                        Arg::Text(x.organization_id.clone()),
                        Arg::Int(x.range_end.millis()),
                    ];
                    args.extend(bound);
                    let f = &x.filter;
                    if !f.actions.is_empty() {
                        sql.push_str(&format!(" AND action IN {}", placeholders(args.len() + 1, f.actions.len())));
                        args.extend(f.actions.iter().cloned().map(Arg::Text));
                    }
                    let mut actor = Vec::new();
                    if !f.actor_names.is_empty() {
                        actor.push(format!("actor_name IN {}", placeholders(args.len() + 1, f.actor_names.len())));
                        args.extend(f.actor_names.iter().cloned().map(Arg::Text));
                    }
                    if !f.actor_ids.is_empty() {
                        actor.push(format!("actor_id IN {}", placeholders(args.len() + 1, f.actor_ids.len())));
                        args.extend(f.actor_ids.iter().cloned().map(Arg::Text));
                    }
                    if !actor.is_empty() {
                        sql.push_str(&format!(" AND ({})", actor.join(" OR ")));
                    }
                    sql.push_str(&format!(" ORDER BY occurred_at ASC, id ASC LIMIT {}", limit.max(1)));
                    let sql = format!("SELECT {} FROM ({sql}) page", $page.replace("{cols}", EVENT_COLUMNS));
                    let page: String = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
                        .fetch_one(&self.read).await.map_err(map_err)?
                        .try_get(0)
                        .map_err(map_err)?;
                    let rows: Vec<PageRow> = serde_json::from_str(&page)
                        .map_err(|e| StoreError::Backend(format!("reading a page of audit-log events: {e}").into()))?;
                    Ok(rows.into_iter().map(AuditLogRow::from).collect())
                }

                async fn put_audit_log_export_chunk(
                    &self,
                    id: &str,
                    attempt: i64,
                    seq: i64,
                    data: &[u8],
                    lease_until: Timestamp,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let held = sqlx::query(
                        "UPDATE audit_log_exports SET lease_until = $3 WHERE id = $1 AND attempts = $2 AND state = 'pending'",
                    )
                    .bind(id).bind(attempt).bind(lease_until.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    if held.rows_affected() != 1 {
                        return Ok(false);
                    }
                    sqlx::query(
                        "INSERT INTO audit_log_export_chunks (export_id, seq, data) VALUES ($1, $2, $3) \
                         ON CONFLICT (export_id, seq) DO UPDATE SET data = excluded.data",
                    )
                    .bind(id).bind(seq).bind(data).execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn complete_audit_log_export(&self, id: &str, attempt: i64, rows: i64, chunks: i64, at: Timestamp) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query(
                        "UPDATE audit_log_exports SET state = 'ready', row_count = $3, chunk_count = $4, error = NULL, updated_at = $5 \
                         WHERE id = $1 AND attempts = $2 AND state = 'pending'",
                    )
                    .bind(id).bind(attempt).bind(rows).bind(chunks).bind(at.millis()).execute(&mut *tx).await
                    .map_err(map_err)?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    // Chunks past the end were left by an earlier, longer attempt.
                    sqlx::query("DELETE FROM audit_log_export_chunks WHERE export_id = $1 AND seq >= $2")
                        .bind(id).bind(chunks).execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn fail_audit_log_export(
                    &self,
                    id: &str,
                    attempt: i64,
                    error: &str,
                    retry_at: Option<Timestamp>,
                    at: Timestamp,
                ) -> Result<(), StoreError> {
                    let error: String = error.chars().take(1000).collect();
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let sql = match retry_at {
                        Some(_) => "UPDATE audit_log_exports SET error = $3, lease_until = $4, updated_at = $5 \
                                    WHERE id = $1 AND attempts = $2 AND state = 'pending'",
                        None => "UPDATE audit_log_exports SET state = 'error', error = $3, lease_until = $4, updated_at = $5 \
                                 WHERE id = $1 AND attempts = $2 AND state = 'pending'",
                    };
                    sqlx::query(sql)
                        .bind(id).bind(attempt).bind(error).bind(retry_at.unwrap_or(at).millis()).bind(at.millis())
                        .execute(&mut *tx).await.map_err(map_err)?;
                    if retry_at.is_none() {
                        sqlx::query("DELETE FROM audit_log_export_chunks WHERE export_id = $1")
                            .bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    tx.commit().await.map_err(map_err)
                }

                async fn get_audit_log_export_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
                    sqlx::query_scalar("SELECT data FROM audit_log_export_chunks WHERE export_id = $1 AND seq = $2")
                        .bind(id).bind(seq).fetch_optional(&self.read).await.map_err(map_err)
                }

                async fn get_audit_log_retention(&self, env: &str, organization_id: &str) -> Result<Option<i64>, StoreError> {
                    sqlx::query_scalar(
                        "SELECT retention_period_in_days FROM audit_log_retention WHERE environment_id = $1 AND organization_id = $2",
                    )
                    .bind(env).bind(organization_id).fetch_optional(&self.read).await.map_err(map_err)
                }

                async fn set_audit_log_retention(&self, env: &str, organization_id: &str, days: i64, at: Timestamp) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO audit_log_retention (environment_id, organization_id, retention_period_in_days, updated_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (environment_id, organization_id) \
                         DO UPDATE SET retention_period_in_days = excluded.retention_period_in_days, updated_at = excluded.updated_at",
                    )
                    .bind(env).bind(organization_id).bind(days).bind(at.millis()).execute(&self.write).await
                    .map_err(map_err)?;
                    Ok(())
                }

                async fn purge_audit_logs(&self, now: Timestamp) -> Result<u64, StoreError> {
                    // Nothing is kept longer than the longest period; shorter ones go per organization.
                    let longest = RETENTION_PERIODS.into_iter().chain([DEFAULT_RETENTION_DAYS]).max().unwrap_or(DEFAULT_RETENTION_DAYS);
                    let mut deleted = sqlx::query("DELETE FROM audit_log_events WHERE occurred_at < $1")
                        .bind(now.millis() - longest * DAY_MS).execute(&self.write).await.map_err(map_err)?
                        .rows_affected();
                    let shorter = sqlx::query(
                        "SELECT environment_id, organization_id, retention_period_in_days FROM audit_log_retention \
                         WHERE retention_period_in_days < $1",
                    )
                    .bind(longest).fetch_all(&self.read).await.map_err(map_err)?;
                    for r in &shorter {
                        let env: String = r.try_get("environment_id").map_err(map_err)?;
                        let org: String = r.try_get("organization_id").map_err(map_err)?;
                        let days: i64 = r.try_get("retention_period_in_days").map_err(map_err)?;
                        deleted += sqlx::query(
                            "DELETE FROM audit_log_events WHERE environment_id = $1 AND organization_id = $2 AND occurred_at < $3",
                        )
                        .bind(env).bind(org).bind(now.millis() - days * DAY_MS).execute(&self.write).await
                        .map_err(map_err)?
                        .rows_affected();
                    }
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let cutoff = now.millis() - EXPORT_KEEP_MS;
                    sqlx::query("DELETE FROM audit_log_export_chunks WHERE export_id IN (SELECT id FROM audit_log_exports WHERE created_at < $1)")
                        .bind(cutoff).execute(&mut *tx).await.map_err(map_err)?;
                    sqlx::query("DELETE FROM audit_log_exports WHERE created_at < $1")
                        .bind(cutoff).execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(deleted)
                }

                async fn server_secret(&self, name: &str, candidate: &str, at: Timestamp) -> Result<String, StoreError> {
                    sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                        .bind(name).bind(candidate).bind(at.millis()).execute(&self.write).await.map_err(map_err)?;
                    sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                        .bind(name).fetch_one(&self.write).await.map_err(map_err)
                }
            }
        }
    };
}

audit_logs!(sqlite_audit_logs, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "", "sqlite", SQLITE_PAGE);
audit_logs!(
    postgres_audit_logs,
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    "FOR UPDATE SKIP LOCKED",
    "postgres",
    POSTGRES_PAGE
);
