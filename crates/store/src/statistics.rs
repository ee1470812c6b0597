//! Planner statistics where nothing else keeps them: PostgreSQL's autovacuum analyzes
//! tables as they change, but an operator may turn it off (for the server or a table), and
//! then a table that grew from empty keeps the statistics of an empty table and its
//! queries stop using their indexes.

use crate::common::map_err;
use sqlx::{PgPool, SqlitePool};
use vestibule_core::StoreError;

/// Analyzes what the database would leave stale.
pub(crate) trait Statistics {
    /// Analyzes the tables that need it; returns their names.
    async fn refresh(&self) -> Result<Vec<String>, StoreError>;
}

impl Statistics for SqlitePool {
    /// SQLite's planner works without collected statistics; there is nothing to refresh.
    async fn refresh(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

/// This schema's tables outside autovacuum's care and changed past its default threshold
/// (`autovacuum_analyze_threshold` 50 rows plus `autovacuum_analyze_scale_factor` 10%),
/// each as a quoted `schema.table`.
const STALE_TABLES: &str = "SELECT format('%I.%I', s.schemaname, s.relname) \
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
     WHERE s.schemaname = current_schema() \
       AND (current_setting('autovacuum') = 'off' OR 'autovacuum_enabled=false' = ANY(coalesce(c.reloptions, '{}'))) \
       AND s.n_mod_since_analyze > 50 + 0.1 * s.n_live_tup \
     ORDER BY 1";

impl Statistics for PgPool {
    async fn refresh(&self) -> Result<Vec<String>, StoreError> {
        let tables: Vec<String> = sqlx::query_scalar(STALE_TABLES).fetch_all(self).await.map_err(map_err)?;
        for table in &tables {
            // The name comes quoted by format('%I') from the catalog, never from a request.
            let statement = sqlx::AssertSqlSafe(format!("ANALYZE {table}"));
            sqlx::raw_sql(statement).execute(self).await.map_err(map_err)?;
        }
        Ok(tables)
    }
}
