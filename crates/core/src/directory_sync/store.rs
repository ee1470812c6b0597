//! What Directory Sync needs from the store.

use super::model::*;
use crate::events::Event;
use crate::kernel::error::Result;
use crate::kernel::error::StoreError;
use crate::kernel::pagination::{Page, PageRequest};
use crate::kernel::time::Timestamp;
use async_trait::async_trait;

/// Storage for directories, their users, groups and memberships. Each write commits its
/// events with it; every query is scoped by environment (and directory where it applies).
#[async_trait]
pub trait DirectoryStore {
    /// Inserts a directory.
    async fn insert_directory(
        &self, env: &str, d: &Directory, token_digest: &str, events: &[Event],
    ) -> Result<(), StoreError>;
    /// One directory.
    async fn get_directory(&self, env: &str, id: &str) -> Result<Option<Directory>, StoreError>;
    /// A directory by the key in its SCIM URL, across environments.
    async fn find_directory_by_key(&self, external_key: &str) -> Result<Option<DirectoryCredentials>, StoreError>;
    /// A page of directories.
    async fn list_directories(
        &self, env: &str, filter: &DirectoryFilter, page: &PageRequest,
    ) -> Result<Page<Directory>, StoreError>;
    /// Replaces a directory's name and mapping; with `remap`, also recomputes every one of
    /// its users' `custom_attributes` with the new mapping, in the same transaction. False
    /// if the directory does not exist.
    async fn update_directory(&self, env: &str, d: &Directory, remap: bool) -> Result<bool, StoreError>;
    /// Replaces the token digest; false if the directory does not exist.
    async fn set_directory_token(
        &self, env: &str, id: &str, token_digest: &str, at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Moves the directory to `linked` and records `event`, unless it already is.
    async fn activate_directory(&self, env: &str, id: &str, at: Timestamp, event: &Event) -> Result<bool, StoreError>;
    /// Deletes a directory with its users, groups and memberships.
    async fn delete_directory(&self, env: &str, id: &str, events: &[Event]) -> Result<bool, StoreError>;

    /// Inserts a user; `Conflict("directory_users.user_name")` when its userName is taken.
    async fn insert_directory_user(&self, env: &str, u: &DirectoryUser, events: &[Event]) -> Result<(), StoreError>;
    /// One user.
    async fn get_directory_user(&self, env: &str, id: &str) -> Result<Option<DirectoryUser>, StoreError>;
    /// Several users of one directory (missing ones are left out).
    async fn get_directory_users(
        &self, env: &str, directory_id: &str, ids: &[String],
    ) -> Result<Vec<DirectoryUser>, StoreError>;
    /// Replaces a user if its version is still `expected_version`.
    async fn update_directory_user(
        &self, env: &str, u: &DirectoryUser, expected_version: i64, events: &[Event],
    ) -> Result<(), StoreError>;
    /// Deletes a user and its memberships.
    async fn delete_directory_user(
        &self, env: &str, directory_id: &str, id: &str, events: &[Event],
    ) -> Result<bool, StoreError>;
    /// Users of a directory matching a SCIM filter, ordered by id, from 0-based `offset`.
    async fn query_directory_users(
        &self, env: &str, directory_id: &str, cond: &crate::directory_sync::scim::Cond, offset: u64, count: u64,
    ) -> Result<ScimPage<DirectoryUser>, StoreError>;
    /// A page of users for the WorkOS API.
    async fn list_directory_users(
        &self, env: &str, filter: &DirectoryMemberFilter, page: &PageRequest,
    ) -> Result<Page<DirectoryUser>, StoreError>;
    /// The groups of each of these users, as `(user_id, group)` pairs.
    async fn groups_of_users(
        &self, env: &str, user_ids: &[String],
    ) -> Result<Vec<(String, DirectoryGroup)>, StoreError>;

    /// Inserts a group with its first members (events for each included).
    async fn insert_directory_group(
        &self, env: &str, g: &DirectoryGroup, members: &[String], events: &[Event],
    ) -> Result<(), StoreError>;
    /// One group.
    async fn get_directory_group(&self, env: &str, id: &str) -> Result<Option<DirectoryGroup>, StoreError>;
    /// In one transaction: replaces the group row (when given, if its version is still the
    /// expected one), records `events`, then applies each membership change as a single
    /// statement, recording its event only when a row really changed.
    async fn change_group(
        &self, env: &str, directory_id: &str, group_id: &str, change: &GroupChange<'_>,
    ) -> Result<MemberCounts, StoreError>;
    /// Deletes a group and its memberships.
    async fn delete_directory_group(
        &self, env: &str, directory_id: &str, id: &str, events: &[Event],
    ) -> Result<bool, StoreError>;
    /// Groups of a directory matching a SCIM filter, ordered by id, from 0-based `offset`.
    async fn query_directory_groups(
        &self, env: &str, directory_id: &str, cond: &crate::directory_sync::scim::Cond, offset: u64, count: u64,
    ) -> Result<ScimPage<DirectoryGroup>, StoreError>;
    /// A page of groups for the WorkOS API.
    async fn list_directory_groups(
        &self, env: &str, filter: &DirectoryMemberFilter, page: &PageRequest,
    ) -> Result<Page<DirectoryGroup>, StoreError>;
    /// The member ids of a group, in id order.
    async fn group_member_ids(&self, env: &str, group_id: &str) -> Result<Vec<String>, StoreError>;
    /// `(group_id, user_id, userName)` of every membership of these groups.
    async fn group_members(&self, env: &str, group_ids: &[String])
    -> Result<Vec<(String, String, String)>, StoreError>;
}
