//! Schema parity: the SQLite and PostgreSQL migrations are kept by hand, side by side, and
//! must build the same schema. After both have run, every table has the same columns with
//! the same type family and nullability, the same primary key, and the same named indexes
//! (unique or not, on the same columns, partial or not).

use sqlx::Row;
use std::collections::BTreeMap;
use vestibule_test_support::{Backend, TestDb};

/// One column: its type family and whether it may be NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    family: &'static str,
    nullable: bool,
}

/// One index: its table, whether it is unique, its key columns (as written, folded) and
/// whether it is partial.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    table: String,
    unique: bool,
    keys: String,
    partial: bool,
}

/// What one engine built.
#[derive(Debug, Default)]
struct Schema {
    columns: BTreeMap<String, BTreeMap<String, Column>>,
    primary_keys: BTreeMap<String, Vec<String>>,
    indexes: BTreeMap<String, Index>,
}

/// The family a declared type belongs to on either engine. SQLite has no boolean: the
/// migrations declare `INTEGER` where PostgreSQL says `BOOLEAN`, and the store binds both
/// from a Rust `bool`; so booleans count as integers here.
fn family(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "smallint" | "int" | "int8" | "int4" | "boolean" | "bool" => "integer",
        "text" | "character varying" | "varchar" => "text",
        "bytea" | "blob" => "bytes",
        "real" | "double precision" | "float8" => "real",
        other => panic!("a migration declares type {other:?}: give it a family in schema.rs"),
    }
}

/// `(environment_id, lower(name))` from an index definition, without spaces, quotes and
/// case; and whether a `WHERE` follows.
fn keys_of(definition: &str) -> (String, bool) {
    let lower = definition.to_ascii_lowercase();
    let (head, partial) = match lower.split_once(" where ") {
        Some((head, _)) => (head.to_owned(), true),
        None => (lower.clone(), false),
    };
    let open = head.find('(').unwrap_or_else(|| panic!("no key list in {definition:?}"));
    let keys: String = head[open..].chars().filter(|c| !c.is_whitespace() && *c != '"').collect();
    (keys, partial)
}

async fn sqlite_schema(url: &str) -> Schema {
    let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
    let mut s = Schema::default();
    let tables = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    for t in tables {
        let table: String = t.get("name");
        let cols = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .expect("columns");
        let mut pk: Vec<(i64, String)> = Vec::new();
        let entry = s.columns.entry(table.clone()).or_default();
        for c in cols {
            let name: String = c.get("name");
            let declared: String = c.get("type");
            let not_null: i64 = c.get("notnull");
            let in_pk: i64 = c.get("pk");
            if in_pk > 0 {
                pk.push((in_pk, name.clone()));
            }
            // A primary-key column is never NULL on PostgreSQL; SQLite reports it as
            // nullable unless declared NOT NULL, so it counts as NOT NULL here.
            entry.insert(name, Column { family: family(&declared), nullable: not_null == 0 && in_pk == 0 });
        }
        pk.sort();
        s.primary_keys.insert(table, pk.into_iter().map(|(_, n)| n).collect());
    }
    let indexes = sqlx::query("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .fetch_all(&pool)
        .await
        .expect("indexes");
    for i in indexes {
        let sql: String = i.get("sql");
        let (keys, partial) = keys_of(&sql);
        s.indexes.insert(
            i.get("name"),
            Index {
                table: i.get("tbl_name"),
                unique: sql.to_ascii_uppercase().starts_with("CREATE UNIQUE"),
                keys,
                partial,
            },
        );
    }
    // Inline `UNIQUE` column constraints make SQLite autoindexes (no SQL text) and
    // PostgreSQL `<table>_<column>_key` constraints: compare them by that name.
    let auto = sqlx::query(
        "SELECT m.tbl_name AS tbl, l.name AS idx FROM sqlite_master m, pragma_index_list(m.tbl_name) l \
         WHERE m.type = 'table' AND l.origin = 'u' AND l.name LIKE 'sqlite_autoindex_%'",
    )
    .fetch_all(&pool)
    .await
    .expect("autoindexes");
    for a in auto {
        let table: String = a.get("tbl");
        let idx: String = a.get("idx");
        let cols: Vec<String> = sqlx::query("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
            .bind(&idx)
            .fetch_all(&pool)
            .await
            .expect("index columns")
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .collect();
        let name = format!("{table}_{}_key", cols.join("_"));
        s.indexes.insert(name, Index { table, unique: true, keys: format!("({})", cols.join(",")), partial: false });
    }
    pool.close().await;
    s
}

async fn postgres_schema(url: &str) -> Schema {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let mut s = Schema::default();
    let cols = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    for c in cols {
        let declared: String = c.get("ty");
        let nullable: String = c.get("n");
        s.columns
            .entry(c.get("t"))
            .or_default()
            .insert(c.get("c"), Column { family: family(&declared), nullable: nullable == "YES" });
    }
    let pks = sqlx::query(
        "SELECT tc.table_name::text AS t, k.column_name::text AS c FROM information_schema.table_constraints tc \
         JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema \
         WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY' AND tc.table_name <> '_sqlx_migrations' \
         ORDER BY tc.table_name, k.ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .expect("primary keys");
    for p in pks {
        s.primary_keys.entry(p.get("t")).or_default().push(p.get("c"));
    }
    let indexes = sqlx::query(
        "SELECT i.relname::text AS name, t.relname::text AS tbl, x.indisunique AS uniq, pg_get_indexdef(x.indexrelid) AS def \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND NOT x.indisprimary AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    for i in indexes {
        let def: String = i.get("def");
        // `… ON public.users USING btree (environment_id, email)`: the key list follows the
        // access method.
        let def = def.replacen(" USING btree ", " ", 1);
        let (keys, partial) = keys_of(&def);
        s.indexes.insert(i.get("name"), Index { table: i.get("tbl"), unique: i.get("uniq"), keys, partial });
    }
    pool.close().await;
    s
}

/// Folds PostgreSQL's spelling of index keys to the migrations': it writes `lower(name)`
/// as `lower(name)` too, but wraps expressions and casts in parentheses of its own.
fn normalize(keys: &str) -> String {
    keys.replace("::text", "").replace("((", "(").replace("))", ")")
}

#[tokio::test]
async fn sqlite_and_postgresql_migrations_build_the_same_schema() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    let _ = sqlite.store().await;
    let _ = postgres.store().await;
    let (lite, pg) = (sqlite_schema(&sqlite.url).await, postgres_schema(&postgres.url).await);

    assert!(lite.columns.len() > 20, "the migrations ran: {:?}", lite.columns.keys());
    assert_eq!(
        lite.columns.keys().collect::<Vec<_>>(),
        pg.columns.keys().collect::<Vec<_>>(),
        "the same tables on both engines"
    );
    for (table, columns) in &lite.columns {
        assert_eq!(Some(columns), pg.columns.get(table), "columns of {table} (SQLite left, PostgreSQL right)");
    }
    assert_eq!(lite.primary_keys, pg.primary_keys, "primary keys");
    assert_eq!(
        lite.indexes.keys().collect::<Vec<_>>(),
        pg.indexes.keys().collect::<Vec<_>>(),
        "the same named indexes on both engines"
    );
    for (name, index) in &lite.indexes {
        let other = &pg.indexes[name];
        assert_eq!(
            (&index.table, index.unique, normalize(&index.keys), index.partial),
            (&other.table, other.unique, normalize(&other.keys), other.partial),
            "index {name} (SQLite left, PostgreSQL right)"
        );
    }
}
