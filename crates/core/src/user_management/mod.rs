//! User management: users, organization memberships, invitations, password hashing and
//! the mail outbox that carries invitations.

pub mod invitations;
pub mod mail;
pub mod memberships;
pub mod passwords;
pub mod users;
