//! Schema migrations, embedded in the binary and applied at start. SQLite and
//! PostgreSQL keep one file each per version, with the same numbering.

use sqlx::{PgPool, SqlitePool};

/// `(version, name, sqlite DDL, postgres DDL)` in order.
pub const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "foundation",
        include_str!("../migrations/sqlite/0001_foundation.sql"),
        include_str!("../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        "people",
        include_str!("../migrations/sqlite/0002_people.sql"),
        include_str!("../migrations/postgres/0002_people.sql"),
    ),
    (
        3,
        "webhooks",
        include_str!("../migrations/sqlite/0003_webhooks.sql"),
        include_str!("../migrations/postgres/0003_webhooks.sql"),
    ),
    (
        4,
        "audit_logs",
        include_str!("../migrations/sqlite/0004_audit_logs.sql"),
        include_str!("../migrations/postgres/0004_audit_logs.sql"),
    ),
    (
        5,
        "webhook_heads",
        include_str!("../migrations/sqlite/0005_webhook_heads.sql"),
        include_str!("../migrations/postgres/0005_webhook_heads.sql"),
    ),
    (
        6,
        "directories",
        include_str!("../migrations/sqlite/0006_directories.sql"),
        include_str!("../migrations/postgres/0006_directories.sql"),
    ),
    (7, "sso", include_str!("../migrations/sqlite/0007_sso.sql"), include_str!("../migrations/postgres/0007_sso.sql")),
    (
        8,
        "signing_keys",
        include_str!("../migrations/sqlite/0008_signing_keys.sql"),
        include_str!("../migrations/postgres/0008_signing_keys.sql"),
    ),
];

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS vestibule_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Applies pending migrations to SQLite inside one immediate transaction each.
pub async fn sqlite(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(CREATE_LEDGER).execute(pool).await?;
    for (version, name, ddl, _) in MIGRATIONS {
        let mut tx = pool.begin().await?;
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM vestibule_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            sqlx::raw_sql(*ddl).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO vestibule_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(version)
                .bind(name)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Applies pending migrations to PostgreSQL under an advisory lock, so instances that
/// start together migrate once.
pub async fn postgres(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Transaction-scoped lock: released on commit or rollback.
    sqlx::query("SELECT pg_advisory_xact_lock(726573746962)").execute(&mut *tx).await?;
    sqlx::raw_sql(CREATE_LEDGER).execute(&mut *tx).await?;
    for (version, name, _, ddl) in MIGRATIONS {
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM vestibule_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            sqlx::raw_sql(*ddl).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO vestibule_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(version)
                .bind(name)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}
