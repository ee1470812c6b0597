//! Webhook endpoints and the durable delivery queue. Every event is fanned out to the
//! subscribed endpoints in the transaction that records it; a worker delivers each one
//! at least once, signed as WorkOS signs them, in event order per endpoint, retried on
//! a fixed backoff schedule, and disables an endpoint that keeps failing.

use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, FieldError, Result};
use crate::kernel::fields::Fields;
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::{Vestibule, kernel::secrets, plausible};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use vestibule_ids::Kind;

/// Event names an endpoint may subscribe to: WorkOS's published list.
pub const EVENT_NAMES: &[&str] = &[
    "api_key.created",
    "api_key.revoked",
    "authentication.email_verification_succeeded",
    "authentication.magic_auth_failed",
    "authentication.magic_auth_succeeded",
    "authentication.mfa_succeeded",
    "authentication.oauth_failed",
    "authentication.oauth_succeeded",
    "authentication.passkey_failed",
    "authentication.passkey_succeeded",
    "authentication.password_failed",
    "authentication.password_succeeded",
    "authentication.radar_risk_detected",
    "authentication.sso_failed",
    "authentication.sso_started",
    "authentication.sso_succeeded",
    "authentication.sso_timed_out",
    "connection.activated",
    "connection.deactivated",
    "connection.deleted",
    "connection.saml_certificate_renewal_required",
    "connection.saml_certificate_renewed",
    "dsync.activated",
    "dsync.deleted",
    "dsync.group.created",
    "dsync.group.deleted",
    "dsync.group.updated",
    "dsync.group.user_added",
    "dsync.group.user_removed",
    "dsync.user.created",
    "dsync.user.deleted",
    "dsync.user.updated",
    "email_verification.created",
    "flag.created",
    "flag.deleted",
    "flag.rule_updated",
    "flag.updated",
    "group.created",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
    "group.updated",
    "invitation.accepted",
    "invitation.created",
    "invitation.resent",
    "invitation.revoked",
    "magic_auth.created",
    "organization.created",
    "organization.deleted",
    "organization.updated",
    "organization_domain.created",
    "organization_domain.deleted",
    "organization_domain.updated",
    "organization_domain.verification_failed",
    "organization_domain.verified",
    "organization_membership.created",
    "organization_membership.deleted",
    "organization_membership.updated",
    "organization_role.created",
    "organization_role.deleted",
    "organization_role.updated",
    "password_reset.created",
    "password_reset.succeeded",
    "permission.created",
    "permission.deleted",
    "permission.updated",
    "role.created",
    "role.deleted",
    "role.updated",
    "session.created",
    "session.revoked",
    "user.created",
    "user.deleted",
    "user.updated",
    "waitlist_user.approved",
    "waitlist_user.created",
    "waitlist_user.denied",
];

/// Delays between attempts in production: 12 attempts over about three days.
pub const PRODUCTION_SCHEDULE_MS: &[i64] = &[
    60_000,
    5 * 60_000,
    15 * 60_000,
    30 * 60_000,
    3_600_000,
    2 * 3_600_000,
    4 * 3_600_000,
    8 * 3_600_000,
    12 * 3_600_000,
    16 * 3_600_000,
    24 * 3_600_000,
];

/// The same shape compressed for `--dev`: 12 attempts within about three minutes.
pub const DEV_SCHEDULE_MS: &[i64] = &[100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 102_400];

/// A webhook endpoint, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpoint {
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    /// `we_…`
    pub id: String,
    /// Where events are POSTed.
    pub endpoint_url: String,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Subscribed event names; empty means every event.
    pub events: Vec<String>,
    /// Why Vestibule disabled the endpoint, if it did (extension).
    pub disabled_reason: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl HasId for WebhookEndpoint {
    fn id(&self) -> &str {
        &self.id
    }
}

/// One attempt to deliver an event (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: i64,
    /// The HTTP status answered, if any.
    pub status_code: Option<i64>,
    /// Time to the answer or the failure, in milliseconds.
    pub latency_ms: i64,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// When the attempt was made.
    pub attempted_at: Timestamp,
}

/// The delivery of one event to one endpoint (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDelivery {
    /// Always `webhook_delivery`.
    pub object: &'static str,
    /// The delivery id: the event's id.
    pub id: String,
    /// The endpoint.
    pub webhook_endpoint_id: String,
    /// The event name.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: Vec<DeliveryAttempt>,
    /// The next attempt, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// When the event was recorded.
    pub created_at: Timestamp,
}

impl HasId for WebhookDelivery {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A delivery claimed by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// Its environment.
    pub environment_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event.
    pub event_id: String,
    /// This attempt's number, 1-based.
    pub attempt: i64,
}

/// What an attempt led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx: done.
    Delivered,
    /// Failed; try again at this time.
    RetryAt(Timestamp),
    /// Failed for the last time; the endpoint is disabled with this reason.
    GiveUp(String),
    /// Cannot be delivered (the event is gone); the endpoint is left alone.
    Abandon,
}

/// Decides whether an endpoint URL may be called: where its host resolves to must be
/// a public address unless the operator allowed otherwise (SSRF protection).
#[async_trait]
pub trait TargetGuard: Send + Sync {
    /// `Ok` with the addresses to connect to, or why the target is refused.
    async fn resolve(&self, url: &str) -> std::result::Result<Vec<std::net::SocketAddr>, String>;
}

/// Lets every target through without resolving it (tests below the HTTP layer).
pub struct AllowAll;

#[async_trait]
impl TargetGuard for AllowAll {
    async fn resolve(&self, _: &str) -> std::result::Result<Vec<std::net::SocketAddr>, String> {
        Ok(Vec::new())
    }
}

/// Storage for endpoints and deliveries.
#[async_trait]
pub trait WebhookStore {
    /// Seals signing secrets stored before the server had a master key; how many it sealed.
    async fn reseal_webhook_secrets(&self) -> Result<u64, StoreError>;
    /// Inserts an endpoint.
    async fn insert_webhook_endpoint(&self, env: &str, ep: &WebhookEndpoint) -> Result<(), StoreError>;
    /// One endpoint.
    async fn get_webhook_endpoint(&self, env: &str, id: &str) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// A page of endpoints.
    async fn list_webhook_endpoints(&self, env: &str, page: &PageRequest) -> Result<Page<WebhookEndpoint>, StoreError>;
    /// Updates url, events, status and reason.
    async fn update_webhook_endpoint(&self, env: &str, ep: &WebhookEndpoint) -> Result<(), StoreError>;
    /// Deletes an endpoint and its deliveries; false if it did not exist.
    async fn delete_webhook_endpoint(&self, env: &str, id: &str) -> Result<bool, StoreError>;
    /// Claims up to `limit` due deliveries, at most the oldest pending one per endpoint,
    /// for `lease_ms`, counting an attempt on each.
    async fn claim_webhook_deliveries(
        &self, now: Timestamp, lease_ms: i64, limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records an attempt and its outcome (disabling the endpoint on `GiveUp`).
    async fn record_webhook_attempt(
        &self, d: &ClaimedDelivery, attempt: &DeliveryAttempt, outcome: &AttemptOutcome,
    ) -> Result<(), StoreError>;
    /// A page of an endpoint's deliveries, newest first, with their attempts.
    async fn list_webhook_deliveries(
        &self, env: &str, endpoint_id: &str, page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError>;
    /// Makes a delivery due now again; false if it does not exist.
    async fn retry_webhook_delivery(
        &self, env: &str, endpoint_id: &str, event_id: &str, now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// The `WorkOS-Signature` header for `body` sent at `t_ms`:
/// `t=<ms>, v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature_header(secret: &str, t_ms: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t_ms}.").as_bytes());
    mac.update(body);
    format!("t={t_ms}, v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body POSTed for `event`: compact, with the fields every SDK reads.
pub fn delivery_body(event: &Event) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": event.id,
        "object": "event",
        "event": event.event,
        "data": event.data,
        "created_at": event.created_at,
        "context": event.context,
    }))
    .expect("events serialize")
}

/// When to try again after attempt `attempt` (1-based), or `None` when it was the last.
pub fn next_attempt(schedule: &[i64], attempt: i64, now: Timestamp) -> Option<Timestamp> {
    let i = usize::try_from(attempt - 1).ok()?;
    schedule.get(i).map(|delay| now.plus_millis(*delay))
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Webhook Endpoint", id: id.to_owned() }
}

/// Checks the shape of an endpoint URL: absolute http(s) with a host, no credentials.
/// Where it points is checked when it is resolved (see the server's delivery worker).
fn check_url(raw: &str) -> Result<String> {
    let invalid =
        |why: &str| CoreError::Unusable { code: "invalid_url", message: format!("endpoint_url is invalid: {why}.") };
    let (scheme, rest) = raw.split_once("://").ok_or_else(|| invalid("it must be an absolute http(s) URL"))?;
    if !matches!(scheme, "https" | "http") {
        return Err(invalid("the scheme must be https or http"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid("it needs a host and no credentials"));
    }
    if raw.len() > 2048 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it is too long or contains whitespace"));
    }
    Ok(raw.to_owned())
}

fn check_events(events: &[String]) -> Result<()> {
    match events.iter().find(|e| !EVENT_NAMES.contains(&e.as_str())) {
        Some(bad) => {
            Err(CoreError::Unusable { code: "unknown_event_type", message: format!("Unknown event type '{bad}'.") })
        }
        None => Ok(()),
    }
}

fn conflict(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict(_) => CoreError::Conflict {
            code: "duplicate_endpoint",
            message: "A webhook endpoint with this URL already exists.".into(),
        },
        e => e.into(),
    }
}

/// The fields' verdict, each problem with a `message`: the 422 of the webhook endpoint
/// routes lists `{code, message}` items (v0.61 contract), where other routes list
/// `{field, code}`, so the explanations are added here rather than by the fields reader.
fn explained(f: Fields<'_>) -> Result<()> {
    f.finish().map_err(|e| match e {
        CoreError::Invalid(errors) => CoreError::Invalid(errors.into_iter().map(explain).collect()),
        e => e,
    })
}

fn explain(e: FieldError) -> FieldError {
    if e.message.is_some() {
        return e;
    }
    let field = &e.field;
    let message = match (field.as_str(), e.code.as_str()) {
        ("secret", "too_short") => "secret must be at least 16 characters long.".to_owned(),
        ("status", "invalid") => "status must be 'enabled' or 'disabled'.".to_owned(),
        (_, "required") => format!("{field} is required."),
        (_, "invalid_type") => format!("{field} has the wrong type."),
        (_, "too_long") => format!("{field} is too long."),
        (_, "too_many_items") => format!("{field} has too many items."),
        (_, code) => format!("{field} is invalid ({code})."),
    };
    FieldError { message: Some(message), ..e }
}

impl Vestibule {
    async fn check_target(&self, url: &str) -> Result<()> {
        self.webhook_targets.resolve(url).await.map(|_| ()).map_err(|why| CoreError::Unusable {
            code: "invalid_url",
            message: format!("endpoint_url cannot be used: {why}."),
        })
    }

    /// `POST /webhook_endpoints`.
    pub async fn create_webhook_endpoint(&self, env: &str, body: &Value) -> Result<WebhookEndpoint> {
        let mut f = Fields::new(body)?;
        let url = f.required_string("endpoint_url", 2048);
        let events = f.optional_strings("events", EVENT_NAMES.len(), 100);
        let secret = f.optional_string("secret", 200);
        if secret.as_ref().is_some_and(|s| s.len() < 16) {
            f.invalid("secret", "too_short");
        }
        explained(f)?;
        let url = check_url(&url.unwrap_or_default())?;
        self.check_target(&url).await?;
        let mut events = events.unwrap_or_default();
        events.dedup();
        check_events(&events)?;
        let now = Timestamp::now();
        let ep = WebhookEndpoint {
            object: "webhook_endpoint",
            id: vestibule_ids::generate(Kind::WebhookEndpoint),
            endpoint_url: url,
            secret: secret.unwrap_or_else(|| format!("whsec_{}", secrets::random_base62(32))),
            status: "enabled".into(),
            events,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_webhook_endpoint(env, &ep).await.map_err(conflict)?;
        Ok(ep)
    }

    /// One endpoint.
    pub async fn get_webhook_endpoint(&self, env: &str, id: &str) -> Result<WebhookEndpoint> {
        if !plausible(Kind::WebhookEndpoint, id) {
            return Err(not_found(id));
        }
        self.store.get_webhook_endpoint(env, id).await?.ok_or_else(|| not_found(id))
    }

    /// `GET /webhook_endpoints`.
    pub async fn list_webhook_endpoints(&self, env: &str, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        Ok(self.store.list_webhook_endpoints(env, &page).await?)
    }

    /// `PATCH /webhook_endpoints/{id}`: url, events, status. Re-enabling clears the reason.
    pub async fn update_webhook_endpoint(&self, env: &str, id: &str, body: &Value) -> Result<WebhookEndpoint> {
        let mut f = Fields::new(body)?;
        let url = f.optional_string("endpoint_url", 2048);
        let events = f.optional_strings("events", EVENT_NAMES.len(), 100);
        let status = f.optional_string("status", 16);
        if status.as_deref().is_some_and(|s| s != "enabled" && s != "disabled") {
            f.invalid("status", "invalid");
        }
        explained(f)?;
        let mut ep = self.get_webhook_endpoint(env, id).await?;
        if let Some(url) = url {
            ep.endpoint_url = check_url(&url)?;
            self.check_target(&ep.endpoint_url).await?;
        }
        if let Some(mut events) = events {
            events.dedup();
            check_events(&events)?;
            ep.events = events;
        }
        if let Some(status) = status {
            if status == "enabled" {
                ep.disabled_reason = None;
            }
            ep.status = status;
        }
        ep.updated_at = Timestamp::now();
        self.store.update_webhook_endpoint(env, &ep).await.map_err(conflict)?;
        Ok(ep)
    }

    /// `DELETE /webhook_endpoints/{id}`.
    pub async fn delete_webhook_endpoint(&self, env: &str, id: &str) -> Result<()> {
        self.get_webhook_endpoint(env, id).await?;
        if self.store.delete_webhook_endpoint(env, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// `GET /webhook_endpoints/{id}/deliveries` (extension).
    pub async fn list_webhook_deliveries(
        &self, env: &str, id: &str, page: PageRequest,
    ) -> Result<Page<WebhookDelivery>> {
        self.get_webhook_endpoint(env, id).await?;
        Ok(self.store.list_webhook_deliveries(env, id, &page).await?)
    }

    /// `POST /webhook_endpoints/{id}/deliveries/{delivery_id}/retry` (extension).
    pub async fn retry_webhook_delivery(&self, env: &str, id: &str, delivery_id: &str) -> Result<()> {
        self.get_webhook_endpoint(env, id).await?;
        if self.store.retry_webhook_delivery(env, id, delivery_id, Timestamp::now()).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound { entity: "Webhook Delivery", id: delivery_id.to_owned() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_documented_construction() {
        // HMAC-SHA256("secret", "1700000000000.{}") computed independently with Python's hmac.
        let h = signature_header("secret", 1_700_000_000_000, b"{}");
        assert_eq!(h, "t=1700000000000, v1=8399216d111287e3bb28e25c0f4f31dffdf831c68c9ee2b96c2f67c9b81d341b");
    }

    #[test]
    fn schedules_have_twelve_attempts() {
        assert_eq!(PRODUCTION_SCHEDULE_MS.len() + 1, 12);
        let total: i64 = PRODUCTION_SCHEDULE_MS.iter().sum();
        assert!((2 * 24 * 3_600_000..4 * 24 * 3_600_000).contains(&total), "about three days: {total}");
        assert_eq!(DEV_SCHEDULE_MS.len(), PRODUCTION_SCHEDULE_MS.len());
        assert_eq!(next_attempt(DEV_SCHEDULE_MS, 1, Timestamp(0)), Some(Timestamp(100)));
        assert_eq!(next_attempt(DEV_SCHEDULE_MS, 12, Timestamp(0)), None);
    }

    #[test]
    fn urls_and_event_names_are_checked() {
        assert!(check_url("https://example.com/hooks").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("https://user:pw@example.com").is_err());
        assert!(check_url("example.com/hook").is_err());
        assert!(check_events(&["user.created".into()]).is_ok());
        assert!(check_events(&["user.exploded".into()]).is_err());
    }
}
