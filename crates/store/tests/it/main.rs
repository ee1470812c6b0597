//! The store's integration tests, one module per area: the core's use cases over the
//! real store on SQLite and PostgreSQL (`vestibule_test_support::conformance!` runs each
//! case on both), plus sealing, planner statistics and the schemas of the two engines.

mod audit_logs;
mod authentication;
mod directory_sync;
mod organizations;
mod schema;
mod sealing;
mod sso;
mod statistics;
mod user_management;
