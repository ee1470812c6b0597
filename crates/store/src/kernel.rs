//! SQL for the kernel's shared state: idempotency keys and rate-limit buckets.

use crate::common::map_err;
use vestibule_core::StoreError;

macro_rules! kernel {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::Row;
            use vestibule_core::kernel::idempotency::{Claim, IdempotencyStore};
            use vestibule_core::kernel::rate_limit::RateLimitStore;
            use vestibule_core::Timestamp;


            #[async_trait]
            impl IdempotencyStore for $store {
                async fn claim_idempotency_key(
                    &self,
                    env: &str,
                    key: &str,
                    fingerprint: &str,
                    now: Timestamp,
                    expired_before: Timestamp,
                ) -> Result<Claim, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let abandoned_before = now.plus_millis(-vestibule_core::kernel::idempotency::IN_FLIGHT_LEASE_MILLIS);
                    sqlx::query(
                        "DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 \
                         AND (created_at < $3 OR (status IS NULL AND created_at < $4))",
                    )
                    .bind(env).bind(key).bind(expired_before.millis()).bind(abandoned_before.millis())
                    .execute(&mut *tx).await.map_err(map_err)?;
                    let inserted = sqlx::query(
                        "INSERT INTO idempotency_keys (environment_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (environment_id, key) DO NOTHING",
                    )
                    .bind(env).bind(key).bind(fingerprint).bind(now.millis()).execute(&mut *tx).await
                    .map_err(map_err)?;
                    let claim = if inserted.rows_affected() == 1 {
                        Claim::Fresh
                    } else {
                        let row = sqlx::query("SELECT fingerprint, status, body FROM idempotency_keys WHERE environment_id = $1 AND key = $2")
                            .bind(env).bind(key).fetch_one(&mut *tx).await.map_err(map_err)?;
                        let stored: String = row.try_get("fingerprint").map_err(map_err)?;
                        let status: Option<i32> = row.try_get("status").map_err(map_err)?;
                        let body: Option<Vec<u8>> = row.try_get("body").map_err(map_err)?;
                        if stored != fingerprint {
                            Claim::Mismatch
                        } else {
                            match status {
                                Some(s) => Claim::Replay { status: s as u16, body: body.unwrap_or_default() },
                                None => Claim::InFlight,
                            }
                        }
                    };
                    tx.commit().await.map_err(map_err)?;
                    Ok(claim)
                }

                async fn complete_idempotency_key(&self, env: &str, key: &str, status: u16, body: &[u8]) -> Result<(), StoreError> {
                    sqlx::query("UPDATE idempotency_keys SET status = $3, body = $4 WHERE environment_id = $1 AND key = $2")
                        .bind(env).bind(key).bind(i32::from(status)).bind(body.to_vec()).execute(&self.write).await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn release_idempotency_key(&self, env: &str, key: &str) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND status IS NULL")
                        .bind(env).bind(key).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                        .bind(before.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected())
                }
            }

            #[async_trait]
            impl RateLimitStore for $store {
                async fn hit_rate_limit(&self, bucket: &str, window_start: i64) -> Result<u64, StoreError> {
                    let count: i64 = sqlx::query_scalar(
                        "INSERT INTO rate_limits (bucket, window_start, count) VALUES ($1, $2, 1) \
                         ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1 RETURNING count",
                    )
                    .bind(bucket).bind(window_start).fetch_one(&self.write).await.map_err(map_err)?;
                    Ok(count.max(0) as u64)
                }

                async fn purge_rate_limits(&self, before: i64) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                        .bind(before).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

kernel!(sqlite_kernel, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
kernel!(postgres_kernel, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
