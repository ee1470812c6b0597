//! The `vestibule` binary's integration tests: the real binary, run as a process against
//! real databases, one module per concern; `common` spawns servers and parses their output.

mod client;
mod commands;
mod common;
mod concurrency;
mod log_secrecy;
mod process;
mod scim_concurrency;
