//! SQL for the events table that `GET /events` and webhooks read; events are written by
//! [`crate::common`] in each write's own transaction.

use crate::common::{map_err, placeholders};
use vestibule_core::StoreError;

pub(crate) mod webhooks;

macro_rules! events {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::events::{Event, EventFilter, EventStore};
            use vestibule_core::Timestamp;


            fn event(r: &$row) -> Result<Event, sqlx::Error> {
                let data: String = r.try_get("data")?;
                let context: String = r.try_get("context")?;
                Ok(Event {
                    object: "event",
                    id: r.try_get("id")?,
                    event: r.try_get("event")?,
                    data: crate::common::json("data", &data)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    context: crate::common::json("context", &context)?,
                    organization_id: r.try_get("organization_id")?,
                    environment_id: r.try_get("environment_id")?,
                })
            }

            #[async_trait]
            impl EventStore for $store {
                async fn list_events(&self, env: &str, f: &EventFilter) -> Result<Vec<Event>, StoreError> {
                    let mut sql = String::from(
                        "SELECT environment_id, id, event, data, context, organization_id, created_at FROM events WHERE environment_id = $1",
                    );
                    let mut texts: Vec<String> = vec![env.to_owned()];
                    let mut n = 1;
                    if let Some(after) = &f.after {
                        texts.push(after.clone());
                        n += 1;
                        sql.push_str(&format!(" AND id > ${n}"));
                    }
                    if let Some(org) = &f.organization_id {
                        texts.push(org.clone());
                        n += 1;
                        sql.push_str(&format!(" AND organization_id = ${n}"));
                    }
                    if !f.events.is_empty() {
                        sql.push_str(&format!(" AND event IN {}", placeholders(n + 1, f.events.len())));
                        texts.extend(f.events.iter().cloned());
                        n += f.events.len();
                    }
                    let mut ints: Vec<i64> = Vec::new();
                    if let Some(start) = f.range_start {
                        ints.push(start.millis());
                        sql.push_str(&format!(" AND created_at >= ${}", n + ints.len()));
                    }
                    if let Some(end) = f.range_end {
                        ints.push(end.millis());
                        sql.push_str(&format!(" AND created_at <= ${}", n + ints.len()));
                    }
                    sql.push_str(&format!(" ORDER BY id ASC LIMIT {}", f.limit.clamp(1, 100)));
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for t in texts {
                        q = q.bind(t);
                    }
                    for i in ints {
                        q = q.bind(i);
                    }
                    let rows = q.fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| event(r).map_err(map_err)).collect()
                }

                async fn get_event(&self, env: &str, id: &str) -> Result<Option<Event>, StoreError> {
                    let row = sqlx::query(
                        "SELECT environment_id, id, event, data, context, organization_id, created_at FROM events WHERE environment_id = $1 AND id = $2",
                    )
                    .bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(event).transpose().map_err(map_err)
                }
            }
        }
    };
}

events!(sqlite_events, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
events!(postgres_events, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
