//! SQL for SSO: connections, redirect URIs, pending requests, the assertion replay
//! cache, profiles, codes and access tokens, login attempts. Instantiated for both backends.

use crate::common::map_err;
use vestibule_core::StoreError;

const CONNECTION_COLUMNS: &str = "id, organization_id, connection_type, name, state, external_key, saml, oidc, attribute_maps, created_at, updated_at";

macro_rules! sso {
    ($module:ident, $store:ident, $db:ty, $row:ty, $events:path) => {
        mod $module {
            use super::*;
            use crate::$store;
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::events::Event;
            use vestibule_core::sso::jwks::SigningKey;
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::sso::{Connection, ConnectionFilter, LoginAttempt, RedirectUri, SsoGrant, SsoRequest, SsoStore};
            use vestibule_core::Timestamp;
            use $events as ev;
            use ev::write_with_events;

            fn connection(r: &$row) -> Result<Connection, sqlx::Error> {
                let saml: Option<String> = r.try_get("saml")?;
                let oidc: Option<String> = r.try_get("oidc")?;
                let maps: String = r.try_get("attribute_maps")?;
                Ok(Connection {
                    id: r.try_get("id")?,
                    organization_id: r.try_get("organization_id")?,
                    connection_type: r.try_get("connection_type")?,
                    name: r.try_get("name")?,
                    state: r.try_get("state")?,
                    external_key: r.try_get("external_key")?,
                    saml: saml.and_then(|s| serde_json::from_str(&s).ok()),
                    oidc: oidc.and_then(|s| serde_json::from_str(&s).ok()),
                    attribute_maps: crate::common::json("maps", &maps)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            fn grant(r: &$row) -> Result<(String, SsoGrant), sqlx::Error> {
                let kind: String = r.try_get("kind")?;
                let data: String = r.try_get("data")?;
                Ok((
                    r.try_get("environment_id")?,
                    SsoGrant {
                        kind: match kind.as_str() {
                            "code" => "code",
                            "logout" => "logout",
                            _ => "access_token",
                        },
                        profile_id: r.try_get("profile_id")?,
                        data: crate::common::json("data", &data)?,
                        expires_at: Timestamp(r.try_get("expires_at")?),
                    },
                ))
            }

            #[async_trait]
            impl SsoStore for $store {
                async fn reseal_sso_secrets(&self) -> Result<u64, StoreError> {
                    use vestibule_core::kernel::sealing::SEALED_PREFIX;
                    if !self.sealer.is_keyed() {
                        return Ok(0);
                    }
                    let mut sealed = 0;
                    // Only rows that hold a secret not yet sealed (the columns are compact JSON
                    // written by this store); each is checked again below before it is rewritten.
                    let sql = format!(
                        "SELECT environment_id, {CONNECTION_COLUMNS} FROM connections \
                         WHERE (saml LIKE '%\"sp_encryption_key\":\"%' AND saml NOT LIKE '%\"sp_encryption_key\":\"sealed:v1:%') \
                         OR (oidc LIKE '%\"client_secret\":\"%' AND oidc NOT LIKE '%\"client_secret\":\"sealed:v1:%')"
                    );
                    for r in sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.write).await.map_err(map_err)? {
                        let env: String = r.try_get("environment_id").map_err(map_err)?;
                        let (old_saml, old_oidc): (Option<String>, Option<String>) = (r.try_get("saml").map_err(map_err)?, r.try_get("oidc").map_err(map_err)?);
                        let c = connection(&r).map_err(map_err)?;
                        let plain = |v: Option<&String>| v.is_some_and(|v| !v.starts_with(SEALED_PREFIX));
                        if !plain(c.saml.as_ref().and_then(|s| s.sp_encryption_key.as_ref())) && !plain(c.oidc.as_ref().and_then(|o| o.client_secret.as_ref())) {
                            continue;
                        }
                        let c = crate::sealed::opened_connection(&self.sealer, c)?;
                        let (saml, oidc) = crate::sealed::connection_columns(&self.sealer, &c);
                        // Only if unchanged since it was read: never overwrite a newer write.
                        sealed += sqlx::query(
                            "UPDATE connections SET saml = $3, oidc = $4 WHERE environment_id = $1 AND id = $2 \
                             AND saml IS NOT DISTINCT FROM $5 AND oidc IS NOT DISTINCT FROM $6",
                        )
                        .bind(&env).bind(&c.id).bind(saml).bind(oidc).bind(old_saml).bind(old_oidc)
                        .execute(&self.write).await.map_err(map_err)?
                        .rows_affected();
                    }
                    let keys = sqlx::query("SELECT environment_id, id, private_key FROM signing_keys WHERE private_key NOT LIKE 'sealed:v1:%'")
                        .fetch_all(&self.write).await.map_err(map_err)?;
                    for r in &keys {
                        let (env, id, key): (String, String, String) =
                            (r.try_get("environment_id").map_err(map_err)?, r.try_get("id").map_err(map_err)?, r.try_get("private_key").map_err(map_err)?);
                        sealed += sqlx::query("UPDATE signing_keys SET private_key = $3 WHERE environment_id = $1 AND id = $2 AND private_key = $4")
                            .bind(&env).bind(&id).bind(self.sealer.seal(&crate::sealed::signing_key(&env, &id), &key))
                            .bind(&key).execute(&self.write).await.map_err(map_err)?
                            .rows_affected();
                    }
                    Ok(sealed)
                }

                async fn insert_connection(&self, env: &str, c: &Connection, events: &[Event]) -> Result<(), StoreError> {
                    let (saml, oidc) = crate::sealed::connection_columns(&self.sealer, c);
                    write_with_events(&self.write, events, async |tx| {
                        let sql = format!("INSERT INTO connections (environment_id, {CONNECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
                        sqlx::query(AssertSqlSafe(sql))
                            .bind(env).bind(&c.id).bind(&c.organization_id).bind(&c.connection_type).bind(&c.name)
                            .bind(&c.state).bind(&c.external_key).bind(saml).bind(oidc)
                            .bind(serde_json::to_string(&c.attribute_maps).unwrap_or_default())
                            .bind(c.created_at.millis()).bind(c.updated_at.millis()).execute(&mut *tx).await
                            .map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn get_connection(&self, env: &str, id: &str) -> Result<Option<Connection>, StoreError> {
                    let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    let c = row.as_ref().map(connection).transpose().map_err(map_err)?;
                    c.map(|c| crate::sealed::opened_connection(&self.sealer, c)).transpose()
                }

                async fn find_connection_by_key(&self, key: &str) -> Result<Option<(String, Connection)>, StoreError> {
                    let sql = format!("SELECT environment_id, {CONNECTION_COLUMNS} FROM connections WHERE external_key = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(key).fetch_optional(&self.read).await.map_err(map_err)?;
                    match row {
                        Some(r) => {
                            let env: String = r.try_get("environment_id").map_err(map_err)?;
                            Ok(Some((env, crate::sealed::opened_connection(&self.sealer, connection(&r).map_err(map_err)?)?)))
                        }
                        None => Ok(None),
                    }
                }

                async fn update_connection(&self, env: &str, c: &Connection, events: &[Event]) -> Result<(), StoreError> {
                    let (saml, oidc) = crate::sealed::connection_columns(&self.sealer, c);
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query(
                            "UPDATE connections SET name = $3, state = $4, saml = $5, oidc = $6, attribute_maps = $7, updated_at = $8 \
                             WHERE environment_id = $1 AND id = $2",
                        )
                        .bind(env).bind(&c.id).bind(&c.name).bind(&c.state).bind(saml).bind(oidc)
                        .bind(serde_json::to_string(&c.attribute_maps).unwrap_or_default())
                        .bind(c.updated_at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn delete_connection(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    ev::delete_with_events(&self.write, "DELETE FROM connections WHERE environment_id = $1 AND id = $2", env, id, events).await
                }

                async fn list_connections(&self, env: &str, f: &ConnectionFilter, page: &PageRequest) -> Result<Page<Connection>, StoreError> {
                    let mut args: Vec<String> = vec![env.to_owned()];
                    let mut sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE environment_id = $1");
                    if let Some(org) = &f.organization_id {
                        args.push(org.clone());
                        sql.push_str(&format!(" AND organization_id = ${}", args.len()));
                    }
                    if let Some(t) = &f.connection_type {
                        args.push(t.clone());
                        sql.push_str(&format!(" AND connection_type = ${}", args.len()));
                    }
                    if let Some(orgs) = &f.organization_ids {
                        if orgs.is_empty() {
                            return Ok(Page { data: Vec::new(), before: None, after: None });
                        }
                        sql.push_str(&format!(" AND organization_id IN {}", crate::common::placeholders(args.len() + 1, orgs.len())));
                        args.extend(orgs.iter().cloned());
                    }
                    let found = ev::page_query(&self.read, sql, "id", args, page, connection).await?;
                    let data = found.data.into_iter().map(|c| crate::sealed::opened_connection(&self.sealer, c)).collect::<Result<Vec<_>, _>>()?;
                    Ok(Page { data, ..found })
                }

                async fn insert_redirect_uri(&self, env: &str, r: &RedirectUri) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO redirect_uris (environment_id, id, uri, is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(env).bind(&r.id).bind(&r.uri).bind(r.default).bind(r.created_at.millis())
                    .bind(r.updated_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn delete_redirect_uri(&self, env: &str, id: &str) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query("DELETE FROM redirect_uris WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    sqlx::query(
                        "UPDATE redirect_uris SET is_default = TRUE WHERE environment_id = $1 \
                         AND id = (SELECT MIN(id) FROM redirect_uris WHERE environment_id = $1) \
                         AND NOT EXISTS (SELECT 1 FROM redirect_uris WHERE environment_id = $1 AND is_default)",
                    )
                    .bind(env).execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn list_redirect_uris(&self, env: &str) -> Result<Vec<RedirectUri>, StoreError> {
                    let rows = sqlx::query("SELECT id, uri, is_default, created_at, updated_at FROM redirect_uris WHERE environment_id = $1 ORDER BY id")
                        .bind(env).fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter()
                        .map(|r| {
                            Ok(RedirectUri {
                                object: "redirect_uri",
                                id: r.try_get("id")?,
                                uri: r.try_get("uri")?,
                                default: r.try_get("is_default")?,
                                created_at: Timestamp(r.try_get("created_at")?),
                                updated_at: Timestamp(r.try_get("updated_at")?),
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(map_err)
                }

                async fn insert_sso_request(&self, env: &str, r: &SsoRequest) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO sso_requests (environment_id, id, connection_id, redirect_uri, state, data, expires_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(env).bind(&r.id).bind(&r.connection_id).bind(&r.redirect_uri).bind(&r.state)
                    .bind(r.data.to_string()).bind(r.expires_at.millis()).bind(r.created_at.millis())
                    .execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn get_sso_request(&self, env: &str, id: &str, now: Timestamp) -> Result<Option<SsoRequest>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, connection_id, redirect_uri, state, data, expires_at, created_at FROM sso_requests \
                         WHERE environment_id = $1 AND id = $2 AND expires_at > $3",
                    )
                    .bind(env).bind(id).bind(now.millis()).fetch_optional(&self.write).await.map_err(map_err)?;
                    let Some(r) = row else { return Ok(None) };
                    let data: String = r.try_get("data").map_err(map_err)?;
                    Ok(Some(SsoRequest {
                        id: r.try_get("id").map_err(map_err)?,
                        connection_id: r.try_get("connection_id").map_err(map_err)?,
                        redirect_uri: r.try_get("redirect_uri").map_err(map_err)?,
                        state: r.try_get("state").map_err(map_err)?,
                        data: crate::common::json("data", &data).map_err(map_err)?,
                        expires_at: Timestamp(r.try_get("expires_at").map_err(map_err)?),
                        created_at: Timestamp(r.try_get("created_at").map_err(map_err)?),
                    }))
                }

                async fn consume_sso_request(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM sso_requests WHERE environment_id = $1 AND id = $2 AND expires_at > $3")
                        .bind(env).bind(id).bind(now.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn remember_assertion(&self, env: &str, connection_id: &str, assertion_id: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "INSERT INTO saml_assertions_seen (environment_id, connection_id, assertion_id, expires_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (environment_id, connection_id, assertion_id) DO NOTHING",
                    )
                    .bind(env).bind(connection_id).bind(assertion_id).bind(expires_at.millis()).execute(&self.write)
                    .await.map_err(map_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn upsert_profile(&self, env: &str, connection_id: &str, idp_id: &str, new_id: &str, data: &serde_json::Value, now: Timestamp) -> Result<String, StoreError> {
                    let id: String = sqlx::query_scalar(
                        "INSERT INTO sso_profiles (environment_id, id, connection_id, idp_id, data, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (environment_id, connection_id, idp_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at \
                         RETURNING id",
                    )
                    .bind(env).bind(new_id).bind(connection_id).bind(idp_id).bind(data.to_string()).bind(now.millis())
                    .fetch_one(&self.write).await.map_err(map_err)?;
                    Ok(id)
                }

                async fn get_profile(&self, env: &str, id: &str) -> Result<Option<serde_json::Value>, StoreError> {
                    let data: Option<String> = sqlx::query_scalar("SELECT data FROM sso_profiles WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    Ok(data.and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()).map(|mut v| {
                        v["id"] = serde_json::Value::String(id.to_owned());
                        v
                    }))
                }

                async fn insert_sso_grant(&self, env: &str, digest: &str, g: &SsoGrant) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO sso_grants (digest, environment_id, kind, profile_id, data, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(digest).bind(env).bind(g.kind).bind(&g.profile_id).bind(g.data.to_string())
                        .bind(g.expires_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn take_sso_grant(&self, digest: &str, kind: &str, now: Timestamp) -> Result<Option<(String, SsoGrant)>, StoreError> {
                    let row = sqlx::query(
                        "DELETE FROM sso_grants WHERE digest = $1 AND kind = $2 AND expires_at > $3 \
                         RETURNING environment_id, kind, profile_id, data, expires_at",
                    )
                    .bind(digest).bind(kind).bind(now.millis()).fetch_optional(&self.write).await.map_err(map_err)?;
                    row.as_ref().map(grant).transpose().map_err(map_err)
                }

                async fn get_sso_grant(&self, digest: &str, kind: &str, now: Timestamp) -> Result<Option<(String, SsoGrant)>, StoreError> {
                    let row = sqlx::query(
                        "SELECT environment_id, kind, profile_id, data, expires_at FROM sso_grants WHERE digest = $1 AND kind = $2 AND expires_at > $3",
                    )
                    .bind(digest).bind(kind).bind(now.millis()).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(grant).transpose().map_err(map_err)
                }

                async fn insert_login_attempt(&self, env: &str, a: &LoginAttempt) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO sso_login_attempts (environment_id, id, connection_id, outcome, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(env).bind(&a.id).bind(&a.connection_id).bind(&a.outcome).bind(&a.reason)
                    .bind(a.created_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn list_login_attempts(&self, env: &str, connection_id: &str, page: &PageRequest) -> Result<Page<LoginAttempt>, StoreError> {
                    let q = page.keyset();
                    let mut sql = "SELECT id, connection_id, outcome, reason, created_at FROM sso_login_attempts WHERE environment_id = $1 AND connection_id = $2".to_owned();
                    if let Some((op, _)) = &q.bound {
                        sql.push_str(&format!(" AND id {op} $3"));
                    }
                    let dir = if q.scan_ascending { "ASC" } else { "DESC" };
                    sql.push_str(&format!(" ORDER BY id {dir} LIMIT {}", q.fetch));
                    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(connection_id);
                    if let Some((_, id)) = &q.bound {
                        query = query.bind(id.clone());
                    }
                    let rows = query.fetch_all(&self.read).await.map_err(map_err)?;
                    let items = rows
                        .iter()
                        .map(|r| {
                            Ok(LoginAttempt {
                                object: "login_attempt",
                                id: r.try_get("id")?,
                                connection_id: r.try_get("connection_id")?,
                                outcome: r.try_get("outcome")?,
                                reason: r.try_get("reason")?,
                                created_at: Timestamp(r.try_get("created_at")?),
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(map_err)?;
                    Ok(page.page(&q, items))
                }

                async fn get_signing_key(&self, env: &str) -> Result<Option<SigningKey>, StoreError> {
                    let row = sqlx::query("SELECT id, private_key, certificate, created_at FROM signing_keys WHERE environment_id = $1")
                        .bind(env).fetch_optional(&self.read).await.map_err(map_err)?;
                    let Some(r) = row else { return Ok(None) };
                    let id: String = r.try_get("id").map_err(map_err)?;
                    let private_key: String = r.try_get("private_key").map_err(map_err)?;
                    let private_key = crate::sealed::open(&self.sealer, &crate::sealed::signing_key(env, &id), &private_key)?;
                    let certificate: String = r.try_get("certificate").map_err(map_err)?;
                    let key = SigningKey::from_stored(id, &private_key, &certificate, Timestamp(r.try_get("created_at").map_err(map_err)?));
                    key.map(Some).ok_or_else(|| StoreError::Backend("signing_keys.private_key is unreadable".into()))
                }

                async fn insert_signing_key(&self, env: &str, key: &SigningKey) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO signing_keys (environment_id, id, private_key, certificate, created_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (environment_id) DO NOTHING",
                    )
                    .bind(env).bind(&key.id)
                    .bind(self.sealer.seal(&crate::sealed::signing_key(env, &key.id), &key.stored_parts().0))
                    .bind(key.stored_parts().1).bind(key.created_at.millis()).execute(&self.write).await
                    .map_err(map_err)?;
                    Ok(())
                }

                async fn rotate_signing_key(&self, env: &str, fresh: &SigningKey, now: Timestamp) -> Result<(), StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    sqlx::query(
                        "INSERT INTO retired_signing_keys (environment_id, id, certificate, created_at, retired_at) \
                         SELECT environment_id, id, certificate, created_at, $2 FROM signing_keys WHERE environment_id = $1",
                    )
                    .bind(env).bind(now.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    sqlx::query("DELETE FROM signing_keys WHERE environment_id = $1").bind(env).execute(&mut *tx).await.map_err(map_err)?;
                    sqlx::query("INSERT INTO signing_keys (environment_id, id, private_key, certificate, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(env).bind(&fresh.id)
                        .bind(self.sealer.seal(&crate::sealed::signing_key(env, &fresh.id), &fresh.stored_parts().0))
                        .bind(fresh.stored_parts().1).bind(fresh.created_at.millis()).execute(&mut *tx).await
                        .map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(())
                }

                async fn retired_signing_keys(&self, env: &str, since: Timestamp) -> Result<Vec<(String, String)>, StoreError> {
                    let rows = sqlx::query("SELECT id, certificate FROM retired_signing_keys WHERE environment_id = $1 AND retired_at > $2 ORDER BY retired_at DESC")
                        .bind(env).bind(since.millis()).fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| Ok((r.try_get("id").map_err(map_err)?, r.try_get("certificate").map_err(map_err)?))).collect()
                }

                async fn purge_sso(&self, now: Timestamp) -> Result<u64, StoreError> {
                    let mut total = 0;
                    for sql in [
                        "DELETE FROM sso_requests WHERE expires_at <= $1",
                        "DELETE FROM sso_grants WHERE expires_at <= $1",
                        "DELETE FROM saml_assertions_seen WHERE expires_at <= $1",
                    ] {
                        total += sqlx::query(sql).bind(now.millis()).execute(&self.write).await.map_err(map_err)?.rows_affected();
                    }
                    let retired_before = now.plus_millis(-vestibule_core::sso::jwks::RETIRED_KEY_PUBLISHED_MS);
                    total += sqlx::query("DELETE FROM retired_signing_keys WHERE retired_at <= $1")
                        .bind(retired_before.millis()).execute(&self.write).await.map_err(map_err)?.rows_affected();
                    Ok(total)
                }
            }
        }
    };
}

sso!(sqlite_sso, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, crate::common::sqlite_backend);
sso!(postgres_sso, PgStore, sqlx::Postgres, sqlx::postgres::PgRow, crate::common::postgres_backend);
