//! `user-management` tag: users, organization memberships and invitations.

pub mod invitations;
pub mod memberships;
pub mod users;
