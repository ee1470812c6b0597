//! The outbound ports of the core, implemented for the real world: DNS TXT lookups,
//! SMTP mail, OIDC discovery and token calls, and the webhook target guard.

pub mod dns;
pub mod mailer;
pub mod oidc_http;
pub mod webhook_guard;
