//! How long an organization's audit-log events are kept, its configuration, and the
//! purge that enforces it.

use super::*;
use crate::Vestibule;
use crate::kernel::error::Result;
use crate::kernel::fields::Fields;
use crate::kernel::time::Timestamp;
use serde_json::Value;

impl Vestibule {
    /// `GET /organizations/{id}/audit_logs_retention`: `None` when never set.
    pub async fn get_audit_logs_retention(&self, env: &str, organization_id: &str) -> Result<Option<i64>> {
        let org = self.get_organization(env, organization_id).await?;
        Ok(self.store.get_audit_log_retention(env, &org.id).await?)
    }

    /// `PUT /organizations/{id}/audit_logs_retention`: 30 or 365 days.
    pub async fn set_audit_logs_retention(&self, env: &str, organization_id: &str, body: &Value) -> Result<i64> {
        let mut f = Fields::new(body)?;
        let mut days = f.optional_int("retention_period_in_days");
        // The Node SDK sends `retention_period` as a duration name instead.
        if days.is_none() {
            match f.optional_string("retention_period", 16).as_deref() {
                Some("1_MONTH") => days = Some(30),
                Some("1_YEAR") => days = Some(365),
                Some(_) => f.invalid("retention_period", "invalid_retention_period"),
                None => {}
            }
        }
        match days {
            None if f.errors.is_empty() => f.invalid("retention_period_in_days", "required"),
            None => {}
            Some(d) if !RETENTION_PERIODS.contains(&d) => {
                f.invalid("retention_period_in_days", "invalid_retention_period")
            }
            _ => {}
        }
        f.finish()?;
        let days = days.unwrap_or(DEFAULT_RETENTION_DAYS);
        let org = self.get_organization(env, organization_id).await?;
        self.store.set_audit_log_retention(env, &org.id, days, Timestamp::now()).await?;
        Ok(days)
    }

    /// `GET /organizations/{id}/audit_log_configuration`.
    pub async fn get_audit_log_configuration(&self, env: &str, organization_id: &str) -> Result<AuditLogConfiguration> {
        let days = self.get_audit_logs_retention(env, organization_id).await?;
        Ok(AuditLogConfiguration {
            organization_id: organization_id.to_owned(),
            retention_period_in_days: days.unwrap_or(DEFAULT_RETENTION_DAYS),
            state: "active",
        })
    }

    /// Housekeeping: deletes events past retention and old exports.
    pub async fn purge_audit_logs(&self, now: Timestamp) -> Result<u64> {
        Ok(self.store.purge_audit_logs(now).await?)
    }
}
