//! The row mappers and shared statements of Directory Sync's SQL: directories, users and
//! groups decoded from rows, emails and memberships written, SCIM queries run. Instantiated
//! for both backends like every area.

use super::*;

macro_rules! directory_rows {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        pub(crate) mod $module {
            use super::*;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::directory_sync::{Directory, DirectoryGroup, DirectoryMemberFilter, ScimPage};
            use vestibule_core::events::Event;
            use vestibule_core::Timestamp;

            type Conn = <$db as sqlx::Database>::Connection;
            use crate::common::$base::insert_events;

            pub(crate) fn directory(r: &$row) -> Result<Directory, sqlx::Error> {
                Ok(Directory {
                    object: "directory",
                    id: r.try_get("id")?,
                    organization_id: r.try_get("organization_id")?,
                    external_key: r.try_get("external_key")?,
                    kind: r.try_get("type")?,
                    state: r.try_get("state")?,
                    name: r.try_get("name")?,
                    domain: r.try_get("domain")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    custom_attribute_mapping: crate::common::json("custom_attribute_mapping", &r.try_get::<String, _>("custom_attribute_mapping")?)?,
                })
            }

            pub(crate) fn user(r: &$row) -> Result<DirectoryUser, sqlx::Error> {
                let resource: String = r.try_get("resource")?;
                Ok(DirectoryUser {
                    id: r.try_get("id")?,
                    directory_id: r.try_get("directory_id")?,
                    organization_id: r.try_get("organization_id")?,
                    resource: crate::common::json("resource", &resource)?,
                    custom_attributes: crate::common::json("custom_attributes", &r.try_get::<String, _>("custom_attributes")?)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    version: r.try_get("version")?,
                })
            }

            pub(crate) fn group(r: &$row) -> Result<DirectoryGroup, sqlx::Error> {
                let resource: String = r.try_get("resource")?;
                Ok(DirectoryGroup {
                    id: r.try_get("id")?,
                    directory_id: r.try_get("directory_id")?,
                    organization_id: r.try_get("organization_id")?,
                    resource: crate::common::json("resource", &resource)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    version: r.try_get("version")?,
                })
            }

            /// Deletes one row of a directory's `table` with its events; false when there was none.
            pub(crate) async fn delete_in_directory(
                pool: &sqlx::Pool<$db>,
                table: &'static str,
                env: &str,
                directory_id: &str,
                id: &str,
                events: &[Event],
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await.map_err(map_err)?;
                let sql = format!("DELETE FROM {table} WHERE environment_id = $1 AND directory_id = $2 AND id = $3");
                let done = sqlx::query(AssertSqlSafe(sql))
                    .bind(env).bind(directory_id).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            /// One SCIM list page of a directory's `(table, alias, columns)` matching `cond`:
            /// the total count, then `count` rows from `offset` in id order.
            pub(crate) async fn scim_query<T>(
                pool: &sqlx::Pool<$db>,
                (table, alias, columns): (&'static str, &'static str, &'static str),
                env: &str,
                directory_id: &str,
                cond: &Cond,
                (offset, count): (u64, u64),
                row: fn(&$row) -> Result<T, sqlx::Error>,
            ) -> Result<ScimPage<T>, StoreError> {
                let mut binds = Vec::new();
                let clause = cond_sql(cond, alias, 2, &mut binds);
                let from = format!("FROM {table} {alias} WHERE {alias}.environment_id = $1 AND {alias}.directory_id = $2 AND {clause}");
                let total: i64 = {
                    let q = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) AS n {from}"))).bind(env).bind(directory_id);
                    let found = bind_all!(q, binds.clone()).fetch_one(pool).await.map_err(map_err)?;
                    found.try_get("n").map_err(map_err)?
                };
                let mut items = Vec::new();
                if count > 0 && (offset as i64) < total {
                    let sql = format!("SELECT {columns} {from} ORDER BY {alias}.id LIMIT {count} OFFSET {offset}");
                    let q = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(directory_id);
                    let rows = bind_all!(q, binds).fetch_all(pool).await.map_err(map_err)?;
                    items = rows.iter().map(row).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                }
                Ok(ScimPage { total: total.max(0) as u64, items })
            }

            pub(crate) async fn write_emails(conn: &mut Conn, env: &str, u: &DirectoryUser, replace: bool) -> Result<(), StoreError> {
                if replace {
                    sqlx::query("DELETE FROM directory_user_emails WHERE environment_id = $1 AND user_id = $2")
                        .bind(env).bind(&u.id).execute(&mut *conn).await.map_err(map_err)?;
                }
                // All of them in one statement: one round trip whatever their number.
                let emails = u.emails();
                for (chunk_no, chunk) in emails.chunks(100).enumerate() {
                    let rows: Vec<String> = (0..chunk.len())
                        .map(|i| {
                            let n = 4 + i * 4;
                            format!("($1, $2, ${}, $3, ${}, ${}, ${})", n, n + 1, n + 2, n + 3)
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO directory_user_emails (environment_id, user_id, position, directory_id, value_key, type, is_primary) VALUES {}",
                        rows.join(", ")
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(&u.id).bind(&u.directory_id);
                    for (i, e) in chunk.iter().enumerate() {
                        q = q.bind((chunk_no * 100 + i) as i64).bind(fold(&e.value)).bind(e.kind.clone()).bind(e.primary);
                    }
                    q.execute(&mut *conn).await.map_err(map_err)?;
                }
                Ok(())
            }

            /// Inserts the memberships of `user_ids` in `group_id` that do not exist yet, a few
            /// hundred per statement; answers the ids that were really added.
            pub(crate) async fn insert_members(
                conn: &mut Conn,
                env: &str,
                directory_id: &str,
                group_id: &str,
                user_ids: &[&str],
                at: i64,
            ) -> Result<std::collections::HashSet<String>, StoreError> {
                let mut added = std::collections::HashSet::new();
                for chunk in user_ids.chunks(500) {
                    let rows: Vec<String> = (0..chunk.len()).map(|i| format!("($1, $2, ${}, $3, $4)", i + 5)).collect();
                    let sql = format!(
                        "INSERT INTO directory_group_members (environment_id, group_id, user_id, directory_id, created_at) VALUES {} \
                         ON CONFLICT (environment_id, group_id, user_id) DO NOTHING RETURNING user_id",
                        rows.join(", ")
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(group_id).bind(directory_id).bind(at);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    for r in q.fetch_all(&mut *conn).await.map_err(map_err)? {
                        added.insert(r.try_get::<String, _>("user_id").map_err(map_err)?);
                    }
                }
                Ok(added)
            }

            /// Deletes the memberships of `user_ids` in `group_id`; answers the ids that were
            /// really removed.
            pub(crate) async fn delete_members(conn: &mut Conn, env: &str, group_id: &str, user_ids: &[&str]) -> Result<std::collections::HashSet<String>, StoreError> {
                let mut removed = std::collections::HashSet::new();
                for chunk in user_ids.chunks(500) {
                    let sql = format!(
                        "DELETE FROM directory_group_members WHERE environment_id = $1 AND group_id = $2 AND user_id IN {} RETURNING user_id",
                        placeholders(3, chunk.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(group_id);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    for r in q.fetch_all(&mut *conn).await.map_err(map_err)? {
                        removed.insert(r.try_get::<String, _>("user_id").map_err(map_err)?);
                    }
                }
                Ok(removed)
            }

            /// `AND …` clauses of the WorkOS list filters, appending their binds.
            pub(crate) fn member_filter(filter: &DirectoryMemberFilter, alias: &str, related: &str, args: &mut Vec<String>) -> String {
                let mut sql = String::new();
                if let Some(d) = &filter.directory_id {
                    args.push(d.clone());
                    sql.push_str(&format!(" AND {alias}.directory_id = ${}", args.len()));
                }
                if let Some(r) = &filter.related_id {
                    args.push(r.clone());
                    sql.push_str(&format!(" AND {related}"));
                }
                sql
            }
        }
    };
}

directory_rows!(sqlite_rows, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
directory_rows!(postgres_rows, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
