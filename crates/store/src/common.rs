//! What every area's SQL shares: conflict names, error mapping, placeholders and `LIKE`
//! escaping, and (instantiated for SQLite and PostgreSQL by [`backend!`]) the one way an
//! event is written: in the caller's transaction, announced and fanned out to webhooks.

use vestibule_core::StoreError;

/// Unique indexes by their PostgreSQL name and their SQLite column list, with the
/// stable name the core matches on.
const UNIQUE_INDEXES: &[(&str, &str, &str)] = &[
    (
        "organizations_external_id",
        "organizations.environment_id, organizations.external_id",
        "organizations.external_id",
    ),
    (
        "organization_domains_domain",
        "organization_domains.environment_id, organization_domains.domain",
        "organization_domains.domain",
    ),
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
    (
        "webhook_endpoints_url",
        "webhook_endpoints.environment_id, webhook_endpoints.endpoint_url",
        "webhook_endpoints.url",
    ),
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
    StoreError::Backend(Box::new(e))
}

/// Decodes the JSON text stored in `column`. A value that does not decode is a decode
/// error of that column (a [`StoreError`] for the caller), never a silent default.
pub(crate) fn json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::ColumnDecode { index: column.to_owned(), source: Box::new(e) })
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

macro_rules! backend {
    ($module:ident, $store:ident, $db:ty, $row:ty, $backend:literal) => {
        pub(crate) mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::AssertSqlSafe;
            use vestibule_core::events::Event;
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::Store;

            type Conn = <$db as sqlx::Database>::Connection;

            #[async_trait]
            impl Store for $store {
                fn backend(&self) -> &'static str {
                    $backend
                }

                fn is_shared(&self) -> bool {
                    $backend == "postgres"
                }

                async fn subscribe_changes(&self) -> Result<Option<Box<dyn vestibule_core::store::ChangeStream>>, StoreError> {
                    self.subscribe_feed().await
                }

                async fn refresh_statistics(&self) -> Result<Vec<String>, StoreError> {
                    crate::statistics::Statistics::refresh(&self.write).await
                }

                async fn checkpoint(&self) -> Result<(), StoreError> {
                    if $backend == "sqlite" {
                        sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.write).await.map_err(map_err)?;
                    }
                    Ok(())
                }

                async fn backup_to(&self, path: &str) -> Result<(), StoreError> {
                    if $backend != "sqlite" {
                        return Err(StoreError::Backend(
                            "PostgreSQL is backed up with pg_dump (or a base backup); see README".into(),
                        ));
                    }
                    sqlx::query("VACUUM INTO $1").bind(path).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn holds_sealed_secrets(&self) -> Result<bool, StoreError> {
                    let sealed: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM ( \
                           SELECT 1 AS x FROM webhook_endpoints WHERE secret LIKE 'sealed:v1:%' \
                           UNION ALL SELECT 1 FROM connections WHERE saml LIKE '%sealed:v1:%' OR oidc LIKE '%sealed:v1:%' \
                           UNION ALL SELECT 1 FROM signing_keys WHERE private_key LIKE 'sealed:v1:%' \
                           UNION ALL SELECT 1 FROM auth_codes WHERE secret LIKE 'sealed:v1:%' \
                           UNION ALL SELECT 1 FROM auth_factors WHERE secret LIKE 'sealed:v1:%' \
                         ) AS sealed",
                    )
                    .fetch_one(&self.read).await.map_err(map_err)?;
                    Ok(sealed > 0)
                }
            }

            pub(crate) async fn insert_events(conn: &mut Conn, events: &[Event]) -> Result<(), StoreError> {
                for e in events {
                    sqlx::query(
                        "INSERT INTO events (environment_id, id, event, data, context, organization_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&e.environment_id).bind(&e.id).bind(&e.event).bind(e.data.to_string())
                    .bind(e.context.to_string()).bind(&e.organization_id).bind(e.created_at.millis())
                    .execute(&mut *conn).await.map_err(map_err)?;
                    if $backend == "postgres" {
                        // Announce the change to every instance on this database when it
                        // commits (see `crate::changes`); identical payloads are sent once.
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(crate::changes::CHANNEL).bind(crate::changes::payload(&e.event, &e.environment_id))
                            .execute(&mut *conn).await.map_err(map_err)?;
                    }
                    // Fan out to subscribed endpoints in the same transaction: an event
                    // that is committed is also queued for delivery.
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (environment_id, endpoint_id, event_id, event_name, state, attempts, next_attempt_at, created_at) \
                         SELECT environment_id, id, $2, $3, 'pending', 0, $4, $4 FROM webhook_endpoints \
                         WHERE environment_id = $1 AND status = 'enabled' AND (events = '[]' OR events LIKE $5 ESCAPE '\\')",
                    )
                    .bind(&e.environment_id).bind(&e.id).bind(&e.event).bind(e.created_at.millis())
                    .bind(format!("%\"{}\"%", like_escape(&e.event))).execute(&mut *conn).await.map_err(map_err)?;
                }
                Ok(())
            }

            /// Runs `write` and records `events` in one transaction, committed only when both
            /// succeed: every write commits its events by construction.
            /// Queues a message in the caller's transaction: sent only if the change commits.
            pub(crate) async fn insert_mail(
                conn: &mut Conn, m: &vestibule_core::user_management::mail::OutboxMail,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO mail_outbox (id, environment_id, recipient, subject, body, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
                )
                .bind(&m.id).bind(&m.environment_id).bind(&m.to).bind(&m.subject).bind(&m.body)
                .bind(m.created_at.millis()).execute(&mut *conn).await.map_err(map_err)?;
                Ok(())
            }

            pub(crate) async fn write_with_events<T>(
                pool: &sqlx::Pool<$db>,
                events: &[Event],
                write: impl AsyncFnOnce(&mut Conn) -> Result<T, StoreError>,
            ) -> Result<T, StoreError> {
                let mut tx = pool.begin().await.map_err(map_err)?;
                let out = write(&mut tx).await?;
                insert_events(&mut tx, events).await?;
                tx.commit().await.map_err(map_err)?;
                Ok(out)
            }

            /// The row `sql` selects when bound to an environment and an id, decoded.
            pub(crate) async fn fetch_by_id<T>(
                pool: &sqlx::Pool<$db>,
                sql: String,
                env: &str,
                id: &str,
                decode: fn(&$row) -> Result<T, sqlx::Error>,
            ) -> Result<Option<T>, StoreError> {
                let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(pool).await.map_err(map_err)?;
                row.as_ref().map(decode).transpose().map_err(map_err)
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

            /// Runs a keyset page query: `base` has its WHERE clause; `args` are its text binds.
            pub(crate) async fn page_query<T: vestibule_core::kernel::pagination::HasId>(
                pool: &sqlx::Pool<$db>,
                base: String,
                id_column: &str,
                mut args: Vec<String>,
                page: &PageRequest,
                decode: fn(&$row) -> Result<T, sqlx::Error>,
            ) -> Result<Page<T>, StoreError> {
                let q = page.keyset();
                let mut sql = base;
                if let Some((op, id)) = &q.bound {
                    args.push(id.clone());
                    sql.push_str(&format!(" AND {id_column} {op} ${}", args.len()));
                }
                let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                sql.push_str(&format!(" ORDER BY {id_column} {dir} LIMIT {}", q.fetch));
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for a in args {
                    query = query.bind(a);
                }
                let rows = query.fetch_all(pool).await.map_err(map_err)?;
                let items = rows.iter().map(decode).collect::<Result<Vec<_>, _>>().map_err(map_err)?;
                Ok(page.page(&q, items))
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
        assert_eq!(
            conflict_name("UNIQUE constraint failed: organization_domains.environment_id, organization_domains.domain"),
            "organization_domains.domain"
        );
        assert_eq!(conflict_name("organization_domains_domain"), "organization_domains.domain");
        assert_eq!(conflict_name("organization_domains_pkey"), "primary_key");
        assert_eq!(
            conflict_name("UNIQUE constraint failed: users.environment_id, users.external_id"),
            "users.external_id"
        );
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
