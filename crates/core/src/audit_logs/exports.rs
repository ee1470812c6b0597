//! CSV exports: requested, written in the background in leased chunks, and downloaded
//! through signed links that expire.

use super::events::read_timestamp;
use super::*;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::time::Timestamp;
use crate::{Vestibule, kernel::secrets};
use hmac::{KeyInit, Mac};
use serde_json::Value;
use std::sync::Arc;
use vestibule_ids::Kind;

/// A ready export's CSV, read back one stored chunk at a time.
pub struct ExportDownload {
    store: Arc<dyn crate::Store>,
    id: String,
    next: i64,
    chunks: i64,
}

impl std::fmt::Debug for ExportDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportDownload")
            .field("id", &self.id)
            .field("next", &self.next)
            .field("chunks", &self.chunks)
            .finish()
    }
}

impl ExportDownload {
    /// The next piece of the CSV, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.next >= self.chunks {
            return Ok(None);
        }
        let chunk = self.store.get_audit_log_export_chunk(&self.id, self.next).await?;
        self.next += 1;
        chunk
            .map(Some)
            .ok_or_else(|| CoreError::Internal(StoreError::Backend(format!("export {} lost a chunk", self.id).into())))
    }
}

/// Writes the CSV records of `rows` (after the header when `header`), in [`CSV_COLUMNS`] order.
pub(super) fn write_csv(header: bool, rows: &[AuditLogRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256 + 128));
    let fail = |e: csv::Error| CoreError::Internal(StoreError::Backend(format!("writing CSV: {e}").into()));
    if header {
        w.write_record(CSV_COLUMNS).map_err(fail)?;
    }
    let mut version = String::new();
    for r in rows {
        version.clear();
        if let Some(v) = r.version {
            version.push_str(&v.to_string());
        }
        let occurred_at = r.occurred_at.to_iso();
        w.write_record([
            r.id.as_str(),
            &occurred_at,
            &r.action,
            &version,
            &r.actor_id,
            &r.actor_type,
            r.actor_name.as_deref().unwrap_or_default(),
            &r.targets,
            &r.location,
            r.user_agent.as_deref().unwrap_or_default(),
            &r.metadata,
        ])
        .map_err(fail)?;
    }
    w.into_inner().map_err(|e| CoreError::Internal(StoreError::Backend(format!("writing CSV: {e}").into())))
}

/// Delay before export attempt `n + 1`: 5 s, 10 s, 20 s.
pub(super) fn export_backoff_ms(attempts: i64) -> i64 {
    5_000i64 << attempts.clamp(0, 10)
}

impl Vestibule {
    /// `POST /audit_logs/exports`: a pending export that the export worker fills.
    pub async fn create_audit_log_export(&self, env: &str, body: &Value) -> Result<AuditLogExport> {
        let mut f = Fields::new(body)?;
        let organization_id = f.required_string("organization_id", 100);
        let start = read_timestamp(&mut f, "range_start");
        let end = read_timestamp(&mut f, "range_end");
        // An impossible range is the spec's 400, not a field error.
        let bad_range = match (start, end) {
            (Some(s), Some(e)) if s >= e => Some("range_start must be before range_end."),
            // Any length is accepted: what an export holds is bounded by the organization's
            // retention, since older events are purged.
            _ => None,
        };
        let actions = f.optional_strings("actions", 100, 100).unwrap_or_default();
        let mut actor_names = f.optional_strings("actor_names", 100, 255).unwrap_or_default();
        actor_names.extend(f.optional_strings("actors", 100, 255).unwrap_or_default());
        let actor_ids = f.optional_strings("actor_ids", 100, 255).unwrap_or_default();
        let targets = f.optional_strings("targets", 100, 100).unwrap_or_default();
        f.finish()?;
        if let Some(message) = bad_range {
            return Err(CoreError::refused("invalid_audit_log_export_range_date", message.into()));
        }
        let (Some(org_id), Some(start), Some(end)) = (organization_id, start, end) else {
            return Err(CoreError::field("organization_id", "required"));
        };
        let org = self.get_organization(env, &org_id).await?;
        let now = Timestamp::now();
        let export = AuditLogExport {
            object: "audit_log_export",
            id: vestibule_ids::generate(Kind::AuditLogExport),
            state: "pending".into(),
            url: None,
            created_at: now,
            updated_at: now,
            environment_id: env.to_owned(),
            organization_id: org.id,
            range_start: start,
            range_end: end,
            filter: ExportFilter { actions, actor_names, actor_ids, targets },
            attempts: 0,
            row_count: None,
            chunk_count: None,
            error: None,
        };
        self.store.insert_audit_log_export(&export).await?;
        self.audit_log_exports_queued.notify_one();
        Ok(export)
    }

    /// `GET /audit_logs/exports/{id}`: when ready, with a fresh signed download link.
    pub async fn get_audit_log_export(&self, env: &str, id: &str) -> Result<AuditLogExport> {
        if !crate::plausible(Kind::AuditLogExport, id) {
            return Err(export_not_found(id));
        }
        let mut export = self.store.get_audit_log_export(Some(env), id).await?.ok_or_else(|| export_not_found(id))?;
        if export.state == "ready" {
            let expires = Timestamp::now().plus_millis(DOWNLOAD_LINK_TTL_MS);
            export.url = Some(self.audit_log_export_download_url(&export.id, expires).await?);
        }
        Ok(export)
    }

    /// A signed link to an export's CSV, valid until `expires` (whole seconds).
    pub async fn audit_log_export_download_url(&self, id: &str, expires: Timestamp) -> Result<String> {
        let expires = expires.millis() / 1000;
        let signature = hex::encode(self.sign_download(id, expires).await?.finalize().into_bytes());
        Ok(format!("{}/audit_logs/exports/{id}/download?expires={expires}&signature={signature}", self.public_url))
    }

    /// The MAC of a download link, keyed from the database's shared secret so that
    /// every instance signs and checks alike.
    pub(super) async fn sign_download(&self, id: &str, expires: i64) -> Result<hmac::Hmac<sha2::Sha256>> {
        let candidate = secrets::random_base62(48);
        let secret = self.store.server_secret(EXPORT_SECRET_NAME, &candidate, Timestamp::now()).await?;
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(format!("{id}\n{expires}").as_bytes());
        Ok(mac)
    }

    /// `GET /audit_logs/exports/{id}/download`: checks the link's signature and expiry
    /// (no API key: the link is the credential) and opens the CSV.
    pub async fn open_audit_log_export_download(
        &self, id: &str, expires: &str, signature: &str,
    ) -> Result<ExportDownload> {
        let refused =
            || CoreError::Forbidden { code: "invalid_signature", message: "The download link is invalid.".into() };
        let expires: i64 = expires.parse().map_err(|_| refused())?;
        let signature = hex::decode(signature).map_err(|_| refused())?;
        if !crate::plausible(Kind::AuditLogExport, id) {
            return Err(refused());
        }
        // Constant-time comparison: a timing difference must not reveal a valid prefix.
        self.sign_download(id, expires).await?.verify_slice(&signature).map_err(|_| refused())?;
        if expires.saturating_mul(1000) < Timestamp::now().millis() {
            return Err(CoreError::Forbidden {
                code: "download_link_expired",
                message: "The download link has expired.".into(),
            });
        }
        let export = self.store.get_audit_log_export(None, id).await?.ok_or_else(|| export_not_found(id))?;
        match (export.state.as_str(), export.chunk_count) {
            ("ready", Some(chunks)) => Ok(ExportDownload { store: self.store.clone(), id: export.id, next: 0, chunks }),
            _ => Err(export_not_found(id)),
        }
    }

    /// Runs one due export, if any: writes its CSV page by page and marks it ready, or
    /// records the failure. Returns whether there was one.
    pub async fn process_next_audit_log_export(&self) -> Result<bool> {
        let Some(export) = self.store.claim_audit_log_export(Timestamp::now(), EXPORT_LEASE_MS).await? else {
            return Ok(false);
        };
        if export.attempts > EXPORT_MAX_ATTEMPTS {
            // Its workers kept dying mid-export (their leases ran out): stop trying.
            let reason = "the export was interrupted too many times";
            self.store.fail_audit_log_export(&export.id, export.attempts, reason, None, Timestamp::now()).await?;
            return Ok(true);
        }
        match self.write_audit_log_export(&export).await {
            // False: another worker took it over after our lease ran out; it carries on.
            Ok(_) => {}
            Err(e) => {
                let now = Timestamp::now();
                let retry = (export.attempts < EXPORT_MAX_ATTEMPTS)
                    .then(|| now.plus_millis(export_backoff_ms(export.attempts)));
                self.store.fail_audit_log_export(&export.id, export.attempts, &e.to_string(), retry, now).await?;
                return Err(e);
            }
        }
        Ok(true)
    }

    /// Streams the export's events into CSV chunks; false when another worker took it over.
    /// The next page is read while the current chunk is written.
    pub(super) async fn write_audit_log_export(&self, export: &AuditLogExport) -> Result<bool> {
        let (mut rows, mut seq) = (0i64, 0i64);
        let mut page = self.store.audit_log_events_page(export, None, EXPORT_PAGE_ROWS).await?;
        loop {
            let last_page = page.len() < EXPORT_PAGE_ROWS as usize;
            let after = page.last().map(|r| (r.occurred_at, r.id.clone()));
            let selected: Vec<AuditLogRow> = page.into_iter().filter(|r| r.matches_targets(&export.filter)).collect();
            let write = async {
                if seq > 0 && selected.is_empty() {
                    return Ok(true);
                }
                let data = write_csv(seq == 0, &selected)?;
                let lease = Timestamp::now().plus_millis(EXPORT_LEASE_MS);
                Ok::<_, CoreError>(
                    self.store.put_audit_log_export_chunk(&export.id, export.attempts, seq, &data, lease).await?,
                )
            };
            let next = async {
                match after {
                    Some(after) if !last_page => {
                        self.store.audit_log_events_page(export, Some(after), EXPORT_PAGE_ROWS).await
                    }
                    _ => Ok(Vec::new()),
                }
            };
            let (held, next) = tokio::join!(write, next);
            if !held? {
                return Ok(false);
            }
            if seq == 0 || !selected.is_empty() {
                rows += selected.len() as i64;
                seq += 1;
            }
            if last_page {
                break;
            }
            page = next?;
        }
        Ok(self.store.complete_audit_log_export(&export.id, export.attempts, rows, seq, Timestamp::now()).await?)
    }

    /// The events of an export, through the same paging and filters as the CSV writer;
    /// for tests and tools that check an export's contents.
    pub async fn audit_log_export_events(&self, export: &AuditLogExport) -> Result<Vec<AuditLogEvent>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.audit_log_events_page(export, after, EXPORT_PAGE_ROWS).await?;
            let done = page.len() < EXPORT_PAGE_ROWS as usize;
            after = page.last().map(|e| (e.occurred_at, e.id.clone()));
            out.extend(page.into_iter().filter(|r| r.matches_targets(&export.filter)).map(AuditLogRow::into_event));
            if done {
                return Ok(out);
            }
        }
    }
}
