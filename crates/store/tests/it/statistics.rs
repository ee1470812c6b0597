//! Planner statistics on PostgreSQL where autovacuum does not run: a table changed past
//! autovacuum's threshold is analyzed once, and nothing else is.

use vestibule_test_support::{Backend, TestDb, execute_sql, query_text};

#[tokio::test]
async fn tables_autovacuum_skips_are_analyzed_once_they_change() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    // Out of autovacuum's care whatever the server's setting; then 500 rows, with this
    // backend's pending counters flushed before the statement returns.
    execute_sql(&db.url, "ALTER TABLE rate_limits SET (autovacuum_enabled = false)").await;
    execute_sql(
        &db.url,
        "INSERT INTO rate_limits (bucket, window_start, count) SELECT 'b' || g, 0, 1 FROM generate_series(1, 500) g; \
         SELECT pg_stat_force_next_flush();",
    )
    .await;
    let never = "SELECT coalesce(last_analyze::text, 'never') FROM pg_stat_user_tables WHERE relname = 'rate_limits'";
    assert_eq!(query_text(&db.url, never).await, ["never"]);

    let analyzed = store.refresh_statistics().await.unwrap();
    assert!(analyzed.contains(&"public.rate_limits".to_owned()), "{analyzed:?}");
    assert_ne!(query_text(&db.url, never).await, ["never"], "ANALYZE ran");
    let rows = "SELECT reltuples::bigint::text FROM pg_class WHERE relname = 'rate_limits'";
    assert_eq!(query_text(&db.url, rows).await, ["500"], "the planner now knows the table's size");

    let again = store.refresh_statistics().await.unwrap();
    assert!(!again.contains(&"public.rate_limits".to_owned()), "analyzed once, not at every pass: {again:?}");
}

#[tokio::test]
async fn sqlite_has_nothing_to_refresh() {
    let db = TestDb::new(Backend::Sqlite).await;
    assert_eq!(db.store().await.refresh_statistics().await.unwrap(), Vec::<String>::new());
}
