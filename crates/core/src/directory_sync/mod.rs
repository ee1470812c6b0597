//! Directory sync: directories and their users and groups (the WorkOS read API), and the
//! SCIM 2.0 service that identity providers write through.

pub mod directories;
pub mod model;
pub mod scim;
pub mod scim_auth;
pub mod store;

pub use directories::*;
pub use model::*;
pub use scim_auth::{SCIM_AUTH_TTL, ScimAuthCache};
pub use store::DirectoryStore;
