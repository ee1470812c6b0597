//! The SQL behind every store trait, written once and instantiated for SQLite and
//! PostgreSQL by [`backend!`]. Only the types differ between the two expansions.

use vestibule_core::StoreError;

/// Unique indexes by their PostgreSQL name and their SQLite column list, with the
/// stable name the core matches on.
const UNIQUE_INDEXES: &[(&str, &str, &str)] = &[
    ("organizations_external_id", "organizations.environment_id, organizations.external_id", "organizations.external_id"),
    ("organization_domains_domain", "organization_domains.environment_id, organization_domains.domain", "organization_domains.domain"),
    ("api_keys_key_digest", "api_keys.key_digest", "api_keys.key_digest"),
    ("environments_client_id_key", "environments.client_id", "environments.client_id"),
    ("users_email", "users.environment_id, users.email", "users.email"),
    ("users_external_id", "users.environment_id, users.external_id", "users.external_id"),
    (
        "organization_memberships_user_organization",
        "organization_memberships.environment_id, organization_memberships.user_id, organization_memberships.organization_id",
        "organization_memberships.user_organization",
    ),
    ("roles_slug", "roles.environment_id, roles.organization_id, roles.slug", "roles.slug"),
    ("permissions_slug", "permissions.environment_id, permissions.slug", "permissions.slug"),
    ("invitations_token", "invitations.token", "invitations.token"),
    ("directories_external_key", "directories.external_key", "directories.external_key"),
    (
        "directory_users_user_name",
        "directory_users.environment_id, directory_users.directory_id, directory_users.user_name_key",
        "directory_users.user_name",
    ),
    ("webhook_endpoints_url", "webhook_endpoints.environment_id, webhook_endpoints.endpoint_url", "webhook_endpoints.url"),
];

/// Maps a unique-constraint violation to the stable name the core matches on.
pub(crate) fn conflict_name(text: &str) -> &'static str {
    let columns = text.rsplit_once("failed: ").map_or(text, |(_, c)| c).trim();
    UNIQUE_INDEXES
        .iter()
        .find(|(pg, sqlite, _)| text == *pg || columns == *sqlite)
        .map_or("primary_key", |(_, _, name)| name)
}

pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let Some(db) = e.as_database_error()
        && db.is_unique_violation()
    {
        let text = db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned);
        return StoreError::Conflict(conflict_name(&text));
    }
    StoreError::Backend(e.to_string())
}

/// `($start, $start+1, …)` for `n` placeholders.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    let items: Vec<String> = (start..start + n).map(|i| format!("${i}")).collect();
    format!("({})", items.join(", "))
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

const ORG_COLUMNS: &str = "id, name, allow_profiles_outside_organization, metadata, external_id, stripe_customer_id, created_at, updated_at, version";
const DOMAIN_COLUMNS: &str = "id, organization_id, domain, state, verification_strategy, verification_token, verification_prefix, created_at, updated_at";

macro_rules! backend {
    ($module:ident, $store:ident, $db:ty, $row:ty, $backend:literal) => {
        pub(crate) mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use std::collections::BTreeMap;
            use vestibule_core::environments::{ApiKey, Environment, EnvironmentKind, EnvironmentStore};
            use vestibule_core::events::{Event, EventFilter, EventStore};
            use vestibule_core::idempotency::{Claim, IdempotencyStore};
            use vestibule_core::organizations::{Organization, OrganizationDomain, OrganizationFilter, OrganizationStore};
            use vestibule_core::pagination::{Page, PageRequest};
            use vestibule_core::rate_limit::RateLimitStore;
            use vestibule_core::{Store, Timestamp};

            type Conn = <$db as sqlx::Database>::Connection;
            type Pool = sqlx::Pool<$db>;

            #[async_trait]
            impl Store for $store {
                fn backend(&self) -> &'static str {
                    $backend
                }

                async fn refresh_statistics(&self) -> Result<Vec<String>, StoreError> {
                    crate::statistics::Statistics::refresh(&self.write).await
                }
            }

            pub(crate) async fn insert_events(conn: &mut Conn, events: &[Event]) -> Result<(), StoreError> {
                for e in events {
                    sqlx::query(
                        "INSERT INTO events (environment_id, id, event, data, context, organization_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&e.environment_id)
                    .bind(&e.id)
                    .bind(&e.event)
                    .bind(e.data.to_string())
                    .bind(e.context.to_string())
                    .bind(&e.organization_id)
                    .bind(e.created_at.millis())
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                    if $backend == "postgres" {
                        // Announce the change to every instance on this database when it
                        // commits (see `crate::changes`); identical payloads are sent once.
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(crate::changes::CHANNEL)
                            .bind(crate::changes::payload(&e.event, &e.environment_id))
                            .execute(&mut *conn)
                            .await
                            .map_err(map_err)?;
                    }
                    // Fan out to subscribed endpoints in the same transaction: an event
                    // that is committed is also queued for delivery.
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (environment_id, endpoint_id, event_id, event_name, state, attempts, next_attempt_at, created_at) \
                         SELECT environment_id, id, $2, $3, 'pending', 0, $4, $4 FROM webhook_endpoints \
                         WHERE environment_id = $1 AND status = 'enabled' AND (events = '[]' OR events LIKE $5 ESCAPE '\\')",
                    )
                    .bind(&e.environment_id)
                    .bind(&e.id)
                    .bind(&e.event)
                    .bind(e.created_at.millis())
                    .bind(format!("%\"{}\"%", like_escape(&e.event)))
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err)?;
                }
                Ok(())
            }

            /// Runs `sql` (a DELETE bound to environment and id) and records `events`, in one
            /// transaction; false, with nothing written, when no row matched.
            pub(crate) async fn delete_with_events(
                pool: &sqlx::Pool<$db>,
                sql: &'static str,
                env: &str,
                id: &str,
                events: &[Event],
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await.map_err(map_err)?;
                let done = sqlx::query(sql).bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(true)
            }

            fn environment(r: &$row) -> Result<Environment, sqlx::Error> {
                Ok(Environment {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: EnvironmentKind::parse(r.try_get::<&str, _>("kind")?).unwrap_or(EnvironmentKind::Test),
                    client_id: r.try_get("client_id")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            }

            fn api_key(r: &$row) -> Result<ApiKey, sqlx::Error> {
                Ok(ApiKey {
                    id: r.try_get("id")?,
                    environment_id: r.try_get("environment_id")?,
                    name: r.try_get("name")?,
                    key_digest: r.try_get("key_digest")?,
                    obfuscated: r.try_get("obfuscated")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(Timestamp),
                })
            }

            fn organization(r: &$row) -> Result<Organization, sqlx::Error> {
                let metadata: String = r.try_get("metadata")?;
                Ok(Organization {
                    object: "organization",
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    allow_profiles_outside_organization: r.try_get("allow_profiles_outside_organization")?,
                    domains: Vec::new(),
                    metadata: serde_json::from_str::<BTreeMap<String, String>>(&metadata).unwrap_or_default(),
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

            fn event(r: &$row) -> Result<Event, sqlx::Error> {
                let data: String = r.try_get("data")?;
                let context: String = r.try_get("context")?;
                Ok(Event {
                    object: "event",
                    id: r.try_get("id")?,
                    event: r.try_get("event")?,
                    data: serde_json::from_str(&data).unwrap_or_default(),
                    created_at: Timestamp(r.try_get("created_at")?),
                    context: serde_json::from_str(&context).unwrap_or_default(),
                    organization_id: r.try_get("organization_id")?,
                    environment_id: r.try_get("environment_id")?,
                })
            }

            async fn insert_domain(conn: &mut Conn, env: &str, d: &OrganizationDomain) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO organization_domains (environment_id, id, organization_id, domain, state, \
                     verification_strategy, verification_token, verification_prefix, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(env)
                .bind(&d.id)
                .bind(&d.organization_id)
                .bind(&d.domain)
                .bind(&d.state)
                .bind(&d.verification_strategy)
                .bind(&d.verification_token)
                .bind(&d.verification_prefix)
                .bind(d.created_at.millis())
                .bind(d.updated_at.millis())
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
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
            impl EnvironmentStore for $store {
                async fn insert_environment(&self, env: &Environment) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO environments (id, name, kind, client_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&env.id)
                        .bind(&env.name)
                        .bind(env.kind.as_str())
                        .bind(&env.client_id)
                        .bind(env.created_at.millis())
                        .execute(&self.write)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn list_environments(&self) -> Result<Vec<Environment>, StoreError> {
                    let rows = sqlx::query("SELECT id, name, kind, client_id, created_at FROM environments ORDER BY id")
                        .fetch_all(&self.read)
                        .await
                        .map_err(map_err)?;
                    rows.iter().map(|r| environment(r).map_err(map_err)).collect()
                }

                async fn get_environment(&self, id: &str) -> Result<Option<Environment>, StoreError> {
                    let row = sqlx::query("SELECT id, name, kind, client_id, created_at FROM environments WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.read)
                        .await
                        .map_err(map_err)?;
                    row.as_ref().map(environment).transpose().map_err(map_err)
                }

                async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO api_keys (id, environment_id, name, key_digest, obfuscated, created_at, revoked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&key.id)
                    .bind(&key.environment_id)
                    .bind(&key.name)
                    .bind(&key.key_digest)
                    .bind(&key.obfuscated)
                    .bind(key.created_at.millis())
                    .bind(key.revoked_at.map(Timestamp::millis))
                    .execute(&self.write)
                    .await
                    .map_err(map_err)?;
                    Ok(())
                }

                async fn find_api_key(&self, digest: &str) -> Result<Option<ApiKey>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, environment_id, name, key_digest, obfuscated, created_at, revoked_at \
                         FROM api_keys WHERE key_digest = $1",
                    )
                    .bind(digest)
                    .fetch_optional(&self.read)
                    .await
                    .map_err(map_err)?;
                    row.as_ref().map(api_key).transpose().map_err(map_err)
                }

                async fn list_api_keys(&self, environment_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, environment_id, name, key_digest, obfuscated, created_at, revoked_at \
                         FROM api_keys WHERE ($1 IS NULL OR environment_id = $1) ORDER BY id",
                    )
                    .bind(environment_id)
                    .fetch_all(&self.read)
                    .await
                    .map_err(map_err)?;
                    rows.iter().map(|r| api_key(r).map_err(map_err)).collect()
                }

                async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                        .bind(id)
                        .bind(at.millis())
                        .execute(&self.write)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }
            }

            #[async_trait]
            impl OrganizationStore for $store {
                async fn insert_organization(&self, env: &str, org: &Organization, events: &[Event]) -> Result<(), StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    sqlx::query(
                        "INSERT INTO organizations (environment_id, id, name, allow_profiles_outside_organization, metadata, \
                         external_id, stripe_customer_id, created_at, updated_at, version) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(env)
                    .bind(&org.id)
                    .bind(&org.name)
                    .bind(org.allow_profiles_outside_organization)
                    .bind(serde_json::to_string(&org.metadata).unwrap_or_default())
                    .bind(&org.external_id)
                    .bind(&org.stripe_customer_id)
                    .bind(org.created_at.millis())
                    .bind(org.updated_at.millis())
                    .bind(org.version)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    for d in &org.domains {
                        insert_domain(&mut tx, env, d).await?;
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)
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
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query(
                        "UPDATE organizations SET name = $3, allow_profiles_outside_organization = $4, metadata = $5, \
                         external_id = $6, stripe_customer_id = $7, updated_at = $8, version = $9 \
                         WHERE environment_id = $1 AND id = $2 AND version = $10",
                    )
                    .bind(env)
                    .bind(&org.id)
                    .bind(&org.name)
                    .bind(org.allow_profiles_outside_organization)
                    .bind(serde_json::to_string(&org.metadata).unwrap_or_default())
                    .bind(&org.external_id)
                    .bind(&org.stripe_customer_id)
                    .bind(org.updated_at.millis())
                    .bind(org.version)
                    .bind(expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
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
                        .bind(env)
                        .bind(&d.id)
                        .bind(&d.state)
                        .bind(d.updated_at.millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                        if updated.rows_affected() == 0 {
                            insert_domain(&mut tx, env, d).await?;
                        }
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn delete_organization(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query("DELETE FROM organizations WHERE environment_id = $1 AND id = $2")
                        .bind(env)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
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
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    // Bump the parent so concurrent organization updates see the change.
                    let parent = sqlx::query(
                        "UPDATE organizations SET version = version + 1, updated_at = $3 WHERE environment_id = $1 AND id = $2",
                    )
                    .bind(env)
                    .bind(&d.organization_id)
                    .bind(d.created_at.millis())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    if parent.rows_affected() != 1 {
                        return Err(StoreError::Contended);
                    }
                    insert_domain(&mut tx, env, d).await?;
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn get_organization_domain(&self, env: &str, id: &str) -> Result<Option<OrganizationDomain>, StoreError> {
                    let sql = format!("SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(domain).transpose().map_err(map_err)
                }

                async fn update_organization_domain(&self, env: &str, d: &OrganizationDomain, events: &[Event]) -> Result<(), StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    sqlx::query("UPDATE organization_domains SET state = $3, updated_at = $4 WHERE environment_id = $1 AND id = $2")
                        .bind(env)
                        .bind(&d.id)
                        .bind(&d.state)
                        .bind(d.updated_at.millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)
                }

                async fn delete_organization_domain(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    let sql = "DELETE FROM organization_domains WHERE environment_id = $1 AND id = $2";
                    delete_with_events(&self.write, sql, env, id, events).await
                }
            }

            #[async_trait]
            impl EventStore for $store {
                async fn list_events(&self, env: &str, f: &EventFilter) -> Result<Vec<Event>, StoreError> {
                    let mut sql = String::from(
                        "SELECT environment_id, id, event, data, context, organization_id, created_at FROM events WHERE environment_id = $1",
                    );
                    let mut texts: Vec<String> = vec![env.to_owned()];
                    let mut n = 1;
                    if let Some(after) = &f.after {
                        texts.push(after.clone());
                        n += 1;
                        sql.push_str(&format!(" AND id > ${n}"));
                    }
                    if let Some(org) = &f.organization_id {
                        texts.push(org.clone());
                        n += 1;
                        sql.push_str(&format!(" AND organization_id = ${n}"));
                    }
                    if !f.events.is_empty() {
                        sql.push_str(&format!(" AND event IN {}", placeholders(n + 1, f.events.len())));
                        texts.extend(f.events.iter().cloned());
                        n += f.events.len();
                    }
                    let mut ints: Vec<i64> = Vec::new();
                    if let Some(start) = f.range_start {
                        ints.push(start.millis());
                        sql.push_str(&format!(" AND created_at >= ${}", n + ints.len()));
                    }
                    if let Some(end) = f.range_end {
                        ints.push(end.millis());
                        sql.push_str(&format!(" AND created_at <= ${}", n + ints.len()));
                    }
                    sql.push_str(&format!(" ORDER BY id ASC LIMIT {}", f.limit.clamp(1, 100)));
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for t in texts {
                        q = q.bind(t);
                    }
                    for i in ints {
                        q = q.bind(i);
                    }
                    let rows = q.fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| event(r).map_err(map_err)).collect()
                }

                async fn get_event(&self, env: &str, id: &str) -> Result<Option<Event>, StoreError> {
                    let row = sqlx::query(
                        "SELECT environment_id, id, event, data, context, organization_id, created_at FROM events WHERE environment_id = $1 AND id = $2",
                    )
                    .bind(env)
                    .bind(id)
                    .fetch_optional(&self.read)
                    .await
                    .map_err(map_err)?;
                    row.as_ref().map(event).transpose().map_err(map_err)
                }
            }

            #[async_trait]
            impl IdempotencyStore for $store {
                async fn claim_idempotency_key(
                    &self,
                    env: &str,
                    key: &str,
                    fingerprint: &str,
                    now: Timestamp,
                    expired_before: Timestamp,
                ) -> Result<Claim, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND created_at < $3")
                        .bind(env)
                        .bind(key)
                        .bind(expired_before.millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    let inserted = sqlx::query(
                        "INSERT INTO idempotency_keys (environment_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (environment_id, key) DO NOTHING",
                    )
                    .bind(env)
                    .bind(key)
                    .bind(fingerprint)
                    .bind(now.millis())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    let claim = if inserted.rows_affected() == 1 {
                        Claim::Fresh
                    } else {
                        let row = sqlx::query("SELECT fingerprint, status, body FROM idempotency_keys WHERE environment_id = $1 AND key = $2")
                            .bind(env)
                            .bind(key)
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        let stored: String = row.try_get("fingerprint").map_err(map_err)?;
                        let status: Option<i32> = row.try_get("status").map_err(map_err)?;
                        let body: Option<Vec<u8>> = row.try_get("body").map_err(map_err)?;
                        if stored != fingerprint {
                            Claim::Mismatch
                        } else {
                            match status {
                                Some(s) => Claim::Replay { status: s as u16, body: body.unwrap_or_default() },
                                None => Claim::InFlight,
                            }
                        }
                    };
                    tx.commit().await.map_err(map_err)?;
                    Ok(claim)
                }

                async fn complete_idempotency_key(&self, env: &str, key: &str, status: u16, body: &[u8]) -> Result<(), StoreError> {
                    sqlx::query("UPDATE idempotency_keys SET status = $3, body = $4 WHERE environment_id = $1 AND key = $2")
                        .bind(env)
                        .bind(key)
                        .bind(i32::from(status))
                        .bind(body.to_vec())
                        .execute(&self.write)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn release_idempotency_key(&self, env: &str, key: &str) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND status IS NULL")
                        .bind(env)
                        .bind(key)
                        .execute(&self.write)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                        .bind(before.millis())
                        .execute(&self.write)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected())
                }
            }

            #[async_trait]
            impl RateLimitStore for $store {
                async fn hit_rate_limit(&self, bucket: &str, window_start: i64) -> Result<u64, StoreError> {
                    let count: i64 = sqlx::query_scalar(
                        "INSERT INTO rate_limits (bucket, window_start, count) VALUES ($1, $2, 1) \
                         ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limits.count + 1 RETURNING count",
                    )
                    .bind(bucket)
                    .bind(window_start)
                    .fetch_one(&self.write)
                    .await
                    .map_err(map_err)?;
                    Ok(count.max(0) as u64)
                }

                async fn purge_rate_limits(&self, before: i64) -> Result<u64, StoreError> {
                    let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                        .bind(before)
                        .execute(&self.write)
                        .await
                        .map_err(map_err)?;
                    Ok(done.rows_affected())
                }
            }
        }
    };
}

backend!(sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "sqlite");
backend!(postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "postgres");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names_from_both_dialects() {
        assert_eq!(conflict_name("UNIQUE constraint failed: organization_domains.environment_id, organization_domains.domain"), "organization_domains.domain");
        assert_eq!(conflict_name("organization_domains_domain"), "organization_domains.domain");
        assert_eq!(conflict_name("organization_domains_pkey"), "primary_key");
        assert_eq!(conflict_name("UNIQUE constraint failed: users.environment_id, users.external_id"), "users.external_id");
        assert_eq!(conflict_name("users_email"), "users.email");
        assert_eq!(conflict_name("organizations_external_id"), "organizations.external_id");
        assert_eq!(conflict_name("UNIQUE constraint failed: api_keys.key_digest"), "api_keys.key_digest");
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("50%_A\\"), "50\\%\\_a\\\\");
        assert_eq!(placeholders(3, 2), "($3, $4)");
    }
}
