//! The core store traits implemented for SQLite (embedded default) and PostgreSQL
//! (production, several instances). Both backends run the same SQL text: `$N`
//! placeholders, `ON CONFLICT` upserts and `RETURNING` work in both dialects, so each
//! statement is written once and the few dialect differences are named constants.
#![forbid(unsafe_code)]

pub mod changes;
mod common;
mod migrate;
mod sealed;
mod statistics;

// One file per core area, with the same name.
mod audit_logs;
mod authorization;
mod directory_sync;
mod environments;
mod events;
mod kernel;
mod organizations;
mod sso;
mod user_management;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use vestibule_core::Store;
use vestibule_core::kernel::sealing::Sealer;

pub use migrate::MIGRATIONS;

/// The store on SQLite: one writer connection (SQLite allows one writer at a time, and
/// a single in-process writer avoids lock contention) and a few readers (WAL mode).
pub struct SqliteStore {
    pub(crate) write: SqlitePool,
    pub(crate) read: SqlitePool,
    pub(crate) sealer: Arc<Sealer>,
}

/// The store on PostgreSQL: one pool; any number of server instances may share it.
pub struct PgStore {
    pub(crate) write: PgPool,
    pub(crate) read: PgPool,
    pub(crate) sealer: Arc<Sealer>,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL (expected sqlite://PATH, sqlite::memory: or postgres://…)")]
    UnsupportedUrl,
    /// A `sqlite:` URL carries a parameter other than `synchronous=normal|full`.
    #[error("unsupported SQLite URL parameter {0:?} (the one accepted is synchronous=normal or synchronous=full)")]
    UnsupportedParameter(String),
    /// Connecting or migrating failed.
    #[error("{0}")]
    Database(#[from] sqlx::Error),
}

/// The path and the parameters of a `sqlite:` URL (`sqlite://PATH?synchronous=full`), or
/// `None` for any other URL. An empty path or `:memory:` names an in-memory database.
pub fn sqlite_parts(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    Some(rest.split_once('?').unwrap_or((rest, "")))
}

/// Opens the database named by `url`, applies pending migrations, and returns the store.
/// Secrets are stored as given: for tools and tests; the server uses [`open_sealed`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>, OpenError> {
    open_sealed(url, Arc::new(Sealer::passthrough())).await
}

/// Like [`open`], with the secrets the server reads back (webhook signing secrets, OIDC
/// client secrets, SAML decryption keys, token signing keys) sealed by `sealer`.
pub async fn open_sealed(url: &str, sealer: Arc<Sealer>) -> Result<Arc<dyn Store>, OpenError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let opts = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        migrate::postgres(&pool).await?;
        // Fresh statistics so the planner uses the indexes, even where autovacuum is off or
        // has not run yet. In the background: on a large database it takes longer than
        // starting should.
        let analyze = pool.clone();
        tokio::spawn(async move {
            let sql = "ANALYZE organizations, organization_domains, users, organization_memberships, events, api_keys, \
                       webhook_deliveries, audit_log_events, directories, directory_users, directory_user_emails, \
                       directory_groups, directory_group_members";
            if let Err(e) = sqlx::raw_sql(sql).execute(&analyze).await {
                tracing::warn!(error = %e, "ANALYZE after start failed");
            }
        });
        return Ok(Arc::new(PgStore { write: pool.clone(), read: pool, sealer }));
    }
    let Some((path, params)) = sqlite_parts(url) else { return Err(OpenError::UnsupportedUrl) };
    // With WAL, NORMAL loses nothing when the process dies, only a power cut can lose the
    // last commits; FULL syncs the WAL at every commit and loses nothing then either.
    let mut synchronous = SqliteSynchronous::Normal;
    for param in params.split('&').filter(|p| !p.is_empty()) {
        synchronous = match param {
            "synchronous=normal" => SqliteSynchronous::Normal,
            "synchronous=full" => SqliteSynchronous::Full,
            other => return Err(OpenError::UnsupportedParameter(other.to_owned())),
        };
    }
    let base = SqliteConnectOptions::new()
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory");
    if path.is_empty() || path == ":memory:" {
        // One shared connection, kept for the life of the process: the database lives in it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.in_memory(true))
            .await?;
        migrate::sqlite(&pool).await?;
        return Ok(Arc::new(SqliteStore { write: pool.clone(), read: pool, sealer }));
    }
    let file =
        base.filename(path).create_if_missing(true).journal_mode(SqliteJournalMode::Wal).synchronous(synchronous);
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(file.clone())
        .await?;
    migrate::sqlite(&write).await?;
    // Let SQLite gather the statistics its planner needs (cheap when they are current).
    sqlx::raw_sql("PRAGMA optimize=0x10002").execute(&write).await?;
    let read = SqlitePoolOptions::new()
        .max_connections(4)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(file.read_only(true))
        .await?;
    Ok(Arc::new(SqliteStore { write, read, sealer }))
}
