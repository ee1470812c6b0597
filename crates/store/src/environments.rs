//! SQL for environments and their API keys.

use crate::common::map_err;
use vestibule_core::StoreError;

macro_rules! environments {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::Row;
            use vestibule_core::environments::{ApiKey, Environment, EnvironmentKind, EnvironmentStore};
            use vestibule_core::Timestamp;


            fn environment(r: &$row) -> Result<Environment, sqlx::Error> {
                Ok(Environment {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: EnvironmentKind::parse(r.try_get::<&str, _>("kind")?).unwrap_or(EnvironmentKind::Test),
                    client_id: r.try_get("client_id")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            }

            fn api_key(r: &$row) -> Result<ApiKey, sqlx::Error> {
                Ok(ApiKey {
                    id: r.try_get("id")?,
                    environment_id: r.try_get("environment_id")?,
                    name: r.try_get("name")?,
                    key_digest: r.try_get("key_digest")?,
                    obfuscated: r.try_get("obfuscated")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
                })
            }

            #[async_trait]
            impl EnvironmentStore for $store {
                async fn insert_environment(&self, env: &Environment) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO environments (id, name, kind, client_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&env.id).bind(&env.name).bind(env.kind.as_str()).bind(&env.client_id)
                        .bind(env.created_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn list_environments(&self) -> Result<Vec<Environment>, StoreError> {
                    let rows = sqlx::query("SELECT id, name, kind, client_id, created_at FROM environments ORDER BY id")
                        .fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| environment(r).map_err(map_err)).collect()
                }

                async fn get_environment(&self, id: &str) -> Result<Option<Environment>, StoreError> {
                    let row = sqlx::query("SELECT id, name, kind, client_id, created_at FROM environments WHERE id = $1")
                        .bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(environment).transpose().map_err(map_err)
                }

                async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO api_keys (id, environment_id, name, key_digest, obfuscated, created_at, revoked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&key.id).bind(&key.environment_id).bind(&key.name).bind(&key.key_digest)
                    .bind(&key.obfuscated).bind(key.created_at.millis()).bind(key.revoked_at.map(Timestamp::millis))
                    .execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn find_api_key(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, environment_id, name, key_digest, obfuscated, created_at, revoked_at \
                         FROM api_keys WHERE key_digest = $1",
                    )
                    .bind(digest).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(api_key).transpose().map_err(map_err)
                }

                async fn list_api_keys(&self, environment_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, environment_id, name, key_digest, obfuscated, created_at, revoked_at \
                         FROM api_keys WHERE ($1 IS NULL OR environment_id = $1) ORDER BY id",
                    )
                    .bind(environment_id).fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| api_key(r).map_err(map_err)).collect()
                }

                async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                        .bind(id).bind(at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }
            }
        }
    };
}

environments!(sqlite_environments, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
environments!(postgres_environments, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
