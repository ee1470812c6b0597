//! Schema migrations, embedded in the binary and applied at start: one file per version,
//! in `migrations/`, run by both engines (SQLite with its type names, [`sqlite_ddl`]).
//! `tests/it/schema.rs` checks that both build the same schema.

use sqlx::{PgPool, SqlitePool};

/// `(version, name, DDL)` in order. Each file is written once, in PostgreSQL's types;
/// SQLite runs the same text with [`SQLITE_TYPES`] substituted.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/0001_foundation.sql")),
    (2, "people", include_str!("../migrations/0002_people.sql")),
    (3, "webhooks", include_str!("../migrations/0003_webhooks.sql")),
    (4, "audit_logs", include_str!("../migrations/0004_audit_logs.sql")),
    (5, "webhook_heads", include_str!("../migrations/0005_webhook_heads.sql")),
    (6, "directories", include_str!("../migrations/0006_directories.sql")),
    (7, "sso", include_str!("../migrations/0007_sso.sql")),
    (8, "signing_keys", include_str!("../migrations/0008_signing_keys.sql")),
    (9, "authkit", include_str!("../migrations/0009_authkit.sql")),
    (10, "retired_signing_keys", include_str!("../migrations/0010_retired_signing_keys.sql")),
    (11, "device_authorizations", include_str!("../migrations/0011_device_authorizations.sql")),
];

/// The only differences between the dialects' DDL: SQLite stores integers and booleans as
/// `INTEGER` and bytes as `BLOB`. Replaced as whole words.
const SQLITE_TYPES: &[(&str, &str)] = &[("BIGINT", "INTEGER"), ("BOOLEAN", "INTEGER"), ("BYTEA", "BLOB")];

/// `ddl` as SQLite runs it: every whole-word type name of [`SQLITE_TYPES`] replaced.
pub fn sqlite_ddl(ddl: &str) -> String {
    let mut out = String::with_capacity(ddl.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let replaced = SQLITE_TYPES.iter().find(|(pg, _)| *pg == word.as_str()).map_or(word.as_str(), |(_, lite)| lite);
        out.push_str(replaced);
        word.clear();
    };
    for c in ddl.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS vestibule_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Applies pending migrations to SQLite inside one immediate transaction each.
pub async fn sqlite(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(CREATE_LEDGER).execute(pool).await?;
    for (version, name, ddl) in MIGRATIONS {
        let mut tx = pool.begin().await?;
        let done: Option<i64> = sqlx::query_scalar("SELECT version FROM vestibule_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sqlite_ddl(ddl))).execute(&mut *tx).await?;
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
    for (version, name, ddl) in MIGRATIONS {
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

#[cfg(test)]
mod tests {
    use super::sqlite_ddl;

    #[test]
    fn sqlite_types_replace_whole_words_only() {
        assert_eq!(
            sqlite_ddl("a BIGINT NOT NULL,\n b BOOLEAN, c BYTEA, d BIGINTS, BIGINT_x TEXT, \"BOOLEAN\""),
            "a INTEGER NOT NULL,\n b INTEGER, c BLOB, d BIGINTS, BIGINT_x TEXT, \"INTEGER\""
        );
        assert_eq!(sqlite_ddl("BIGINT"), "INTEGER");
    }
}
