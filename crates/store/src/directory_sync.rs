//! SQL for directories, directory users and groups, and group memberships, instantiated
//! for both backends like every area. SCIM filters arrive as a `Cond` tree and are
//! rendered as parameterised SQL by [`scim_filter_sql`]. Membership changes are single statements (`INSERT … ON CONFLICT DO
//! NOTHING`, `DELETE`), and a membership event is written only when its row changed.

mod scim_filter_sql;

use crate::common::{map_err, placeholders};
use scim_filter_sql::{Bind, cond_sql};
use vestibule_core::StoreError;
use vestibule_core::directory_sync::scim::Cond;
use vestibule_core::directory_sync::{DirectoryUser, fold};

const DIRECTORY_COLUMNS: &str =
    "id, organization_id, external_key, type, state, name, domain, custom_attribute_mapping, created_at, updated_at";
const USER_COLUMNS: &str =
    "u.id, u.directory_id, u.organization_id, u.resource, u.custom_attributes, u.created_at, u.updated_at, u.version";
const GROUP_COLUMNS: &str =
    "g.id, g.directory_id, g.organization_id, g.resource, g.created_at, g.updated_at, g.version";

/// The indexed columns of a user, derived from its resource.
struct UserKeys {
    user_name: String,
    user_name_key: String,
    external_id: Option<String>,
    display_name_key: Option<String>,
    given_name_key: Option<String>,
    family_name_key: Option<String>,
    active: bool,
}

fn user_keys(u: &DirectoryUser) -> UserKeys {
    let user_name = u.user_name();
    UserKeys {
        user_name_key: fold(&user_name),
        user_name,
        external_id: u.external_id(),
        display_name_key: u.display_name().map(|s| fold(&s)),
        given_name_key: u.given_name().map(|s| fold(&s)),
        family_name_key: u.family_name().map(|s| fold(&s)),
        active: u.active(),
    }
}

/// Binds each of `binds` to the query `q`, in order.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
                Bind::Bool(v) => q.bind(v),
            };
        }
        q
    }};
}

mod rows;

macro_rules! directories {
    ($module:ident, $base:ident, $rows:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::directory_sync::{
                Directory, DirectoryCredentials, DirectoryFilter, DirectoryGroup, DirectoryMemberFilter, DirectoryStore, GroupChange,
                MemberCounts, ScimPage,
            };
            use vestibule_core::events::Event;
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::Timestamp;

            use crate::common::$base::{fetch_by_id, insert_events, page_query, write_with_events};
            use super::rows::$rows::*;

            #[async_trait]
            impl DirectoryStore for $store {
                async fn insert_directory(&self, env: &str, d: &Directory, token_digest: &str, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query(
                            "INSERT INTO directories (environment_id, id, organization_id, external_key, type, state, name, domain, token_digest, created_at, updated_at, \
                             custom_attribute_mapping) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        )
                        .bind(env).bind(&d.id).bind(&d.organization_id).bind(&d.external_key).bind(&d.kind)
                        .bind(&d.state).bind(&d.name).bind(&d.domain).bind(token_digest).bind(d.created_at.millis())
                        .bind(d.updated_at.millis())
                        .bind(serde_json::to_string(&d.custom_attribute_mapping).unwrap_or_default())
                        .execute(&mut *tx).await.map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn get_directory(&self, env: &str, id: &str) -> Result<Option<Directory>, StoreError> {
                    fetch_by_id(&self.read, format!("SELECT {DIRECTORY_COLUMNS} FROM directories WHERE environment_id = $1 AND id = $2"), env, id, directory).await
                }

                async fn find_directory_by_key(&self, key: &str) -> Result<Option<DirectoryCredentials>, StoreError> {
                    let sql = format!("SELECT environment_id, token_digest, {DIRECTORY_COLUMNS} FROM directories WHERE external_key = $1");
                    let Some(r) = sqlx::query(AssertSqlSafe(sql)).bind(key).fetch_optional(&self.read).await.map_err(map_err)? else {
                        return Ok(None);
                    };
                    Ok(Some(DirectoryCredentials {
                        directory: directory(&r).map_err(map_err)?,
                        environment_id: r.try_get("environment_id").map_err(map_err)?,
                        token_digest: r.try_get("token_digest").map_err(map_err)?,
                    }))
                }

                async fn list_directories(&self, env: &str, filter: &DirectoryFilter, page: &PageRequest) -> Result<Page<Directory>, StoreError> {
                    let mut args: Vec<String> = vec![env.to_owned()];
                    let mut sql = format!("SELECT {DIRECTORY_COLUMNS} FROM directories WHERE environment_id = $1");
                    if let Some(org) = &filter.organization_id {
                        args.push(org.clone());
                        sql.push_str(&format!(" AND organization_id = ${}", args.len()));
                    }
                    if let Some(s) = filter.search.as_deref().filter(|s| !s.is_empty()) {
                        args.push(format!("%{}%", crate::common::like_escape(s)));
                        sql.push_str(&format!(" AND lower(name) LIKE ${} ESCAPE '\\'", args.len()));
                    }
                    if let Some(d) = &filter.domain {
                        args.push(d.to_lowercase());
                        sql.push_str(&format!(" AND domain = ${}", args.len()));
                    }
                    page_query(&self.read, sql, "id", args, page, directory).await
                }

                async fn update_directory(&self, env: &str, d: &Directory, remap: bool) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query(
                        "UPDATE directories SET name = $3, custom_attribute_mapping = $4, updated_at = $5 WHERE environment_id = $1 AND id = $2",
                    )
                    .bind(env).bind(&d.id).bind(&d.name)
                    .bind(serde_json::to_string(&d.custom_attribute_mapping).unwrap_or_default())
                    .bind(d.updated_at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    if remap {
                        // Page through the directory's users by id, rewriting each one's
                        // normalized attributes (its resource and version are unchanged).
                        let mut after = String::new();
                        loop {
                            let sql = format!(
                                "SELECT {USER_COLUMNS} FROM directory_users u WHERE u.environment_id = $1 AND u.directory_id = $2 AND u.id > $3 \
                                 ORDER BY u.id LIMIT 500"
                            );
                            let rows = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(&d.id).bind(&after).fetch_all(&mut *tx).await.map_err(map_err)?;
                            let users = rows.iter().map(user).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                            let Some(last) = users.last() else { break };
                            after = last.id.clone();
                            for u in &users {
                                let mapped = u.map_custom_attributes(&d.custom_attribute_mapping);
                                if mapped != u.custom_attributes {
                                    sqlx::query("UPDATE directory_users SET custom_attributes = $3 WHERE environment_id = $1 AND id = $2")
                                        .bind(env).bind(&u.id).bind(mapped.to_string()).execute(&mut *tx).await
                                        .map_err(map_err)?;
                                }
                            }
                        }
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn set_directory_token(&self, env: &str, id: &str, digest: &str, at: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE directories SET token_digest = $3, updated_at = $4 WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).bind(digest).bind(at.millis()).execute(&self.write).await
                        .map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn activate_directory(&self, env: &str, id: &str, at: Timestamp, event: &Event) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query(
                        "UPDATE directories SET state = 'linked', updated_at = $3 WHERE environment_id = $1 AND id = $2 AND state <> 'linked'",
                    )
                    .bind(env).bind(id).bind(at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_events(&mut tx, std::slice::from_ref(event)).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn delete_directory(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    // Children first: one statement each rather than a cascade per row.
                    for sql in [
                        "DELETE FROM directory_group_members WHERE environment_id = $1 AND directory_id = $2",
                        "DELETE FROM directory_user_emails WHERE environment_id = $1 AND directory_id = $2",
                        "DELETE FROM directory_groups WHERE environment_id = $1 AND directory_id = $2",
                        "DELETE FROM directory_users WHERE environment_id = $1 AND directory_id = $2",
                    ] {
                        sqlx::query(sql).bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    let done = sqlx::query("DELETE FROM directories WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn insert_directory_user(&self, env: &str, u: &DirectoryUser, events: &[Event]) -> Result<(), StoreError> {
                    let k = user_keys(u);
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query(
                            "INSERT INTO directory_users (environment_id, id, directory_id, organization_id, resource, user_name, user_name_key, \
                             external_id, display_name_key, given_name_key, family_name_key, active, created_at, updated_at, version, custom_attributes) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                        )
                        .bind(env).bind(&u.id).bind(&u.directory_id).bind(&u.organization_id)
                        .bind(u.resource.to_string()).bind(k.user_name).bind(k.user_name_key).bind(k.external_id)
                        .bind(k.display_name_key).bind(k.given_name_key).bind(k.family_name_key).bind(k.active)
                        .bind(u.created_at.millis()).bind(u.updated_at.millis()).bind(u.version)
                        .bind(u.custom_attributes.to_string()).execute(&mut *tx).await.map_err(map_err)?;
                        write_emails(tx, env, u, false).await?;
                        Ok(())
                    })
                    .await
                }

                async fn get_directory_user(&self, env: &str, id: &str) -> Result<Option<DirectoryUser>, StoreError> {
                    fetch_by_id(&self.read, format!("SELECT {USER_COLUMNS} FROM directory_users u WHERE u.environment_id = $1 AND u.id = $2"), env, id, user).await
                }

                async fn get_directory_users(&self, env: &str, directory_id: &str, ids: &[String]) -> Result<Vec<DirectoryUser>, StoreError> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut out = Vec::with_capacity(ids.len());
                    for chunk in ids.chunks(500) {
                        let sql = format!(
                            "SELECT {USER_COLUMNS} FROM directory_users u WHERE u.environment_id = $1 AND u.directory_id = $2 AND u.id IN {}",
                            placeholders(3, chunk.len())
                        );
                        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(directory_id);
                        for id in chunk {
                            q = q.bind(id.clone());
                        }
                        let rows = q.fetch_all(&self.read).await.map_err(map_err)?;
                        for r in &rows {
                            out.push(user(r).map_err(map_err)?);
                        }
                    }
                    out.sort_by(|a, b| a.id.cmp(&b.id));
                    Ok(out)
                }

                async fn update_directory_user(&self, env: &str, u: &DirectoryUser, expected_version: i64, events: &[Event]) -> Result<(), StoreError> {
                    let k = user_keys(u);
                    write_with_events(&self.write, events, async |tx| {
                        let done = sqlx::query(
                            "UPDATE directory_users SET resource = $3, user_name = $4, user_name_key = $5, external_id = $6, display_name_key = $7, \
                             given_name_key = $8, family_name_key = $9, active = $10, updated_at = $11, version = $12, custom_attributes = $14 \
                             WHERE environment_id = $1 AND id = $2 AND version = $13",
                        )
                        .bind(env).bind(&u.id).bind(u.resource.to_string()).bind(k.user_name).bind(k.user_name_key)
                        .bind(k.external_id).bind(k.display_name_key).bind(k.given_name_key).bind(k.family_name_key)
                        .bind(k.active).bind(u.updated_at.millis()).bind(u.version).bind(expected_version)
                        .bind(u.custom_attributes.to_string()).execute(&mut *tx).await.map_err(map_err)?;
                        if done.rows_affected() != 1 {
                            return Err(StoreError::Contended);
                        }
                        write_emails(tx, env, u, true).await?;
                        Ok(())
                    })
                    .await
                }

                async fn delete_directory_user(&self, env: &str, directory_id: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    delete_in_directory(&self.write, "directory_users", env, directory_id, id, events).await
                }

                async fn query_directory_users(&self, env: &str, directory_id: &str, cond: &Cond, offset: u64, count: u64) -> Result<ScimPage<DirectoryUser>, StoreError> {
                    let from = ("directory_users", "u", USER_COLUMNS);
                    scim_query(&self.read, from, env, directory_id, cond, (offset, count), user).await
                }

                async fn list_directory_users(&self, env: &str, filter: &DirectoryMemberFilter, page: &PageRequest) -> Result<Page<DirectoryUser>, StoreError> {
                    let q = page.keyset();
                    let mut args: Vec<String> = vec![env.to_owned()];
                    let mut sql = format!("SELECT {USER_COLUMNS} FROM directory_users u WHERE u.environment_id = $1");
                    if let Some((op, id)) = &q.bound {
                        args.push(id.clone());
                        sql.push_str(&format!(" AND u.id {op} ${}", args.len()));
                    }
                    let n = args.len() + 1 + usize::from(filter.directory_id.is_some());
                    let related = format!("u.id IN (SELECT user_id FROM directory_group_members WHERE environment_id = $1 AND group_id = ${n})");
                    sql.push_str(&member_filter(filter, "u", &related, &mut args));
                    if let Some(idp) = &filter.idp_id {
                        args.push(idp.clone());
                        let n = args.len();
                        sql.push_str(&format!(" AND (u.external_id = ${n} OR (u.external_id IS NULL AND u.id = ${n}))"));
                    }
                    if let Some(email) = &filter.email {
                        args.push(fold(email));
                        sql.push_str(&format!(
                            " AND EXISTS (SELECT 1 FROM directory_user_emails e WHERE e.environment_id = u.environment_id AND e.user_id = u.id \
                             AND e.value_key = ${} AND (e.is_primary = TRUE OR e.position = 0))",
                            args.len()
                        ));
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY u.id {dir} LIMIT {}", q.fetch));
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for a in args {
                        query = query.bind(a);
                    }
                    let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
                    let items = rows.iter().map(user).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                    Ok(page.page(&q, items))
                }

                async fn groups_of_users(&self, env: &str, user_ids: &[String]) -> Result<Vec<(String, DirectoryGroup)>, StoreError> {
                    if user_ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "SELECT m.user_id AS member_id, {GROUP_COLUMNS} FROM directory_group_members m \
                         JOIN directory_groups g ON g.environment_id = m.environment_id AND g.id = m.group_id \
                         WHERE m.environment_id = $1 AND m.user_id IN {} ORDER BY m.user_id, g.id",
                        placeholders(2, user_ids.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env);
                    for id in user_ids {
                        q = q.bind(id.clone());
                    }
                    let rows = q.fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter()
                        .map(|r| Ok((r.try_get::<String, _>("member_id")?, group(r)?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(map_err)
                }

                async fn insert_directory_group(&self, env: &str, g: &DirectoryGroup, members: &[String], events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query(
                            "INSERT INTO directory_groups (environment_id, id, directory_id, organization_id, resource, display_name_key, external_id, \
                             created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(env).bind(&g.id).bind(&g.directory_id).bind(&g.organization_id)
                        .bind(g.resource.to_string()).bind(fold(&g.display_name())).bind(g.external_id())
                        .bind(g.created_at.millis()).bind(g.updated_at.millis()).bind(g.version).execute(&mut *tx)
                        .await.map_err(map_err)?;
                        let ids: Vec<&str> = members.iter().map(String::as_str).collect();
                        insert_members(tx, env, &g.directory_id, &g.id, &ids, g.created_at.millis()).await?;
                        Ok(())
                    })
                    .await
                }

                async fn get_directory_group(&self, env: &str, id: &str) -> Result<Option<DirectoryGroup>, StoreError> {
                    fetch_by_id(&self.read, format!("SELECT {GROUP_COLUMNS} FROM directory_groups g WHERE g.environment_id = $1 AND g.id = $2"), env, id, group).await
                }

                async fn change_group(&self, env: &str, directory_id: &str, group_id: &str, change: &GroupChange<'_>) -> Result<MemberCounts, StoreError> {
                    let GroupChange { group: row, events, add, remove } = *change;
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    if let Some((g, expected)) = row {
                        let done = sqlx::query(
                            "UPDATE directory_groups SET resource = $3, display_name_key = $4, external_id = $5, updated_at = $6, version = $7 \
                             WHERE environment_id = $1 AND id = $2 AND version = $8",
                        )
                        .bind(env).bind(&g.id).bind(g.resource.to_string()).bind(fold(&g.display_name()))
                        .bind(g.external_id()).bind(g.updated_at.millis()).bind(g.version).bind(expected)
                        .execute(&mut *tx).await.map_err(map_err)?;
                        if done.rows_affected() != 1 {
                            return Err(StoreError::Contended);
                        }
                    }
                    insert_events(&mut tx, events).await?;
                    // One statement each way; an event only for a row that really changed, in
                    // the order the changes were asked for.
                    let mut counts = MemberCounts::default();
                    if !add.is_empty() {
                        let ids: Vec<&str> = add.iter().map(|m| m.user_id.as_str()).collect();
                        let at = add[0].event.created_at.millis();
                        let added = insert_members(&mut tx, env, directory_id, group_id, &ids, at).await?;
                        let done: Vec<Event> = add.iter().filter(|m| added.contains(&m.user_id)).map(|m| m.event.clone()).collect();
                        counts.added = done.len();
                        insert_events(&mut tx, &done).await?;
                    }
                    if !remove.is_empty() {
                        let ids: Vec<&str> = remove.iter().map(|m| m.user_id.as_str()).collect();
                        let removed = delete_members(&mut tx, env, group_id, &ids).await?;
                        let done: Vec<Event> = remove.iter().filter(|m| removed.contains(&m.user_id)).map(|m| m.event.clone()).collect();
                        counts.removed = done.len();
                        insert_events(&mut tx, &done).await?;
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(counts)
                }

                async fn delete_directory_group(&self, env: &str, directory_id: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    delete_in_directory(&self.write, "directory_groups", env, directory_id, id, events).await
                }

                async fn query_directory_groups(&self, env: &str, directory_id: &str, cond: &Cond, offset: u64, count: u64) -> Result<ScimPage<DirectoryGroup>, StoreError> {
                    let from = ("directory_groups", "g", GROUP_COLUMNS);
                    scim_query(&self.read, from, env, directory_id, cond, (offset, count), group).await
                }

                async fn list_directory_groups(&self, env: &str, filter: &DirectoryMemberFilter, page: &PageRequest) -> Result<Page<DirectoryGroup>, StoreError> {
                    let q = page.keyset();
                    let mut args: Vec<String> = vec![env.to_owned()];
                    let mut sql = format!("SELECT {GROUP_COLUMNS} FROM directory_groups g WHERE g.environment_id = $1");
                    if let Some((op, id)) = &q.bound {
                        args.push(id.clone());
                        sql.push_str(&format!(" AND g.id {op} ${}", args.len()));
                    }
                    let n = args.len() + 1 + usize::from(filter.directory_id.is_some());
                    let related = format!("g.id IN (SELECT group_id FROM directory_group_members WHERE environment_id = $1 AND user_id = ${n})");
                    sql.push_str(&member_filter(filter, "g", &related, &mut args));
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY g.id {dir} LIMIT {}", q.fetch));
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for a in args {
                        query = query.bind(a);
                    }
                    let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
                    let items = rows.iter().map(group).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                    Ok(page.page(&q, items))
                }

                async fn group_member_ids(&self, env: &str, group_id: &str) -> Result<Vec<String>, StoreError> {
                    let rows = sqlx::query("SELECT user_id FROM directory_group_members WHERE environment_id = $1 AND group_id = $2 ORDER BY user_id")
                        .bind(env).bind(group_id).fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| r.try_get::<String, _>("user_id")).collect::<Result<Vec<_>, _>>().map_err(map_err)
                }

                async fn group_members(&self, env: &str, group_ids: &[String]) -> Result<Vec<(String, String, String)>, StoreError> {
                    if group_ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!(
                        "SELECT m.group_id, m.user_id, u.user_name FROM directory_group_members m \
                         JOIN directory_users u ON u.environment_id = m.environment_id AND u.id = m.user_id \
                         WHERE m.environment_id = $1 AND m.group_id IN {} ORDER BY m.group_id, m.user_id",
                        placeholders(2, group_ids.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env);
                    for id in group_ids {
                        q = q.bind(id.clone());
                    }
                    let rows = q.fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("group_id")?, r.try_get("user_id")?, r.try_get("user_name")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(map_err)
                }
            }
        }
    };
}

directories!(sqlite_directories, sqlite_backend, sqlite_rows, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
directories!(postgres_directories, postgres_backend, postgres_rows, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
