//! SQL for webhook endpoints and the delivery queue, instantiated for both backends.

use crate::common::map_err;
use vestibule_core::StoreError;

const ENDPOINT_COLUMNS: &str = "id, endpoint_url, secret, status, events, disabled_reason, created_at, updated_at";

macro_rules! webhooks {
    ($module:ident, $store:ident, $db:ty, $row:ty, $skip_locked:literal) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::events::webhooks::{
                AttemptOutcome, ClaimedDelivery, DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookStore,
            };
            use vestibule_core::Timestamp;
            use vestibule_core::kernel::sealing::Sealer;

            fn endpoint(sealer: &Sealer, r: &$row) -> Result<WebhookEndpoint, StoreError> {
                let events: String = r.try_get("events").map_err(map_err)?;
                let id: String = r.try_get("id").map_err(map_err)?;
                let secret: String = r.try_get("secret").map_err(map_err)?;
                Ok(WebhookEndpoint {
                    object: "webhook_endpoint",
                    secret: crate::sealed::open(sealer, &crate::sealed::webhook_secret(&id), &secret)?,
                    id,
                    endpoint_url: r.try_get("endpoint_url").map_err(map_err)?,
                    status: r.try_get("status").map_err(map_err)?,
                    events: crate::common::json("events", &events).map_err(map_err)?,
                    disabled_reason: r.try_get("disabled_reason").map_err(map_err)?,
                    created_at: Timestamp(r.try_get("created_at").map_err(map_err)?),
                    updated_at: Timestamp(r.try_get("updated_at").map_err(map_err)?),
                })
            }

            #[async_trait]
            impl WebhookStore for $store {
                async fn reseal_webhook_secrets(&self) -> Result<u64, StoreError> {
                    if !self.sealer.is_keyed() {
                        return Ok(0);
                    }
                    let rows = sqlx::query("SELECT environment_id, id, secret FROM webhook_endpoints WHERE secret NOT LIKE 'sealed:v1:%'")
                        .fetch_all(&self.write).await.map_err(map_err)?;
                    let mut sealed = 0;
                    for r in &rows {
                        let (env, id, secret): (String, String, String) =
                            (r.try_get("environment_id").map_err(map_err)?, r.try_get("id").map_err(map_err)?, r.try_get("secret").map_err(map_err)?);
                        // Only if unchanged since it was read: never overwrite a newer value.
                        sealed += sqlx::query("UPDATE webhook_endpoints SET secret = $3 WHERE environment_id = $1 AND id = $2 AND secret = $4")
                            .bind(&env).bind(&id).bind(self.sealer.seal(&crate::sealed::webhook_secret(&id), &secret))
                            .bind(&secret).execute(&self.write).await.map_err(map_err)?
                            .rows_affected();
                    }
                    Ok(sealed)
                }

                async fn insert_webhook_endpoint(&self, env: &str, ep: &WebhookEndpoint) -> Result<(), StoreError> {
                    let sql = format!("INSERT INTO webhook_endpoints (environment_id, {ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(&ep.id).bind(&ep.endpoint_url)
                        .bind(self.sealer.seal(&crate::sealed::webhook_secret(&ep.id), &ep.secret)).bind(&ep.status)
                        .bind(serde_json::to_string(&ep.events).unwrap_or_default()).bind(&ep.disabled_reason)
                        .bind(ep.created_at.millis()).bind(ep.updated_at.millis()).execute(&self.write).await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn get_webhook_endpoint(&self, env: &str, id: &str) -> Result<Option<WebhookEndpoint>, StoreError> {
                    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(|r| endpoint(&self.sealer, r)).transpose()
                }

                async fn list_webhook_endpoints(&self, env: &str, page: &PageRequest) -> Result<Page<WebhookEndpoint>, StoreError> {
                    let q = page.keyset();
                    let mut sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE environment_id = $1");
                    if let Some((op, _)) = &q.bound {
                        sql.push_str(&format!(" AND id {op} $2"));
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY id {dir} LIMIT {}", q.fetch));
                    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(env);
                    if let Some((_, id)) = &q.bound {
                        query = query.bind(id.clone());
                    }
                    let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
                    let items = rows.iter().map(|r| endpoint(&self.sealer, r)).collect::<Result<Vec<_>, _>>()?;
                    Ok(page.page(&q, items))
                }

                async fn update_webhook_endpoint(&self, env: &str, ep: &WebhookEndpoint) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE webhook_endpoints SET endpoint_url = $3, status = $4, events = $5, disabled_reason = $6, updated_at = $7 \
                         WHERE environment_id = $1 AND id = $2",
                    )
                    .bind(env).bind(&ep.id).bind(&ep.endpoint_url).bind(&ep.status)
                    .bind(serde_json::to_string(&ep.events).unwrap_or_default()).bind(&ep.disabled_reason)
                    .bind(ep.updated_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn delete_webhook_endpoint(&self, env: &str, id: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn claim_webhook_deliveries(&self, now: Timestamp, lease_ms: i64, limit: u32) -> Result<Vec<ClaimedDelivery>, StoreError> {
                    // Only the oldest pending delivery of each enabled endpoint is due, so an
                    // endpoint receives its events in order; a leased one blocks its successors
                    // until it is delivered or rescheduled.
                    let sql = format!(
                        // The head of each enabled endpoint is found from the endpoints side, one
                        // index lookup each (webhook_deliveries_pending), so a long backlog costs
                        // nothing per claim.
                        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2 \
                         WHERE (environment_id, endpoint_id, event_id) IN ( \
                           SELECT d.environment_id, d.endpoint_id, d.event_id FROM webhook_deliveries d \
                           WHERE (d.environment_id, d.endpoint_id, d.event_id) IN ( \
                               SELECT w.environment_id, w.id, (SELECT MIN(p.event_id) FROM webhook_deliveries p \
                                 WHERE p.environment_id = w.environment_id AND p.endpoint_id = w.id AND p.state = 'pending') \
                               FROM webhook_endpoints w WHERE w.status = 'enabled') \
                             AND d.state = 'pending' AND d.next_attempt_at <= $1 \
                           LIMIT {limit} {}) \
                         RETURNING environment_id, endpoint_id, event_id, attempts",
                        $skip_locked
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(now.millis()).bind(now.millis() + lease_ms).fetch_all(&self.write).await
                        .map_err(map_err)?;
                    rows.iter()
                        .map(|r| {
                            Ok(ClaimedDelivery {
                                environment_id: r.try_get("environment_id")?,
                                endpoint_id: r.try_get("endpoint_id")?,
                                event_id: r.try_get("event_id")?,
                                attempt: r.try_get("attempts")?,
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(map_err)
                }

                async fn record_webhook_attempt(&self, d: &ClaimedDelivery, a: &DeliveryAttempt, outcome: &AttemptOutcome) -> Result<(), StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    sqlx::query(
                        "INSERT INTO webhook_attempts (environment_id, endpoint_id, event_id, attempt, status_code, latency_ms, error, attempted_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    )
                    .bind(&d.environment_id).bind(&d.endpoint_id).bind(&d.event_id).bind(a.attempt)
                    .bind(a.status_code).bind(a.latency_ms).bind(&a.error).bind(a.attempted_at.millis())
                    .execute(&mut *tx).await.map_err(map_err)?;
                    let (state, next) = match outcome {
                        AttemptOutcome::Delivered => ("delivered", a.attempted_at.millis()),
                        AttemptOutcome::RetryAt(at) => ("pending", at.millis()),
                        AttemptOutcome::GiveUp(_) | AttemptOutcome::Abandon => ("failed", a.attempted_at.millis()),
                    };
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = $4, next_attempt_at = $5 \
                         WHERE environment_id = $1 AND endpoint_id = $2 AND event_id = $3",
                    )
                    .bind(&d.environment_id).bind(&d.endpoint_id).bind(&d.event_id).bind(state).bind(next)
                    .execute(&mut *tx).await.map_err(map_err)?;
                    if let AttemptOutcome::GiveUp(reason) = outcome {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $3, updated_at = $4 \
                             WHERE environment_id = $1 AND id = $2",
                        )
                        .bind(&d.environment_id).bind(&d.endpoint_id).bind(reason).bind(a.attempted_at.millis())
                        .execute(&mut *tx).await.map_err(map_err)?;
                    }
                    tx.commit().await.map_err(map_err)
                }

                async fn list_webhook_deliveries(&self, env: &str, endpoint_id: &str, page: &PageRequest) -> Result<Page<WebhookDelivery>, StoreError> {
                    let q = page.keyset();
                    let mut sql = String::from(
                        "SELECT event_id, event_name, state, next_attempt_at, created_at FROM webhook_deliveries \
                         WHERE environment_id = $1 AND endpoint_id = $2",
                    );
                    if let Some((op, _)) = &q.bound {
                        sql.push_str(&format!(" AND event_id {op} $3"));
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY event_id {dir} LIMIT {}", q.fetch));
                    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(endpoint_id);
                    if let Some((_, id)) = &q.bound {
                        query = query.bind(id.clone());
                    }
                    let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
                    let mut items = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let state: String = r.try_get("state").map_err(map_err)?;
                        items.push(WebhookDelivery {
                            object: "webhook_delivery",
                            id: r.try_get("event_id").map_err(map_err)?,
                            webhook_endpoint_id: endpoint_id.to_owned(),
                            event: r.try_get("event_name").map_err(map_err)?,
                            next_attempt_at: (state == "pending").then(|| r.try_get::<i64, _>("next_attempt_at").map(Timestamp)).transpose().map_err(map_err)?,
                            state,
                            attempts: Vec::new(),
                            created_at: Timestamp(r.try_get("created_at").map_err(map_err)?),
                        });
                    }
                    for d in &mut items {
                        let rows = sqlx::query(
                            "SELECT attempt, status_code, latency_ms, error, attempted_at FROM webhook_attempts \
                             WHERE environment_id = $1 AND endpoint_id = $2 AND event_id = $3 ORDER BY attempt",
                        )
                        .bind(env).bind(endpoint_id).bind(&d.id).fetch_all(&self.read).await.map_err(map_err)?;
                        for r in &rows {
                            d.attempts.push(DeliveryAttempt {
                                attempt: r.try_get("attempt").map_err(map_err)?,
                                status_code: r.try_get("status_code").map_err(map_err)?,
                                latency_ms: r.try_get("latency_ms").map_err(map_err)?,
                                error: r.try_get("error").map_err(map_err)?,
                                attempted_at: Timestamp(r.try_get("attempted_at").map_err(map_err)?),
                            });
                        }
                    }
                    Ok(page.page(&q, items))
                }

                async fn retry_webhook_delivery(&self, env: &str, endpoint_id: &str, event_id: &str, now: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $4 \
                         WHERE environment_id = $1 AND endpoint_id = $2 AND event_id = $3",
                    )
                    .bind(env).bind(endpoint_id).bind(event_id).bind(now.millis()).execute(&self.write).await
                    .map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }
            }
        }
    };
}

webhooks!(sqlite_webhooks, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "");
webhooks!(postgres_webhooks, PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "FOR UPDATE SKIP LOCKED");
