//! Organizations and their domains: the customers of the application, and the email
//! domains they own (verified by a DNS TXT record).

pub mod dns;

use crate::events::Event;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::fields::{Fields, Patch};
use crate::kernel::pagination::{HasId, Page, PageRequest};
use crate::kernel::time::Timestamp;
use crate::{Vestibule, kernel::secrets};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use vestibule_ids::Kind;

/// How long a domain may stay pending before a failed lookup fails it for good, by default.
pub const VERIFICATION_PERIOD_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Most domains one organization may carry.
pub const MAX_DOMAINS: usize = 100;

/// An organization, exactly as the API serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Organization {
    /// Always `organization`.
    pub object: &'static str,
    /// `org_…`
    pub id: String,
    /// Display name; need not be unique.
    pub name: String,
    /// Whether SSO profiles outside the organization's domains may sign in.
    pub allow_profiles_outside_organization: bool,
    /// Its domains.
    pub domains: Vec<OrganizationDomain>,
    /// Key/value metadata.
    pub metadata: BTreeMap<String, String>,
    /// The application's own id for it, unique per environment.
    pub external_id: Option<String>,
    /// Stripe customer id, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_customer_id: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency counter, bumped by every update.
    #[serde(skip)]
    pub version: i64,
}

impl HasId for Organization {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A domain of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationDomain {
    /// Always `organization_domain`.
    pub object: &'static str,
    /// `org_domain_…`
    pub id: String,
    /// The owning organization.
    pub organization_id: String,
    /// The domain name, lowercase.
    pub domain: String,
    /// `pending`, `verified` or `failed`.
    pub state: String,
    /// `dns` (proved by a TXT record) or `manual` (asserted by the application).
    pub verification_strategy: String,
    /// The TXT record value that proves ownership.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_token: Option<String>,
    /// The label under the domain where the TXT record goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_prefix: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl OrganizationDomain {
    fn new(organization_id: &str, domain: String, state: &str, strategy: &str, now: Timestamp) -> Self {
        let dns = strategy == "dns";
        OrganizationDomain {
            object: "organization_domain",
            id: vestibule_ids::generate(Kind::OrganizationDomain),
            organization_id: organization_id.to_owned(),
            verification_prefix: dns.then(|| verification_prefix(organization_id)),
            verification_token: dns.then(|| secrets::random_base62(25)),
            domain,
            state: state.to_owned(),
            verification_strategy: strategy.to_owned(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The DNS name that must carry the TXT record.
    pub fn verification_name(&self) -> Option<String> {
        self.verification_prefix.as_ref().map(|p| format!("{p}.{}", self.domain))
    }
}

fn verification_prefix(organization_id: &str) -> String {
    let tail: String = organization_id.chars().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
    format!("vestibule-domain-verification-{}", tail.to_ascii_lowercase())
}

/// Filters of `GET /organizations`.
#[derive(Debug, Clone, Default)]
pub struct OrganizationFilter {
    /// Organizations having any of these domains.
    pub domains: Vec<String>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

/// Storage for organizations and domains. Each write commits its events with it.
#[async_trait]
pub trait OrganizationStore {
    /// Inserts an organization with its domains.
    async fn insert_organization(&self, env: &str, org: &Organization, events: &[Event]) -> Result<(), StoreError>;
    /// One organization with its domains.
    async fn get_organization(&self, env: &str, id: &str) -> Result<Option<Organization>, StoreError>;
    /// One organization by the application's external id.
    async fn get_organization_by_external_id(
        &self, env: &str, external_id: &str,
    ) -> Result<Option<Organization>, StoreError>;
    /// Replaces an organization row and its domain set if its version is still `expected_version`.
    async fn update_organization(
        &self, env: &str, org: &Organization, expected_version: i64, events: &[Event],
    ) -> Result<(), StoreError>;
    /// Deletes an organization and its domains; false if it did not exist.
    async fn delete_organization(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
    /// A page of organizations.
    async fn list_organizations(
        &self, env: &str, filter: &OrganizationFilter, page: &PageRequest,
    ) -> Result<Page<Organization>, StoreError>;
    /// Inserts one domain.
    async fn insert_organization_domain(
        &self, env: &str, domain: &OrganizationDomain, events: &[Event],
    ) -> Result<(), StoreError>;
    /// One domain.
    async fn get_organization_domain(&self, env: &str, id: &str) -> Result<Option<OrganizationDomain>, StoreError>;
    /// Updates a domain's state.
    async fn update_organization_domain(
        &self, env: &str, domain: &OrganizationDomain, events: &[Event],
    ) -> Result<(), StoreError>;
    /// Deletes one domain; false if it did not exist.
    async fn delete_organization_domain(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;
}

/// Parses and normalizes a domain name: lowercase, at least two labels of letters,
/// digits and inner hyphens, 253 characters at most.
pub fn parse_domain(raw: &str) -> Option<String> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() || d.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    let ok = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    ok.then_some(d)
}

/// Domains as a request states them: `domains` (names) or `domain_data` (with state).
fn read_domains(f: &mut Fields<'_>) -> Option<Vec<(String, Option<String>)>> {
    let plain = f.optional_strings("domains", MAX_DOMAINS, 253);
    let data = f.optional_objects("domain_data", MAX_DOMAINS, |d| {
        let domain = d.required_string("domain", 253);
        let state = d.required_string("state", 20);
        if let Some(s) = &state
            && s != "pending"
            && s != "verified"
        {
            d.invalid("state", "invalid");
            return None;
        }
        Some((domain?, state))
    });
    if plain.is_none() && data.is_none() {
        return None;
    }
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let named = plain.unwrap_or_default().into_iter().map(|d| (d, None));
    for (i, (raw, state)) in named.chain(data.unwrap_or_default()).enumerate() {
        match parse_domain(&raw) {
            Some(d) if !out.iter().any(|(o, _)| *o == d) => out.push((d, state)),
            Some(_) => {}
            None => f.invalid(&format!("domains[{i}]"), "invalid_domain"),
        }
    }
    Some(out)
}

fn not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Organization", id: id.to_owned() }
}

fn domain_not_found(id: &str) -> CoreError {
    CoreError::NotFound { entity: "Organization Domain", id: id.to_owned() }
}

fn map_conflict(e: StoreError) -> CoreError {
    match e {
        StoreError::Conflict("organization_domains.domain") => CoreError::Conflict {
            code: "domain_already_exists",
            message: "This domain is already used by another organization.".into(),
        },
        StoreError::Conflict("organizations.external_id") => CoreError::refused(
            "external_id_already_used",
            "An organization with this external_id already exists.".into(),
        ),
        e => e.into(),
    }
}

use crate::{plausible, to_json};

impl Vestibule {
    /// Awaits a write to organizations or their domains, then drops the environment's
    /// cached reads: after the commit, and whatever the outcome, so none can outlive it.
    async fn written<T>(&self, env: &str, write: impl std::future::Future<Output = T>) -> T {
        let outcome = write.await;
        self.organizations_cache.invalidate(env);
        outcome
    }

    /// `POST /organizations`.
    pub async fn create_organization(&self, env: &str, body: &Value) -> Result<Organization> {
        let mut f = Fields::new(body)?;
        let name = f.required_string("name", 255);
        let allow = f.optional_bool("allow_profiles_outside_organization");
        let domains = read_domains(&mut f);
        let metadata = f.metadata("metadata");
        let external_id = f.optional_string("external_id", 128);
        let stripe = f.optional_string("stripe_customer_id", 255);
        f.finish()?;
        let now = Timestamp::now();
        let id = vestibule_ids::generate(Kind::Organization);
        let domains = domains
            .unwrap_or_default()
            .into_iter()
            .map(|(d, state)| OrganizationDomain::new(&id, d, state.as_deref().unwrap_or("pending"), "manual", now))
            .collect();
        let org = Organization {
            object: "organization",
            id,
            name: name.unwrap_or_default(),
            allow_profiles_outside_organization: allow.unwrap_or(false),
            domains,
            metadata: match metadata {
                Patch::Set(m) => m,
                _ => BTreeMap::new(),
            },
            external_id: external_id.filter(|s| !s.is_empty()),
            stripe_customer_id: stripe.filter(|s| !s.is_empty()),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let event = Event::new(env, "organization.created", to_json(&org), Some(&org.id), now);
        self.written(env, self.store.insert_organization(env, &org, &[event])).await.map_err(map_conflict)?;
        Ok(org)
    }

    /// Inserts an organization exactly as given (seed files pin ids and domains).
    pub async fn seed_organization(&self, env: &str, org: &Organization) -> Result<()> {
        let event = Event::new(env, "organization.created", to_json(org), Some(&org.id), org.created_at);
        self.written(env, self.store.insert_organization(env, org, &[event])).await.map_err(map_conflict)
    }

    /// `GET /organizations/{id}`.
    pub async fn get_organization(&self, env: &str, id: &str) -> Result<Organization> {
        if !plausible(Kind::Organization, id) {
            return Err(not_found(id));
        }
        self.store.get_organization(env, id).await?.ok_or_else(|| not_found(id))
    }

    /// `GET /organizations/{id}` serialized, from [`Vestibule::organizations_cache`] while
    /// nothing in the environment has been written since it was read.
    pub async fn organization_json(&self, env: &str, id: &str) -> Result<bytes::Bytes> {
        self.organizations_cache
            .get_or_read(env, &["id/", id].concat(), async {
                let org = self.get_organization(env, id).await?;
                Ok(bytes::Bytes::from(serde_json::to_vec(&org).expect("organizations serialize")))
            })
            .await
    }

    /// `GET /organizations/external_id/{external_id}`.
    pub async fn get_organization_by_external_id(&self, env: &str, external_id: &str) -> Result<Organization> {
        // No stored key holds a NUL character (the edge refuses them): it names nothing.
        if external_id.is_empty() || external_id.len() > 128 || external_id.contains('\0') {
            return Err(not_found(external_id));
        }
        self.store.get_organization_by_external_id(env, external_id).await?.ok_or_else(|| not_found(external_id))
    }

    /// `PUT /organizations/{id}`: absent fields keep their value, `null` clears.
    pub async fn update_organization(&self, env: &str, id: &str, body: &Value) -> Result<Organization> {
        let mut f = Fields::new(body)?;
        let name = f.optional_string("name", 255);
        if name.as_deref() == Some("") {
            f.invalid("name", "required");
        }
        let allow = f.optional_bool("allow_profiles_outside_organization");
        let domains = read_domains(&mut f);
        let metadata = f.metadata("metadata");
        let external_id = f.patch_string("external_id", 128);
        let stripe = f.patch_string("stripe_customer_id", 255);
        f.finish()?;
        // Optimistic concurrency: re-read and re-apply when another writer got there first.
        for _ in 0..5 {
            let current = self.get_organization(env, id).await?;
            let now = Timestamp::now();
            let mut org = current.clone();
            if let Some(n) = &name {
                org.name = n.clone();
            }
            if let Some(a) = allow {
                org.allow_profiles_outside_organization = a;
            }
            match &metadata {
                Patch::Keep => {}
                Patch::Clear => org.metadata.clear(),
                Patch::Set(m) => org.metadata = m.clone(),
            }
            match &external_id {
                Patch::Keep => {}
                Patch::Clear => org.external_id = None,
                Patch::Set(e) => org.external_id = Some(e.clone()).filter(|s| !s.is_empty()),
            }
            match &stripe {
                Patch::Keep => {}
                Patch::Clear => org.stripe_customer_id = None,
                Patch::Set(s) => org.stripe_customer_id = Some(s.clone()).filter(|s| !s.is_empty()),
            }
            // Domain changes are recorded after the organization's own event, in that order.
            let mut domain_events: Vec<(&str, Value)> = Vec::new();
            if let Some(wanted) = &domains {
                let mut next = Vec::with_capacity(wanted.len());
                for (d, state) in wanted {
                    match current.domains.iter().find(|c| &c.domain == d) {
                        Some(c) => {
                            let mut c = c.clone();
                            if let Some(s) = state
                                && *s != c.state
                            {
                                c.state = s.clone();
                                c.updated_at = now;
                                domain_events.push(("organization_domain.updated", to_json(&c)));
                            }
                            next.push(c);
                        }
                        None => {
                            let created = OrganizationDomain::new(
                                id,
                                d.clone(),
                                state.as_deref().unwrap_or("pending"),
                                "manual",
                                now,
                            );
                            domain_events.push(("organization_domain.created", to_json(&created)));
                            next.push(created);
                        }
                    }
                }
                for gone in current.domains.iter().filter(|c| !next.iter().any(|n| n.id == c.id)) {
                    domain_events.push(("organization_domain.deleted", to_json(gone)));
                }
                org.domains = next;
            }
            org.updated_at = now;
            org.version = current.version + 1;
            let mut events = vec![Event::new(env, "organization.updated", to_json(&org), Some(id), now)];
            events.extend(domain_events.into_iter().map(|(name, data)| Event::new(env, name, data, Some(id), now)));
            match self.written(env, self.store.update_organization(env, &org, current.version, &events)).await {
                Ok(()) => return Ok(org),
                Err(StoreError::Contended) => continue,
                Err(e) => return Err(map_conflict(e)),
            }
        }
        Err(CoreError::Conflict {
            code: "concurrent_update",
            message: "The organization changed concurrently; retry.".into(),
        })
    }

    /// `DELETE /organizations/{id}`.
    pub async fn delete_organization(&self, env: &str, id: &str) -> Result<()> {
        let org = self.get_organization(env, id).await?;
        let now = Timestamp::now();
        let event = Event::new(env, "organization.deleted", to_json(&org), Some(id), now);
        if self.written(env, self.store.delete_organization(env, id, &[event])).await? {
            Ok(())
        } else {
            Err(not_found(id))
        }
    }

    /// `GET /organizations`.
    pub async fn list_organizations(
        &self, env: &str, filter: OrganizationFilter, page: PageRequest,
    ) -> Result<Page<Organization>> {
        let mut filter = filter;
        let asked = !filter.domains.is_empty();
        // A value that is not a domain names no organization's domain: it matches nothing,
        // and a filter of such values only matches no organization (never every one).
        filter.domains = filter.domains.iter().filter_map(|d| parse_domain(d)).collect();
        if asked && filter.domains.is_empty() {
            return Ok(Page { data: Vec::new(), before: None, after: None });
        }
        Ok(self.store.list_organizations(env, &filter, &page).await?)
    }

    /// `POST /organization_domains`: a domain to be proved by DNS.
    pub async fn create_organization_domain(&self, env: &str, body: &Value) -> Result<OrganizationDomain> {
        let mut f = Fields::new(body)?;
        let domain = f.required_string("domain", 253);
        let org_id = f.required_string("organization_id", 100);
        let domain = domain.and_then(|d| {
            let parsed = parse_domain(&d);
            if parsed.is_none() {
                f.invalid("domain", "invalid_domain");
            }
            parsed
        });
        f.finish()?;
        let (domain, org_id) = (domain.unwrap_or_default(), org_id.unwrap_or_default());
        let org = self.get_organization(env, &org_id).await?;
        if org.domains.len() >= MAX_DOMAINS {
            return Err(CoreError::field("domain", "too_many_domains"));
        }
        let now = Timestamp::now();
        let d = OrganizationDomain::new(&org.id, domain, "pending", "dns", now);
        let event = Event::new(env, "organization_domain.created", to_json(&d), Some(&org.id), now);
        self.written(env, self.store.insert_organization_domain(env, &d, &[event])).await.map_err(map_conflict)?;
        Ok(d)
    }

    /// `GET /organization_domains/{id}`.
    pub async fn get_organization_domain(&self, env: &str, id: &str) -> Result<OrganizationDomain> {
        if !plausible(Kind::OrganizationDomain, id) {
            return Err(domain_not_found(id));
        }
        self.store.get_organization_domain(env, id).await?.ok_or_else(|| domain_not_found(id))
    }

    /// `DELETE /organization_domains/{id}`.
    pub async fn delete_organization_domain(&self, env: &str, id: &str) -> Result<()> {
        let d = self.get_organization_domain(env, id).await?;
        let event =
            Event::new(env, "organization_domain.deleted", to_json(&d), Some(&d.organization_id), Timestamp::now());
        if self.written(env, self.store.delete_organization_domain(env, id, &[event])).await? {
            Ok(())
        } else {
            Err(domain_not_found(id))
        }
    }

    /// `POST /organization_domains/{id}/verify`: looks up the TXT record now.
    pub async fn verify_organization_domain(&self, env: &str, id: &str) -> Result<OrganizationDomain> {
        let mut d = self.get_organization_domain(env, id).await?;
        if d.state == "verified" {
            return Err(CoreError::refused("domain_already_verified", "Domain is already verified.".into()));
        }
        let (Some(name), Some(token)) = (d.verification_name(), d.verification_token.clone()) else {
            return Err(CoreError::refused(
                "domain_verification_not_available",
                "This domain is not verified by DNS.".into(),
            ));
        };
        let records = self.dns.txt(&name).await.map_err(CoreError::Unavailable)?;
        let found = records.iter().any(|r| secrets::digests_match(r.trim(), &token));
        let now = Timestamp::now();
        let event = if found {
            d.state = "verified".into();
            d.updated_at = now;
            Event::new(env, "organization_domain.verified", to_json(&d), Some(&d.organization_id), now)
        } else if now.millis() - d.created_at.millis() >= self.domain_verification_period_ms {
            d.state = "failed".into();
            d.updated_at = now;
            let data = serde_json::json!({"reason": "domain_verification_period_expired", "organization_domain": d});
            Event::new(env, "organization_domain.verification_failed", data, Some(&d.organization_id), now)
        } else {
            // Not there yet: DNS changes take time to propagate, so the domain stays
            // pending and can be verified again until the period runs out.
            return Ok(d);
        };
        self.written(env, self.store.update_organization_domain(env, &d, &[event])).await?;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_and_checked() {
        assert_eq!(parse_domain(" Foo-Corp.COM. ").as_deref(), Some("foo-corp.com"));
        assert_eq!(parse_domain("localhost"), None);
        assert_eq!(parse_domain("-bad.com"), None);
        assert_eq!(parse_domain("a..com"), None);
        assert_eq!(parse_domain("ex ample.com"), None);
        assert_eq!(parse_domain(&format!("{}.com", "a".repeat(64))), None);
    }

    #[test]
    fn dns_domains_carry_prefix_and_token() {
        let d =
            OrganizationDomain::new("org_01EHWNCE74X7JSDV0X3SZ3KJNY", "foo.com".into(), "pending", "dns", Timestamp(0));
        assert_eq!(d.verification_prefix.as_deref(), Some("vestibule-domain-verification-z3kjny"));
        assert_eq!(d.verification_token.as_ref().map(String::len), Some(25));
        assert_eq!(d.verification_name().unwrap(), "vestibule-domain-verification-z3kjny.foo.com");
        let m = OrganizationDomain::new("org_X", "foo.com".into(), "verified", "manual", Timestamp(0));
        assert!(m.verification_token.is_none());
    }
}
