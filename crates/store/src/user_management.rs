//! SQL for user management: users, organization memberships, invitations and the mail outbox;
//! signing in is in `user_management/authentication.rs`.

mod authentication;

use crate::common::{map_err, placeholders};
use vestibule_core::StoreError;

const USER_COLUMNS: &str = "id, email, first_name, last_name, profile_picture_url, email_verified, external_id, metadata, \
     last_sign_in_at, locale, password_hash, password_kind, created_at, updated_at, version";
const MEMBERSHIP_SELECT: &str = "SELECT m.id, m.user_id, m.organization_id, o.name AS organization_name, m.status, m.role_slugs, \
     m.directory_managed, m.custom_attributes, m.created_at, m.updated_at FROM organization_memberships m \
     JOIN organizations o ON o.environment_id = m.environment_id AND o.id = m.organization_id";
const INVITATION_COLUMNS: &str = "id, email, state, accepted_at, revoked_at, expires_at, organization_id, inviter_user_id, \
     accepted_user_id, role_slug, token, accept_invitation_url, created_at, updated_at";

macro_rules! user_management {
    ($module:ident, $base:ident, $store:ident, $db:ty, $row:ty, $skip_locked:literal) => {
        mod $module {
            use super::*;
            use crate::$store;
            use crate::common::$base::{delete_with_events, fetch_by_id, insert_events, insert_mail, page_query, write_with_events};
            use async_trait::async_trait;
            use sqlx::{AssertSqlSafe, Row};
            use std::collections::BTreeMap;
            use vestibule_core::events::Event;
            use vestibule_core::user_management::invitations::{Invitation, InvitationFilter, InvitationStore};
            use vestibule_core::user_management::mail::{MailStore, OutboxMail};
            use vestibule_core::user_management::memberships::{Membership, MembershipFilter, MembershipStore, SlimRole};
            use vestibule_core::kernel::pagination::{Page, PageRequest};
            use vestibule_core::user_management::passwords::StoredPassword;
            use vestibule_core::user_management::users::{User, UserFilter, UserStore};
            use vestibule_core::Timestamp;

            type Conn = <$db as sqlx::Database>::Connection;

            fn ts(r: &$row, col: &str) -> Result<Option<Timestamp>, sqlx::Error> {
                Ok(r.try_get::<Option<i64>, _>(col)?.map(Timestamp))
            }

            fn user(r: &$row) -> Result<User, sqlx::Error> {
                let metadata: String = r.try_get("metadata")?;
                let hash: Option<String> = r.try_get("password_hash")?;
                let kind: Option<String> = r.try_get("password_kind")?;
                Ok(User {
                    object: "user",
                    id: r.try_get("id")?,
                    first_name: r.try_get("first_name")?,
                    last_name: r.try_get("last_name")?,
                    profile_picture_url: r.try_get("profile_picture_url")?,
                    email: r.try_get("email")?,
                    email_verified: r.try_get("email_verified")?,
                    external_id: r.try_get("external_id")?,
                    metadata: crate::common::json::<BTreeMap<String, String>>("metadata", &metadata)?,
                    last_sign_in_at: ts(r, "last_sign_in_at")?,
                    locale: r.try_get("locale")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    password: hash.zip(kind).map(|(hash, kind)| StoredPassword { hash, kind }),
                    version: r.try_get("version")?,
                })
            }

            fn membership(r: &$row) -> Result<Membership, sqlx::Error> {
                let slugs: String = r.try_get("role_slugs")?;
                let slugs: Vec<String> = crate::common::json("slugs", &slugs)?;
                let attrs: String = r.try_get("custom_attributes")?;
                let roles: Vec<SlimRole> = slugs.into_iter().map(|slug| SlimRole { slug }).collect();
                Ok(Membership {
                    object: "organization_membership",
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    organization_id: r.try_get("organization_id")?,
                    organization_name: r.try_get("organization_name")?,
                    status: r.try_get("status")?,
                    role: roles.first().cloned().unwrap_or(SlimRole { slug: vestibule_core::authorization::DEFAULT_ROLE.into() }),
                    roles,
                    directory_managed: r.try_get("directory_managed")?,
                    custom_attributes: crate::common::json("attrs", &attrs)?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                    user: None,
                })
            }

            fn invitation(r: &$row) -> Result<Invitation, sqlx::Error> {
                Ok(Invitation {
                    object: "invitation",
                    id: r.try_get("id")?,
                    email: r.try_get("email")?,
                    state: r.try_get("state")?,
                    accepted_at: ts(r, "accepted_at")?,
                    revoked_at: ts(r, "revoked_at")?,
                    expires_at: Timestamp(r.try_get("expires_at")?),
                    organization_id: r.try_get("organization_id")?,
                    inviter_user_id: r.try_get("inviter_user_id")?,
                    accepted_user_id: r.try_get("accepted_user_id")?,
                    role_slug: r.try_get("role_slug")?,
                    token: r.try_get("token")?,
                    accept_invitation_url: r.try_get("accept_invitation_url")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                    updated_at: Timestamp(r.try_get("updated_at")?),
                })
            }

            fn mail(r: &$row) -> Result<OutboxMail, sqlx::Error> {
                Ok(OutboxMail {
                    id: r.try_get("id")?,
                    environment_id: r.try_get("environment_id")?,
                    to: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                    created_at: Timestamp(r.try_get("created_at")?),
                })
            }

            async fn insert_user(conn: &mut Conn, env: &str, u: &User) -> Result<(), StoreError> {
                let sql = format!("INSERT INTO users (environment_id, {USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)");
                sqlx::query(AssertSqlSafe(sql))
                    .bind(env).bind(&u.id).bind(&u.email).bind(&u.first_name).bind(&u.last_name)
                    .bind(&u.profile_picture_url).bind(u.email_verified).bind(&u.external_id)
                    .bind(serde_json::to_string(&u.metadata).unwrap_or_default())
                    .bind(u.last_sign_in_at.map(Timestamp::millis)).bind(&u.locale)
                    .bind(u.password.as_ref().map(|p| p.hash.clone()))
                    .bind(u.password.as_ref().map(|p| p.kind.clone())).bind(u.created_at.millis())
                    .bind(u.updated_at.millis()).bind(u.version).execute(&mut *conn).await.map_err(map_err)?;
                Ok(())
            }

            async fn insert_membership(conn: &mut Conn, env: &str, m: &Membership) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO organization_memberships (environment_id, id, user_id, organization_id, status, role_slugs, \
                     directory_managed, custom_attributes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(env).bind(&m.id).bind(&m.user_id).bind(&m.organization_id).bind(&m.status)
                .bind(serde_json::to_string(&m.role_slugs()).unwrap_or_default()).bind(m.directory_managed)
                .bind(serde_json::Value::Object(m.custom_attributes.clone()).to_string()).bind(m.created_at.millis())
                .bind(m.updated_at.millis()).execute(&mut *conn).await.map_err(map_err)?;
                Ok(())
            }

            #[async_trait]
            impl UserStore for $store {
                async fn insert_user(&self, env: &str, user: &User, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        insert_user(tx, env, user).await?;
                        Ok(())
                    })
                    .await
                }

                async fn get_user(&self, env: &str, id: &str) -> Result<Option<User>, StoreError> {
                    fetch_by_id(&self.read, format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND id = $2"), env, id, user).await
                }

                async fn get_users(&self, env: &str, ids: &[String]) -> Result<Vec<User>, StoreError> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND id IN {}", placeholders(2, ids.len()));
                    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(env);
                    for id in ids {
                        q = q.bind(id.clone());
                    }
                    let rows = q.fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| user(r).map_err(map_err)).collect()
                }

                async fn get_user_by_email(&self, env: &str, email: &str) -> Result<Option<User>, StoreError> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND email = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(email).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(user).transpose().map_err(map_err)
                }

                async fn get_user_by_external_id(&self, env: &str, external_id: &str) -> Result<Option<User>, StoreError> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1 AND external_id = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(external_id).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(user).transpose().map_err(map_err)
                }

                async fn update_user(&self, env: &str, u: &User, expected_version: i64, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        let done = sqlx::query(
                            "UPDATE users SET email = $3, first_name = $4, last_name = $5, profile_picture_url = $6, email_verified = $7, \
                             external_id = $8, metadata = $9, last_sign_in_at = $10, locale = $11, password_hash = $12, password_kind = $13, \
                             updated_at = $14, version = $15 WHERE environment_id = $1 AND id = $2 AND version = $16",
                        )
                        .bind(env).bind(&u.id).bind(&u.email).bind(&u.first_name).bind(&u.last_name)
                        .bind(&u.profile_picture_url).bind(u.email_verified).bind(&u.external_id)
                        .bind(serde_json::to_string(&u.metadata).unwrap_or_default())
                        .bind(u.last_sign_in_at.map(Timestamp::millis)).bind(&u.locale)
                        .bind(u.password.as_ref().map(|p| p.hash.clone()))
                        .bind(u.password.as_ref().map(|p| p.kind.clone())).bind(u.updated_at.millis()).bind(u.version)
                        .bind(expected_version).execute(&mut *tx).await.map_err(map_err)?;
                        if done.rows_affected() != 1 {
                            return Err(StoreError::Contended);
                        }
                        Ok(())
                    })
                    .await
                }

                async fn delete_user(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    delete_with_events(&self.write, "DELETE FROM users WHERE environment_id = $1 AND id = $2", env, id, events).await
                }

                async fn list_users(&self, env: &str, f: &UserFilter, page: &PageRequest) -> Result<Page<User>, StoreError> {
                    let mut args = vec![env.to_owned()];
                    let mut sql = format!("SELECT {USER_COLUMNS} FROM users WHERE environment_id = $1");
                    if let Some(e) = &f.email {
                        args.push(e.clone());
                        sql.push_str(&format!(" AND email = ${}", args.len()));
                    }
                    if let Some(o) = &f.organization_id {
                        args.push(o.clone());
                        sql.push_str(&format!(
                            " AND id IN (SELECT user_id FROM organization_memberships WHERE environment_id = $1 AND organization_id = ${})",
                            args.len()
                        ));
                    }
                    page_query(&self.read, sql, "id", args, page, user).await
                }
            }

            #[async_trait]
            impl MembershipStore for $store {
                async fn insert_membership(&self, env: &str, m: &Membership, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        insert_membership(tx, env, m).await?;
                        Ok(())
                    })
                    .await
                }

                async fn get_membership(&self, env: &str, id: &str) -> Result<Option<Membership>, StoreError> {
                    fetch_by_id(&self.read, format!("{MEMBERSHIP_SELECT} WHERE m.environment_id = $1 AND m.id = $2"), env, id, membership).await
                }

                async fn update_membership(&self, env: &str, m: &Membership, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        sqlx::query("UPDATE organization_memberships SET status = $3, role_slugs = $4, updated_at = $5 WHERE environment_id = $1 AND id = $2")
                            .bind(env).bind(&m.id).bind(&m.status)
                            .bind(serde_json::to_string(&m.role_slugs()).unwrap_or_default())
                            .bind(m.updated_at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                        Ok(())
                    })
                    .await
                }

                async fn delete_membership(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError> {
                    delete_with_events(&self.write, "DELETE FROM organization_memberships WHERE environment_id = $1 AND id = $2", env, id, events).await
                }

                async fn list_memberships(&self, env: &str, f: &MembershipFilter, page: &PageRequest) -> Result<Page<Membership>, StoreError> {
                    let mut args = vec![env.to_owned()];
                    let mut sql = format!("{MEMBERSHIP_SELECT} WHERE m.environment_id = $1");
                    if let Some(u) = &f.user_id {
                        args.push(u.clone());
                        sql.push_str(&format!(" AND m.user_id = ${}", args.len()));
                    }
                    if let Some(o) = &f.organization_id {
                        args.push(o.clone());
                        sql.push_str(&format!(" AND m.organization_id = ${}", args.len()));
                    }
                    if !f.statuses.is_empty() {
                        sql.push_str(&format!(" AND m.status IN {}", placeholders(args.len() + 1, f.statuses.len())));
                        args.extend(f.statuses.iter().cloned());
                    }
                    page_query(&self.read, sql, "m.id", args, page, membership).await
                }

                async fn memberships_of_user(&self, env: &str, user_id: &str) -> Result<Vec<Membership>, StoreError> {
                    let sql = format!("{MEMBERSHIP_SELECT} WHERE m.environment_id = $1 AND m.user_id = $2 ORDER BY m.id");
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(user_id).fetch_all(&self.read).await.map_err(map_err)?;
                    rows.iter().map(|r| membership(r).map_err(map_err)).collect()
                }
            }

            #[async_trait]
            impl InvitationStore for $store {
                async fn insert_invitation(&self, env: &str, i: &Invitation, m: &OutboxMail, events: &[Event]) -> Result<(), StoreError> {
                    write_with_events(&self.write, events, async |tx| {
                        let sql = format!(
                            "INSERT INTO invitations (environment_id, {INVITATION_COLUMNS}) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                        );
                        sqlx::query(AssertSqlSafe(sql))
                            .bind(env).bind(&i.id).bind(&i.email).bind(&i.state)
                            .bind(i.accepted_at.map(Timestamp::millis)).bind(i.revoked_at.map(Timestamp::millis))
                            .bind(i.expires_at.millis()).bind(&i.organization_id).bind(&i.inviter_user_id)
                            .bind(&i.accepted_user_id).bind(&i.role_slug).bind(&i.token)
                            .bind(&i.accept_invitation_url).bind(i.created_at.millis()).bind(i.updated_at.millis())
                            .execute(&mut *tx).await.map_err(map_err)?;
                        insert_mail(tx, m).await?;
                        Ok(())
                    })
                    .await
                }

                async fn get_invitation(&self, env: &str, id: &str) -> Result<Option<Invitation>, StoreError> {
                    fetch_by_id(&self.read, format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1 AND id = $2"), env, id, invitation).await
                }

                async fn get_invitation_by_token(&self, env: &str, token: &str) -> Result<Option<Invitation>, StoreError> {
                    let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1 AND token = $2");
                    let row = sqlx::query(AssertSqlSafe(sql)).bind(env).bind(token).fetch_optional(&self.read).await.map_err(map_err)?;
                    row.as_ref().map(invitation).transpose().map_err(map_err)
                }

                async fn list_invitations(&self, env: &str, f: &InvitationFilter, page: &PageRequest) -> Result<Page<Invitation>, StoreError> {
                    let mut args = vec![env.to_owned()];
                    let mut sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE environment_id = $1");
                    if let Some(o) = &f.organization_id {
                        args.push(o.clone());
                        sql.push_str(&format!(" AND organization_id = ${}", args.len()));
                    }
                    if let Some(e) = &f.email {
                        args.push(e.clone());
                        sql.push_str(&format!(" AND email = ${}", args.len()));
                    }
                    page_query(&self.read, sql, "id", args, page, invitation).await
                }

                async fn update_pending_invitation(&self, env: &str, i: &Invitation, m: Option<&OutboxMail>, events: &[Event]) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query(
                        "UPDATE invitations SET state = $3, revoked_at = $4, updated_at = $5 \
                         WHERE environment_id = $1 AND id = $2 AND state = 'pending' AND expires_at > $5",
                    )
                    .bind(env).bind(&i.id).bind(&i.state).bind(i.revoked_at.map(Timestamp::millis))
                    .bind(i.updated_at.millis()).execute(&mut *tx).await.map_err(map_err)?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    if let Some(m) = m {
                        insert_mail(&mut tx, m).await?;
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }

                async fn accept_invitation(
                    &self,
                    env: &str,
                    i: &Invitation,
                    u: Option<&User>,
                    m: Option<&Membership>,
                    events: &[Event],
                ) -> Result<bool, StoreError> {
                    let mut tx = self.write.begin().await.map_err(map_err)?;
                    let done = sqlx::query(
                        "UPDATE invitations SET state = 'accepted', accepted_at = $3, accepted_user_id = $4, updated_at = $3 \
                         WHERE environment_id = $1 AND id = $2 AND state = 'pending' AND expires_at > $3",
                    )
                    .bind(env).bind(&i.id).bind(i.updated_at.millis()).bind(&i.accepted_user_id).execute(&mut *tx)
                    .await.map_err(map_err)?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    if let Some(u) = u {
                        insert_user(&mut tx, env, u).await?;
                    }
                    if let Some(m) = m {
                        insert_membership(&mut tx, env, m).await?;
                    }
                    insert_events(&mut tx, events).await?;
                    tx.commit().await.map_err(map_err)?;
                    Ok(true)
                }
            }

            #[async_trait]
            impl MailStore for $store {
                async fn claim_mail(&self, now: Timestamp, lease_ms: i64, limit: u32) -> Result<Vec<OutboxMail>, StoreError> {
                    let sql = format!(
                        "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2 WHERE id IN \
                         (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 \
                          ORDER BY next_attempt_at LIMIT {limit} {}) \
                         RETURNING id, environment_id, recipient, subject, body, attempts, created_at",
                        $skip_locked
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(now.millis()).bind(now.millis() + lease_ms).fetch_all(&self.write).await
                        .map_err(map_err)?;
                    rows.iter().map(|r| mail(r).map_err(map_err)).collect()
                }

                async fn mark_mail_sent(&self, id: &str, at: Timestamp) -> Result<(), StoreError> {
                    sqlx::query("UPDATE mail_outbox SET sent_at = $2, last_error = NULL WHERE id = $1")
                        .bind(id).bind(at.millis()).execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }

                async fn mark_mail_failed(&self, id: &str, error: &str, retry_at: Option<Timestamp>) -> Result<(), StoreError> {
                    let error: String = error.chars().take(1000).collect();
                    let sql = match retry_at {
                        Some(_) => "UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1",
                        None => "UPDATE mail_outbox SET last_error = $2, failed_at = $3 WHERE id = $1",
                    };
                    sqlx::query(sql)
                        .bind(id).bind(error).bind(retry_at.unwrap_or_else(Timestamp::now).millis())
                        .execute(&self.write).await.map_err(map_err)?;
                    Ok(())
                }
            }
        }
    };
}

user_management!(sqlite_user_management, sqlite_backend, SqliteStore, sqlx::Sqlite, sqlx::sqlite::SqliteRow, "");
user_management!(
    postgres_user_management,
    postgres_backend,
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    "FOR UPDATE SKIP LOCKED"
);
