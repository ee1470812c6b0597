//! What every area stands on: errors, the request-fields reader, pagination, time,
//! caches, idempotency, rate limits, group commit, secrets and sealing. Nothing in the
//! kernel names a product area, except the caches keyed by a caller and the audit-log
//! event writer's payload type.

pub mod cache;
pub mod error;
pub mod fields;
pub mod group_commit;
pub mod idempotency;
pub mod pagination;
pub mod rate_limit;
pub mod sealing;
pub mod secrets;
pub mod time;
