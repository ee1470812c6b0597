//! SQL for roles and permissions.

use crate::common::{like_escape, map_err, placeholders};
use vestibule_core::StoreError;

const ROLE_COLUMNS: &str =
    "id, organization_id, slug, name, description, resource_type_slug, permissions, priority, created_at, updated_at";
const PERMISSION_COLUMNS: &str = "id, slug, name, description, resource_type_slug, created_at, updated_at";

/// A `LIKE` pattern matching `"slug"` inside a JSON array of slugs.
fn json_member_pattern(slug: &str) -> String {
    format!("%\"{}\"%", like_escape(slug))
}

macro_rules! authorization {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use crate::common::$base::{insert_events, page_query, write_with_events};
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::authorization::{AuthorizationStore, Permission, Role};
            use vestibule_core::events::Event;
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::Timestamp;

            type Conn = <$db as sqlx::Database>::Connection;

            fn role(r: &$row) -> Result<Role, sqlx::Error> {
                let org: String = r.try_get("organization_id")?;
                let permissions: String = r.try_get("permissions")?;
                Ok(Role {
                    object: "role",
                    id: r.try_get("id")?,
                    slug: r.try_get("slug")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    kind: if org.is_empty() { "EnvironmentRole" } else { "OrganizationRole" },
                    resource_type_slug: r.try_get("resource_type_slug")?,
                    permissions: crate::common::json("permissions", &permissions)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    organization_id: (!org.is_empty()).then_some(org),
                    priority: r.try_get("priority")?,
                })
            }

            fn permission(r: &$row) -> Result<Permission, sqlx::Error> {
                Ok(Permission {
                    object: "permission",
                    id: r.try_get("id")?,
                    slug: r.try_get("slug")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    system: false,
                    resource_type_slug: r.try_get("resource_type_slug")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            async fn update_role_row(conn: &mut Conn, env: &str, r: &Role) -> Result<(), StoreError> {
                sqlx::query("UPDATE roles SET name = $3, description = $4, permissions = $5, updated_at = $6 WHERE environment_id = $1 AND id = $2")
                    .bind(env).bind(&r.id).bind(&r.name).bind(&r.description)
                    .bind(serde_json::to_string(&r.permissions).unwrap_or_default()).bind(r.updated_at.millis())
                    .execute(&mut *conn).await.map_err(map_err)?;
                Ok(())
            }

            #[async_trait]
            impl AuthorizationStore for $store {
                async fn insert_role(&self, env: &str, r: &Role, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        let sql = format!("INSERT INTO roles (environment_id, {ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
                        sqlx::query(AssertSqlSafe(sql))
                            .bind(env).bind(&r.id).bind(r.organization_id.clone().unwrap_or_default()).bind(&r.slug)
                            .bind(&r.name).bind(&r.description).bind(&r.resource_type_slug)
                            .bind(serde_json::to_string(&r.permissions).unwrap_or_default()).bind(r.priority)
                            .bind(r.created_at.millis()).bind(r.updated_at.millis()).execute(&mut *tx).await
                            .map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn get_role(&self, env: &str, org: Option<&str>, slug: &str) -> Result<Option<Role>, StoreError> {
                    let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE environment_id = $1 AND organization_id = $2 AND slug = $3");
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(org.unwrap_or("")).bind(slug).fetch_optional(&self.read).await
                        .map_err(map_err)?;
                    row.as_ref().map(role).transpose().map_err(map_err)
                }

                async fn list_roles(&self, env: &str, org: Option<&str>) -> Result<Vec<Role>, StoreError> {
                    let sql = format!(
                        "SELECT {ROLE_COLUMNS} FROM roles WHERE environment_id = $1 AND (organization_id = '' OR organization_id = $2) \
                         ORDER BY priority, id"
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(org.unwrap_or("")).fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| role(r).map_err(map_err)).collect()
                }

                async fn list_roles_with_permission(&self, env: &str, permission: &str) -> Result<Vec<Role>, StoreError> {
                    let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE environment_id = $1 AND permissions LIKE $2 ESCAPE '\\' ORDER BY id");
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(json_member_pattern(permission)).fetch_all(&self.read).await
                        .map_err(map_err)?;
                    rows.iter().map(|r| role(r).map_err(map_err)).collect()
                }

                async fn update_role(&self, env: &str, r: &Role, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        update_role_row(tx, env, r).await?;
                        Ok(())
                    })
                    .await
                }

                async fn delete_role_if_unused(&self, env: &str, r: &Role, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let org = r.organization_id.clone().unwrap_or_default();
                    let in_use: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM organization_memberships WHERE environment_id = $1 AND organization_id = $2 \
                         AND role_slugs LIKE $3 ESCAPE '\\'",
                    )
                    .bind(env).bind(&org).bind(json_member_pattern(&r.slug)).fetch_one(&mut *tx).await
                    .map_err(map_err)?;
                    if in_use > 0 {
                        return Ok(false);
                    }
                    sqlx::query("DELETE FROM roles WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(&r.id).execute(&mut *tx).await.map_err(map_err)?;
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn insert_permission(&self, env: &str, p: &Permission, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        let sql = format!("INSERT INTO permissions (environment_id, {PERMISSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
                        sqlx::query(AssertSqlSafe(sql))
                            .bind(env).bind(&p.id).bind(&p.slug).bind(&p.name).bind(&p.description)
                            .bind(&p.resource_type_slug).bind(p.created_at.millis()).bind(p.updated_at.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn get_permission(&self, env: &str, slug: &str) -> Result<Option<Permission>, StoreError> {
                    let sql = format!("SELECT {PERMISSION_COLUMNS} FROM permissions WHERE environment_id = $1 AND slug = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(slug).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(permission).transpose().map_err(map_err)
                }

                async fn existing_permissions(&self, env: &str, slugs: &[String]) -> Result<Vec<String>, StoreError> {
                    if slugs.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!("SELECT slug FROM permissions WHERE environment_id = $1 AND slug IN {}", placeholders(2, slugs.len()));
                    let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql)).bind(env);
                    for s in slugs {
                        q = q.bind(s.clone());
                    }
                    q.fetch_all(&self.read).await.map_err(map_err)
                }

                async fn list_permissions(&self, env: &str, page: &PageRequest) -> Result<Page<Permission>, StoreError> {
                    let sql = format!("SELECT {PERMISSION_COLUMNS} FROM permissions WHERE environment_id = $1");
                    page_query(&self.read, sql, "id", vec![env.to_owned()], page, permission).await
                }

                async fn update_permission(&self, env: &str, p: &Permission, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query("UPDATE permissions SET name = $3, description = $4, updated_at = $5 WHERE environment_id = $1 AND slug = $2")
                            .bind(env).bind(&p.slug).bind(&p.name).bind(&p.description).bind(p.updated_at.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn delete_permission(&self, env: &str, slug: &str, roles: &[Role], events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query("DELETE FROM permissions WHERE environment_id = $1 AND slug = $2")
                        .bind(env).bind(slug).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    for r in roles {
                        update_role_row(&mut tx, env, r).await?;
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }
            }
        }
    };
}

authorization!(sqlite_authorization, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
authorization!(postgres_authorization, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
