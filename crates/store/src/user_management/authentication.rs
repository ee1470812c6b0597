//! SQL for signing in: sessions and refresh tokens, one-time codes, MFA factors and
//! challenges, failure counters, the JWT template and CORS origins.

use crate::common::{map_err, placeholders};
use vestibule_core::StoreError;

const SESSION_COLUMNS: &str = "id, user_id, organization_id, auth_method, ip_address, user_agent, status, expires_at, ended_at, \
     created_at, updated_at";
const CODE_COLUMNS: &str =
    "id, kind, user_id, email, digest, secret, data, attempts, expires_at, consumed_at, created_at, updated_at";
const FACTOR_COLUMNS: &str = "id, user_id, factor_type, issuer, account, secret, last_step, created_at, updated_at";
const CHALLENGE_COLUMNS: &str = "id, factor_id, attempts, expires_at, consumed_at, created_at, updated_at";
const DEVICE_COLUMNS: &str =
    "id, device_digest, user_code_digest, status, user_id, interval_secs, last_poll_at, expires_at, created_at";

/// Context of a one-time code's sealed copy.
fn code_secret(env: &str, id: &str) -> String {
    format!("auth_codes.secret/{env}/{id}")
}

/// Context of a TOTP factor's sealed secret.
fn factor_secret(env: &str, id: &str) -> String {
    format!("auth_factors.secret/{env}/{id}")
}

macro_rules! authentication {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty) => {
        mod $module {
            use super::*;
            use crate::$store;
            use crate::common::$base::{insert_events, insert_mail, page_query, write_with_events};
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use vestibule_core::events::Event;
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::user_management::auth_store::{
                AuthCode, AuthStore, Challenge, CorsOrigin, DeviceAuthorization, Factor, Rotation, Session,
            };
            use vestibule_core::user_management::mail::OutboxMail;
            use vestibule_core::Timestamp;

            fn ts(r: &$row, col: &str) -> Result<Option<Timestamp>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(col)?.map(Timestamp))
            }

            fn session(r: &$row) -> Result<Session, sqlx::Error> {
                Ok(Session {
                    object: "session",
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    organization_id: r.try_get("organization_id")?,
                    auth_method: r.try_get("auth_method")?,
                    ip_address: r.try_get("ip_address")?,
                    user_agent: r.try_get("user_agent")?,
                    status: r.try_get("status")?,
                    expires_at: Timestamp(r.try_get("expires_at")?),
                    ended_at: ts(r, "ended_at")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            fn kind(s: &str) -> &'static str {
                match s {
                    "magic_auth" => "magic_auth",
                    "email_verification" => "email_verification",
                    "password_reset" => "password_reset",
                    "email_change" => "email_change",
                    _ => "pending_authentication",
                }
            }

            impl $store {
                fn code(&self, env: &str, r: &$row) -> Result<AuthCode, StoreError> {
                    let get = || -> Result<AuthCode, sqlx::Error> {
                        let kind_text: String = r.try_get("kind")?;
                        let data: String = r.try_get("data")?;
                        Ok(AuthCode {
                            id: r.try_get("id")?,
                            kind: kind(&kind_text),
                            user_id: r.try_get("user_id")?,
                            email: r.try_get("email")?,
                            digest: r.try_get("digest")?,
                            secret: r.try_get("secret")?,
                            data: crate::common::json("data", &data)?,
                            attempts: r.try_get("attempts")?,
                            expires_at: Timestamp(r.try_get("expires_at")?),
                            consumed_at: ts(r, "consumed_at")?,
                            created_at: Timestamp(r.try_get("created_at")?),
                            updated_at: Timestamp(r.try_get("updated_at")?),
                        })
                    };
                    let mut c = get().map_err(map_err)?;
                    c.secret = crate::sealed::open(&self.sealer, &code_secret(env, &c.id), &c.secret)?;
                    Ok(c)
                }

                fn factor(&self, env: &str, r: &$row) -> Result<Factor, StoreError> {
                    let get = || -> Result<Factor, sqlx::Error> {
                        Ok(Factor {
                            id: r.try_get("id")?,
                            user_id: r.try_get("user_id")?,
                            factor_type: r.try_get("factor_type")?,
                            issuer: r.try_get("issuer")?,
                            account: r.try_get("account")?,
                            secret: r.try_get("secret")?,
                            last_step: r.try_get("last_step")?,
                            created_at: Timestamp(r.try_get("created_at")?),
                            updated_at: Timestamp(r.try_get("updated_at")?),
                        })
                    };
                    let mut f = get().map_err(map_err)?;
                    f.secret = crate::sealed::open(&self.sealer, &factor_secret(env, &f.id), &f.secret)?;
                    Ok(f)
                }
            }

            fn challenge(r: &$row) -> Result<Challenge, sqlx::Error> {
                Ok(Challenge {
                    id: r.try_get("id")?,
                    factor_id: r.try_get("factor_id")?,
                    attempts: r.try_get("attempts")?,
                    expires_at: Timestamp(r.try_get("expires_at")?),
                    consumed_at: ts(r, "consumed_at")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            fn device(r: &$row) -> Result<DeviceAuthorization, sqlx::Error> {
                Ok(DeviceAuthorization {
                    id: r.try_get("id")?,
                    device_digest: r.try_get("device_digest")?,
                    user_code_digest: r.try_get("user_code_digest")?,
                    status: r.try_get("status")?,
                    user_id: r.try_get("user_id")?,
                    interval_secs: r.try_get("interval_secs")?,
                    last_poll_at: Timestamp(r.try_get("last_poll_at")?),
                    expires_at: Timestamp(r.try_get("expires_at")?),
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            }

            fn cors_origin(r: &$row) -> Result<CorsOrigin, sqlx::Error> {
                Ok(CorsOrigin {
                    object: "cors_origin",
                    id: r.try_get("id")?,
                    origin: r.try_get("origin")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            #[async_trait]
            impl AuthStore for $store {
                async fn insert_session(&self, env: &str, s: &Session, refresh_digest: &str, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        let sql = format!("INSERT INTO user_sessions (environment_id, {SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
                        sqlx::query(AssertSqlSafe(sql))
                            .bind(env).bind(&s.id).bind(&s.user_id).bind(&s.organization_id).bind(&s.auth_method)
                            .bind(&s.ip_address).bind(&s.user_agent).bind(&s.status).bind(s.expires_at.millis())
                            .bind(s.ended_at.map(|t| t.millis())).bind(s.created_at.millis()).bind(s.updated_at.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                        sqlx::query("INSERT INTO refresh_tokens (digest, environment_id, session_id, organization_id, used_at, created_at) VALUES ($1, $2, $3, $4, NULL, $5)")
                            .bind(refresh_digest).bind(env).bind(&s.id).bind(&s.organization_id).bind(s.created_at.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                        sqlx::query("UPDATE users SET last_sign_in_at = $3 WHERE environment_id = $1 AND id = $2")
                            .bind(env).bind(&s.user_id).bind(s.created_at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn get_session(&self, env: &str, id: &str) -> Result<Option<Session>, StoreError> {
                    let sql = format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(session).transpose().map_err(map_err)
                }

                async fn find_session(&self, id: &str) -> Result<Option<(String, Session)>, StoreError> {
                    let sql = format!("SELECT environment_id, {SESSION_COLUMNS} FROM user_sessions WHERE id = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&self.read).await.map_err(map_err)?;
                    let Some(r) = row else { return Ok(None) };
                    Ok(Some((r.try_get("environment_id").map_err(map_err)?, session(&r).map_err(map_err)?)))
                }

                async fn list_sessions(&self, env: &str, user_id: &str, page: &PageRequest) -> Result<Page<Session>, StoreError> {
                    let sql = format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE environment_id = $1 AND user_id = $2");
                    page_query(&self.read, sql, "id", vec![env.to_owned(), user_id.to_owned()], page, session).await
                }

                async fn revoke_session(&self, env: &str, id: &str, at: Timestamp, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query("UPDATE user_sessions SET status = 'revoked', ended_at = $3, updated_at = $3 WHERE environment_id = $1 AND id = $2 AND status = 'active'")
                        .bind(env).bind(id).bind(at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    sqlx::query("DELETE FROM refresh_tokens WHERE environment_id = $1 AND session_id = $2")
                        .bind(env).bind(id).execute(&mut *tx).await.map_err(map_err)?;
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn peek_refresh_token(&self, env: &str, digest: &str, now: Timestamp) -> Result<Option<Session>, StoreError> {
                    let sql = format!(
                        "SELECT {} FROM refresh_tokens t JOIN user_sessions s \
                         ON s.environment_id = t.environment_id AND s.id = t.session_id \
                         WHERE t.digest = $1 AND t.environment_id = $2 AND t.used_at IS NULL AND s.status = 'active' AND s.expires_at > $3",
                        SESSION_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ")
                    );
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(digest).bind(env).bind(now.millis()).fetch_optional(&self.write).await.map_err(map_err)?;
                    row.as_ref().map(session).transpose().map_err(map_err)
                }

                async fn rotate_refresh_token(
                    &self, env: &str, digest: &str, next_digest: &str, organization: Option<Option<&str>>, now: Timestamp,
                ) -> Result<Rotation, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    // Spending the token is the statement that decides: of two concurrent
                    // refreshes with the same token, one updates the row and the other none.
                    let spent: Option<String> = sqlx::query_scalar(
                        "UPDATE refresh_tokens SET used_at = $3 WHERE digest = $1 AND environment_id = $2 AND used_at IS NULL RETURNING session_id",
                    )
                    .bind(digest).bind(env).bind(now.millis()).fetch_optional(&mut *tx).await.map_err(map_err)?;
                    let Some(session_id) = spent else { return Ok(Rotation::Refused) };
                    let sql = format!("SELECT {SESSION_COLUMNS} FROM user_sessions WHERE environment_id = $1 AND id = $2 AND status = 'active' AND expires_at > $3");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(&session_id).bind(now.millis())
                        .fetch_optional(&mut *tx).await.map_err(map_err)?;
                    let Some(row) = row else { return Ok(Rotation::Refused) };
                    let mut s = session(&row).map_err(map_err)?;
                    if let Some(org) = organization {
                        s.organization_id = org.map(str::to_owned);
                        s.updated_at = now;
                        sqlx::query("UPDATE user_sessions SET organization_id = $3, updated_at = $4 WHERE environment_id = $1 AND id = $2")
                            .bind(env).bind(&session_id).bind(&s.organization_id).bind(now.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                    }
                    sqlx::query("INSERT INTO refresh_tokens (digest, environment_id, session_id, organization_id, used_at, created_at) VALUES ($1, $2, $3, $4, NULL, $5)")
                        .bind(next_digest).bind(env).bind(&session_id).bind(&s.organization_id).bind(now.millis())
                        .execute(&mut *tx).await.map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(Rotation::Rotated(Box::new(s)))
                }

                async fn insert_code(&self, env: &str, c: &AuthCode, mail: Option<&OutboxMail>, events: &[Event]) -> Result<(), StoreError> {
                    let sealed = self.sealer.seal(&code_secret(env, &c.id), &c.secret);
                    write_with_events(&self.write, events, async |tx| {
                        let sql = format!("INSERT INTO auth_codes (environment_id, {CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
                        sqlx::query(AssertSqlSafe(sql))
                            .bind(env).bind(&c.id).bind(c.kind).bind(&c.user_id).bind(&c.email).bind(&c.digest).bind(&sealed)
                            .bind(c.data.to_string()).bind(c.attempts).bind(c.expires_at.millis())
                            .bind(c.consumed_at.map(|t| t.millis())).bind(c.created_at.millis()).bind(c.updated_at.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                        if let Some(m) = mail {
                            insert_mail(tx, m).await?;
                        }
                        Ok(())
                    })
                    .await
                }

                async fn get_code(&self, env: &str, kind: &str, id: &str) -> Result<Option<AuthCode>, StoreError> {
                    let sql = format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE environment_id = $1 AND id = $2 AND kind = $3");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).bind(kind).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(|r| self.code(env, r)).transpose()
                }

                async fn find_code(&self, kind: &str, digest: &str) -> Result<Option<(String, AuthCode)>, StoreError> {
                    let sql = format!("SELECT environment_id, {CODE_COLUMNS} FROM auth_codes WHERE digest = $1 AND kind = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(digest).bind(kind).fetch_optional(&self.write).await.map_err(map_err)?;
                    let Some(r) = row else { return Ok(None) };
                    let env: String = r.try_get("environment_id").map_err(map_err)?;
                    let c = self.code(&env, &r)?;
                    Ok(Some((env, c)))
                }

                async fn latest_code(&self, env: &str, kind: &str, email: Option<&str>, user_id: Option<&str>) -> Result<Option<AuthCode>, StoreError> {
                    let (column, value) = match (email, user_id) {
                        (Some(e), _) => ("email", e),
                        (None, Some(u)) => ("user_id", u),
                        (None, None) => return Ok(None),
                    };
                    let sql = format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE environment_id = $1 AND kind = $2 AND {column} = $3 ORDER BY id DESC LIMIT 1");
                    // Read from the writer: a code is checked right after it was sent.
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(kind).bind(value).fetch_optional(&self.write).await.map_err(map_err)?;
                    row.as_ref().map(|r| self.code(env, r)).transpose()
                }

                async fn count_code_attempt(&self, env: &str, id: &str) -> Result<i64, StoreError> {
                    let n: Option<i64> = sqlx::query_scalar("UPDATE auth_codes SET attempts = attempts + 1 WHERE environment_id = $1 AND id = $2 RETURNING attempts")
                        .bind(env).bind(id).fetch_optional(&self.write).await.map_err(map_err)?;
                    Ok(n.unwrap_or(i64::MAX))
                }

                async fn consume_code(&self, env: &str, id: &str, now: Timestamp, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query("UPDATE auth_codes SET consumed_at = $3, updated_at = $3 WHERE environment_id = $1 AND id = $2 AND consumed_at IS NULL AND expires_at > $3")
                        .bind(env).bind(id).bind(now.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn insert_factor(&self, env: &str, f: &Factor) -> Result<(), StoreError> {
                    let sql = format!("INSERT INTO auth_factors (environment_id, {FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(&f.id).bind(&f.user_id).bind(&f.factor_type).bind(&f.issuer).bind(&f.account)
                        .bind(self.sealer.seal(&factor_secret(env, &f.id), &f.secret)).bind(f.last_step)
                        .bind(f.created_at.millis()).bind(f.updated_at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn get_factor(&self, env: &str, id: &str) -> Result<Option<Factor>, StoreError> {
                    let sql = format!("SELECT {FACTOR_COLUMNS} FROM auth_factors WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.write).await.map_err(map_err)?;
                    row.as_ref().map(|r| self.factor(env, r)).transpose()
                }

                async fn list_factors(&self, env: &str, user_id: &str) -> Result<Vec<Factor>, StoreError> {
                    let sql = format!("SELECT {FACTOR_COLUMNS} FROM auth_factors WHERE environment_id = $1 AND user_id = $2 ORDER BY id");
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(user_id).fetch_all(&self.write).await.map_err(map_err)?;
                    rows.iter().map(|r| self.factor(env, r)).collect()
                }

                async fn delete_factor(&self, env: &str, id: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM auth_factors WHERE environment_id = $1 AND id = $2")
                        .bind(env).bind(id).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn accept_totp_step(&self, env: &str, factor_id: &str, step: i64) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE auth_factors SET last_step = $3 WHERE environment_id = $1 AND id = $2 AND last_step < $3")
                        .bind(env).bind(factor_id).bind(step).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn insert_challenge(&self, env: &str, c: &Challenge) -> Result<(), StoreError> {
                    let sql = format!("INSERT INTO auth_challenges (environment_id, {CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(&c.id).bind(&c.factor_id).bind(c.attempts).bind(c.expires_at.millis())
                        .bind(c.consumed_at.map(|t| t.millis())).bind(c.created_at.millis()).bind(c.updated_at.millis())
                        .execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn get_challenge(&self, env: &str, id: &str) -> Result<Option<Challenge>, StoreError> {
                    let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM auth_challenges WHERE environment_id = $1 AND id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(id).fetch_optional(&self.write).await.map_err(map_err)?;
                    row.as_ref().map(challenge).transpose().map_err(map_err)
                }

                async fn count_challenge_attempt(&self, env: &str, id: &str) -> Result<i64, StoreError> {
                    let n: Option<i64> = sqlx::query_scalar("UPDATE auth_challenges SET attempts = attempts + 1 WHERE environment_id = $1 AND id = $2 RETURNING attempts")
                        .bind(env).bind(id).fetch_optional(&self.write).await.map_err(map_err)?;
                    Ok(n.unwrap_or(i64::MAX))
                }

                async fn consume_challenge(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE auth_challenges SET consumed_at = $3, updated_at = $3 WHERE environment_id = $1 AND id = $2 AND consumed_at IS NULL AND expires_at > $3")
                        .bind(env).bind(id).bind(now.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn count_sign_in_failure(&self, env: &str, keys: &[String], window_start: i64) -> Result<i64, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let mut highest = 0;
                    for k in keys {
                        let n: i64 = sqlx::query_scalar(
                            "INSERT INTO sign_in_failures (environment_id, key, window_start, failures) VALUES ($1, $2, $3, 1) \
                             ON CONFLICT (environment_id, key, window_start) DO UPDATE SET failures = sign_in_failures.failures + 1 \
                             RETURNING failures",
                        )
                        .bind(env).bind(k).bind(window_start).fetch_one(&mut *tx).await.map_err(map_err)?;
                        highest = highest.max(n);
                    }
                    tx.commit().await.map_err(map_err)?;
                    Ok(highest)
                }

                async fn sign_in_failures(&self, env: &str, keys: &[String], window_start: i64) -> Result<i64, StoreError> {
                    if keys.is_empty() {
                        return Ok(0);
                    }
                    let sql = format!(
                        "SELECT COALESCE(MAX(failures), 0) FROM sign_in_failures WHERE environment_id = $1 AND window_start = $2 AND key IN {}",
                        placeholders(3, keys.len())
                    );
                    let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(env).bind(window_start);
                    for k in keys {
                        q = q.bind(k.clone());
                    }
                    q.fetch_one(&self.write).await.map_err(map_err)
                }

                async fn clear_sign_in_failures(&self, env: &str, key: &str) -> Result<(), StoreError> {
                    sqlx::query("DELETE FROM sign_in_failures WHERE environment_id = $1 AND key = $2")
                        .bind(env).bind(key).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn insert_device_authorization(&self, env: &str, d: &DeviceAuthorization) -> Result<(), StoreError> {
                    let sql = format!("INSERT INTO device_authorizations (environment_id, {DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
                    sqlx::query(AssertSqlSafe(sql))
                        .bind(env).bind(&d.id).bind(&d.device_digest).bind(&d.user_code_digest).bind(&d.status).bind(&d.user_id)
                        .bind(d.interval_secs).bind(d.last_poll_at.millis()).bind(d.expires_at.millis()).bind(d.created_at.millis())
                        .execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn find_device_authorization(&self, device_digest: &str) -> Result<Option<(String, DeviceAuthorization)>, StoreError> {
                    let sql = format!("SELECT environment_id, {DEVICE_COLUMNS} FROM device_authorizations WHERE device_digest = $1");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(device_digest).fetch_optional(&self.write).await.map_err(map_err)?;
                    let Some(r) = row else { return Ok(None) };
                    Ok(Some((r.try_get("environment_id").map_err(map_err)?, device(&r).map_err(map_err)?)))
                }

                async fn pending_device_authorization(&self, env: &str, user_code_digest: &str, now: Timestamp) -> Result<Option<DeviceAuthorization>, StoreError> {
                    let sql = format!("SELECT {DEVICE_COLUMNS} FROM device_authorizations WHERE environment_id = $1 AND user_code_digest = $2 AND status = 'pending' AND expires_at > $3");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(user_code_digest).bind(now.millis()).fetch_optional(&self.write).await.map_err(map_err)?;
                    row.as_ref().map(device).transpose().map_err(map_err)
                }

                async fn set_device_status(&self, env: &str, id: &str, from: &str, to: &str, user_id: Option<&str>) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE device_authorizations SET status = $4, user_id = $5 WHERE environment_id = $1 AND id = $2 AND status = $3")
                        .bind(env).bind(id).bind(from).bind(to).bind(user_id).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn poll_device(&self, env: &str, id: &str, now: Timestamp) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE device_authorizations SET last_poll_at = $3 \
                         WHERE environment_id = $1 AND id = $2 AND last_poll_at <= $3 - interval_secs * 1000",
                    )
                    .bind(env).bind(id).bind(now.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn record_events(&self, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |_| Ok(())).await
                }

                async fn get_jwt_template(&self, env: &str) -> Result<Option<(String, Timestamp, Timestamp)>, StoreError> {
                    let row = sqlx::query("SELECT content, created_at, updated_at FROM jwt_templates WHERE environment_id = $1")
                        .bind(env).fetch_optional(&self.read).await.map_err(map_err)?;
                    let Some(r) = row else { return Ok(None) };
                    let get = || -> Result<_, sqlx::Error> {
                        Ok((r.try_get("content")?, Timestamp(r.try_get("created_at")?), Timestamp(r.try_get("updated_at")?)))
                    };
                    get().map(Some).map_err(map_err)
                }

                async fn put_jwt_template(&self, env: &str, content: &str, now: Timestamp) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO jwt_templates (environment_id, content, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                         ON CONFLICT (environment_id) DO UPDATE SET content = $2, updated_at = $3",
                    )
                    .bind(env).bind(content).bind(now.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn insert_cors_origin(&self, env: &str, o: &CorsOrigin) -> Result<(), StoreError> {
                    sqlx::query("INSERT INTO cors_origins (environment_id, id, origin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(env).bind(&o.id).bind(&o.origin).bind(o.created_at.millis()).bind(o.updated_at.millis())
                        .execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn list_cors_origins(&self, env: &str, page: &PageRequest) -> Result<Page<CorsOrigin>, StoreError> {
                    let sql = "SELECT id, origin, created_at, updated_at FROM cors_origins WHERE environment_id = $1".to_owned();
                    page_query(&self.read, sql, "id", vec![env.to_owned()], page, cors_origin).await
                }

                async fn purge_authentication(&self, now: Timestamp, failures_before: i64) -> Result<u64, StoreError> {
                    // Codes and challenges are kept a day past their expiry, so that a late
                    // use is told "expired" rather than "invalid".
                    let keep = now.millis() - 24 * 3600 * 1000;
                    let mut total = 0;
                    for (sql, bound) in [
                        ("DELETE FROM auth_codes WHERE expires_at <= $1", keep),
                        ("DELETE FROM auth_challenges WHERE expires_at <= $1", keep),
                        ("DELETE FROM device_authorizations WHERE expires_at <= $1", keep),
                        ("DELETE FROM sign_in_failures WHERE window_start < $1", failures_before),
                        ("DELETE FROM user_sessions WHERE expires_at <= $1", keep),
                    ] {
                        total += sqlx::query(sql).bind(bound).execute(&self.write).await.map_err(map_err)?.rows_affected();
                    }
                    Ok(total)
                }
            }
        }
    };
}

authentication!(sqlite_authentication, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow);
authentication!(postgres_authentication, postgres_backend, PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
