//! The events table: every mutation appends its event in the same transaction, and
//! `GET /events` and webhooks read from it, oldest first.

pub mod webhooks;

use crate::Vestibule;
use crate::kernel::error::StoreError;
use crate::kernel::error::{CoreError, Result};
use crate::kernel::time::Timestamp;
use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use vestibule_ids::Kind;

/// One event, as stored and as served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Always `event`.
    pub object: &'static str,
    /// `event_…`
    pub id: String,
    /// The event name, e.g. `organization.created`.
    pub event: String,
    /// The payload: the object as it was after the change.
    pub data: Value,
    /// When it happened.
    pub created_at: Timestamp,
    /// Extra context (actor, previous attributes); `{}` when none.
    pub context: Value,
    /// The organization the event concerns, for filtering.
    #[serde(skip)]
    pub organization_id: Option<String>,
    /// The environment it belongs to.
    #[serde(skip)]
    pub environment_id: String,
}

impl Event {
    /// A new event of `name` about `data`, in `environment_id`.
    pub fn new(environment_id: &str, name: &str, data: Value, organization_id: Option<&str>, at: Timestamp) -> Self {
        Event {
            object: "event",
            id: vestibule_ids::generate(Kind::Event),
            event: name.to_owned(),
            data,
            created_at: at,
            context: Value::Object(Default::default()),
            organization_id: organization_id.map(str::to_owned),
            environment_id: environment_id.to_owned(),
        }
    }
}

/// What `GET /events` may filter on.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Event names to include; empty means all.
    pub events: Vec<String>,
    /// Only events about this organization.
    pub organization_id: Option<String>,
    /// Only events at or after this time.
    pub range_start: Option<Timestamp>,
    /// Only events before this time.
    pub range_end: Option<Timestamp>,
    /// Only events after this event id.
    pub after: Option<String>,
    /// Page size, 1–100.
    pub limit: u32,
}

/// Storage for events.
#[async_trait]
pub trait EventStore {
    /// Events of one environment matching `filter`, oldest first, at most `limit`.
    async fn list_events(&self, environment_id: &str, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;
    /// One event.
    async fn get_event(&self, environment_id: &str, id: &str) -> Result<Option<Event>, StoreError>;
}

impl Vestibule {
    /// Lists events oldest first.
    pub async fn list_events(&self, environment_id: &str, filter: EventFilter) -> Result<Vec<Event>> {
        if let (Some(s), Some(e)) = (filter.range_start, filter.range_end)
            && s > e
        {
            return Err(CoreError::field("range_start", "after_range_end"));
        }
        Ok(self.store.list_events(environment_id, &filter).await?)
    }
}
