//! The server's integration tests, one module per area: the real router on
//! `127.0.0.1:0` over a fresh database, driven over HTTP.

mod audit_logs;
mod directory_sync;
mod events;
mod organizations;
mod sign_in;
mod sso;
mod user_management;
