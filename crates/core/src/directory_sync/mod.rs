//! Directory sync: directories and their users and groups (the WorkOS read API), and the
//! SCIM 2.0 service that identity providers write through.

pub mod directories;
pub mod scim;
