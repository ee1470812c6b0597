//! SQL for organizations and their domains.

use crate::common::{like_escape, map_err, placeholders};
use vestibule_core::StoreError;

const ORG_COLUMNS: &str = "id, name, allow_profiles_outside_organization, metadata, external_id, stripe_customer_id, created_at, updated_at, version";
const DOMAIN_COLUMNS: &str = "id, organization_id, domain, state, verification_strategy, verification_token, verification_prefix, created_at, updated_at";

macro_rules! organizations {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use crate::common::$base::{delete_with_events, fetch_by_id, insert_events, write_with_events};
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use std::collections::BTreeMap;
            use vestibule_core::events::Event;
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::organizations::{Organization, OrganizationDomain, OrganizationFilter, OrganizationStore};
            use vestibule_core::Timestamp;


            type Conn = <$db as sqlx::Database>::Connection;
            type Pool = sqlx::Pool<$db>;

            fn organization(r: &$row) -> Result<Organization, sqlx::Error> {
                let metadata: String = r.try_get("metadata")?;
                Ok(Organization {
                    object: "organization",
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    allow_profiles_outside_organization: r.try_get("allow_profiles_outside_organization")?,
                    domains: Vec::new(),
                    metadata: crate::common::json::<BTreeMap<String, String>>("metadata", &metadata)?,
                    external_id: r.try_get("external_id")?,
                    stripe_customer_id: r.try_get("stripe_customer_id")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    version: r.try_get("version")?,
                })
            }

            fn domain(r: &$row) -> Result<OrganizationDomain, sqlx::Error> {
                Ok(OrganizationDomain {
                    object: "organization_domain",
                    id: r.try_get("id")?,
                    organization_id: r.try_get("organization_id")?,
                    domain: r.try_get("domain")?,
                    state: r.try_get("state")?,
                    verification_strategy: r.try_get("verification_strategy")?,
                    verification_token: r.try_get("verification_token")?,
                    verification_prefix: r.try_get("verification_prefix")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            async fn insert_domain(conn: &mut Conn, env: &str, d: &OrganizationDomain) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO organization_domains (environment_id, id, organization_id, domain, state, \
                     verification_strategy, verification_token, verification_prefix, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(env).bind(&d.id).bind(&d.organization_id).bind(&d.domain).bind(&d.state)
                .bind(&d.verification_strategy).bind(&d.verification_token).bind(&d.verification_prefix)
                .bind(d.created_at.millis()).bind(d.updated_at.millis()).execute(&mut *conn).await.map_err(map_err)?;
                Ok(())
            }

            /// Fills `domains` of each organization with one query.
            async fn attach_domains(pool: &Pool, env: &str, orgs: &mut [Organization]) -> Result<(), StoreError> {
                if orgs.is_empty() {
                    return Ok(());
                }
                // No ORDER BY: a planner without statistics would walk the primary key to
                // satisfy it instead of using the organization index. The few rows are
                // sorted here.
                let sql = format!(
                    "SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE environment_id = $1 \
                     AND organization_id IN {}",
                    placeholders(2, orgs.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env);
                for o in orgs.iter() {
                    q = q.bind(o.id.clone());
                }
                let rows = q.fetch_all(pool).await.map_err(map_err)?;
                let mut domains = rows.iter().map(domain).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                domains.sort_by(|a, b| a.id.cmp(&b.id));
                let index: std::collections::HashMap<String, usize> =
                    orgs.iter().enumerate().map(|(i, o)| (o.id.clone(), i)).collect();
                for d in domains {
                    if let Some(&i) = index.get(&d.organization_id) {
                        orgs[i].domains.push(d);
                    }
                }
                Ok(())
            }

            #[async_trait]
            impl OrganizationStore for $store {
                async fn insert_organization(&self, env: &str, org: &Organization, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query(
                            "INSERT INTO organizations (environment_id, id, name, allow_profiles_outside_organization, metadata, \
                             external_id, stripe_customer_id, created_at, updated_at, version) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(env).bind(&org.id).bind(&org.name).bind(org.allow_profiles_outside_organization)
                        .bind(serde_json::to_string(&org.metadata).unwrap_or_default()).bind(&org.external_id)
                        .bind(&org.stripe_customer_id).bind(org.created_at.millis()).bind(org.updated_at.millis())
                        .bind(org.version).execute(&mut *tx).await.map_err(map_err)?;
                        for d in &org.domains {
                            insert_domain(tx, env, d).await?;
                        }
                        Ok(())
                    })
                    .await
                }

                async fn get_organization(&self, env: &str, id: &str) -> Result<Option<Organization>, StoreError> {
                    let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    let Some(row) = row else { return Ok(None) };
                    let mut orgs = [organization(&row).map_err(map_err)?];
                    attach_domains(&self.read, env, &mut orgs).await?;
                    let [org] = orgs;
                    Ok(Some(org))
                }

                async fn get_organization_by_external_id(&self, env: &str, external_id: &str) -> Result<Option<Organization>, StoreError> {
                    let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE environment_id = $1 AND external_id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(external_id).fetch_optional(&self.read).await.map_err(map_err)?;
                    let Some(row) = row else { return Ok(None) };
                    let mut orgs = [organization(&row).map_err(map_err)?];
                    attach_domains(&self.read, env, &mut orgs).await?;
                    let [org] = orgs;
                    Ok(Some(org))
                }

                async fn update_organization(&self, env: &str, org: &Organization, expected_version: i64, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        let done = sqlx::query(
                            "UPDATE organizations SET name = $3, allow_profiles_outside_organization = $4, metadata = $5, \
                             external_id = $6, stripe_customer_id = $7, updated_at = $8, version = $9 \
                             WHERE environment_id = $1 AND id = $2 AND version = $10",
                        )
                        .bind(env).bind(&org.id).bind(&org.name).bind(org.allow_profiles_outside_organization)
                        .bind(serde_json::to_string(&org.metadata).unwrap_or_default()).bind(&org.external_id)
                        .bind(&org.stripe_customer_id).bind(org.updated_at.millis()).bind(org.version)
                        .bind(expected_version).execute(&mut *tx).await.map_err(map_err)?;
                        if done.rows_affected() != 1 {
                            return Err(StoreError::Contended);
                        }
                        let kept: Vec<String> = org.domains.iter().map(|d| d.id.clone()).collect();
                        let sql = if kept.is_empty() {
                            "DELETE FROM organization_domains WHERE environment_id = $1 AND organization_id = $2".to_owned()
                        } else {
                            format!(
                                "DELETE FROM organization_domains WHERE environment_id = $1 AND organization_id = $2 AND id NOT IN {}",
                                placeholders(3, kept.len())
                            )
                        };
                        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(&org.id);
                        for id in kept {
                            q = q.bind(id);
                        }
                        q.execute(&mut *tx).await.map_err(map_err)?;
                        for d in &org.domains {
                            let updated = sqlx::query(
                                "UPDATE organization_domains SET state = $3, updated_at = $4 WHERE environment_id = $1 AND id = $2",
                            )
                            .bind(env).bind(&d.id).bind(&d.state).bind(d.updated_at.millis()).execute(&mut *tx).await
                            .map_err(map_err)?;
                            if updated.rows_affected() == 0 {
                                insert_domain(tx, env, d).await?;
                            }
                        }
                        Ok(())
                    })
                    .await
                }

                async fn delete_organization(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query("DELETE FROM organizations WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    // Organization roles and invitations go with their organization.
                    for sql in [
                        "DELETE FROM roles WHERE environment_id = $1 AND organization_id = $2",
                        "DELETE FROM invitations WHERE environment_id = $1 AND organization_id = $2",
                    ] {
                        sqlx::query(sql).bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn list_organizations(&self, env: &str, filter: &OrganizationFilter, page: &PageRequest) -> Result<Page<Organization>, StoreError> {
                    let q = page.keyset();
                    let mut args: Vec<String> = vec![env.to_owned()];
                    let mut sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE environment_id = $1");
                    if let Some((op, id)) = &q.bound {
                        args.push(id.clone());
                        sql.push_str(&format!(" AND id {op} ${}", args.len()));
                    }
                    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
                        args.push(format!("%{}%", like_escape(search)));
                        sql.push_str(&format!(" AND lower(name) LIKE ${} ESCAPE '\\'", args.len()));
                    }
                    if !filter.domains.is_empty() {
                        sql.push_str(&format!(
                            " AND id IN (SELECT organization_id FROM organization_domains WHERE environment_id = $1 AND domain IN {})",
                            placeholders(args.len() + 1, filter.domains.len())
                        ));
                        args.extend(filter.domains.iter().cloned());
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY id {dir} LIMIT {}", q.fetch));
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for a in args {
                        query = query.bind(a);
                    }
                    let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
                    let mut orgs = rows.iter().map(organization).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                    orgs.truncate(page.limit as usize + 1);
                    attach_domains(&self.read, env, &mut orgs).await?;
                    Ok(page.page(&q, orgs))
                }

                async fn insert_organization_domain(&self, env: &str, d: &OrganizationDomain, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        // Bump the parent so concurrent organization updates see the change.
                        let parent = sqlx::query(
                            "UPDATE organizations SET version = version + 1, updated_at = $3 WHERE environment_id = $1 AND id = $2",
                        )
                        .bind(env).bind(&d.organization_id).bind(d.created_at.millis()).execute(&mut *tx).await
                        .map_err(map_err)?;
                        if parent.rows_affected() != 1 {
                            return Err(StoreError::Contended);
                        }
                        insert_domain(tx, env, d).await?;
                        Ok(())
                    })
                    .await
                }

                async fn get_organization_domain(&self, env: &str, id: &str) -> Result<Option<OrganizationDomain>, StoreError> {
                    fetch_by_id(&self.read, format!("SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE environment_id = $1 AND id = $2"), env, id, domain).await
                }

                async fn update_organization_domain(&self, env: &str, d: &OrganizationDomain, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query("UPDATE organization_domains SET state = $3, updated_at = $4 WHERE environment_id = $1 AND id = $2")
                            .bind(env).bind(&d.id).bind(&d.state).bind(d.updated_at.millis()).execute(&mut *tx).await
                            .map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn delete_organization_domain(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    let sql = "DELETE FROM organization_domains WHERE environment_id = $1 AND id = $2";
                    delete_with_events(&self.write, sql, env, id, events).await
                }
            }
        }
    };
}

organizations!(sqlite_organizations, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
organizations!(postgres_organizations, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
