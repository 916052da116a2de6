//! Local users.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{AuditEvent, Email, NewUser, PasswordHash, User, UserId};
use crate::ports::{RevokeScope, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum UserStoreError {
    #[error("a user with this e-mail address already exists")]
    DuplicateEmail,
    #[error("a user with this id already exists")]
    DuplicateId,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for UserStoreError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

/// What disabling a user did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisableOutcome {
    Disabled(User),
    /// Refused: the user is the last enabled administrator.
    LastAdmin,
    UnknownUser,
}

/// Stores local users. Methods that take an `AuditEvent` record it in the same transaction as
/// the change (and only when the change happens).
///
/// Implementations MUST compare e-mail addresses as given by `Email` (already case-folded) and
/// keep at most one user per address.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// # Errors
    /// `DuplicateEmail` when the address is taken; `DuplicateId` when the id is.
    async fn create_user(&self, user: NewUser, audit: &AuditEvent) -> Result<User, UserStoreError>;

    /// # Errors
    /// When the store fails.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// # Errors
    /// When the store fails.
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;

    /// Users ordered by creation (then id), `limit` of them after skipping `offset`.
    ///
    /// # Errors
    /// When the store fails.
    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, StoreError>;

    /// Marks the user disabled (at `at`) and revokes all of their sessions, unless they are the
    /// last enabled administrator, in one atomic step.
    ///
    /// # Errors
    /// When the store fails.
    async fn disable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<DisableOutcome, StoreError>;

    /// Marks the user enabled (at `at`) and returns it; `None` when there is no such user.
    ///
    /// # Errors
    /// When the store fails.
    async fn enable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// Replaces a user's password hash and, in the same transaction, revokes the sessions in
    /// `revoke` (when given) and records `audit` (when given; its detail gains
    /// `sessions_revoked`); whether the user exists.
    ///
    /// # Errors
    /// When the store fails.
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        at: OffsetDateTime,
        revoke: Option<&RevokeScope>,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError>;

    /// Deletes a user together with their identity links and sessions; whether there was one.
    ///
    /// # Errors
    /// When the store fails.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
}
