//! Persistence of users, external identities, sessions and pending logins.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{
    Email, ExternalIdentity, Issuer, NewExternalIdentity, NewUser, PendingLogin, Session,
    SessionId, StateDigest, Subject, User, UserId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a user with this e-mail address already exists")]
    DuplicateEmail,
    #[error("this external identity is already linked to a user")]
    IdentityAlreadyLinked,
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    Internal(BoxError),
}

/// Stores users, their external identities, sessions and pending OpenID Connect logins.
///
/// Implementations MUST compare e-mail addresses as given by `Email` (already case-folded),
/// enforce one user per e-mail and one link per (issuer, subject), delete a user's identities
/// and sessions with the user, and make `take_pending_login` atomic: of two concurrent calls
/// with the same digest, at most one gets the login.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Whether the store can be reached.
    ///
    /// # Errors
    /// `Internal` when it cannot.
    async fn ping(&self) -> Result<(), StoreError>;

    /// # Errors
    /// `DuplicateEmail` when the address is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;

    /// # Errors
    /// `Internal` only.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// # Errors
    /// `Internal` only.
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;

    /// Users ordered by creation, `limit` of them after skipping `offset`.
    ///
    /// # Errors
    /// `Internal` only.
    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, StoreError>;

    /// Sets the disabled flag; `None` when the user does not exist.
    ///
    /// # Errors
    /// `Internal` only.
    async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<Option<User>, StoreError>;

    /// Links an identity to a user.
    ///
    /// # Errors
    /// `UnknownUser` when the user does not exist; `IdentityAlreadyLinked` when the (issuer,
    /// subject) pair is linked already, to this user or another.
    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError>;

    /// Links an identity, or updates the user and e-mail of an existing link of the same
    /// (issuer, subject): seeding twice is not an error.
    ///
    /// # Errors
    /// `UnknownUser` when the user does not exist.
    async fn upsert_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError>;

    /// Removes a link; whether there was one.
    ///
    /// # Errors
    /// `Internal` only.
    async fn unlink_identity(&self, issuer: &Issuer, subject: &Subject)
    -> Result<bool, StoreError>;

    /// # Errors
    /// `Internal` only.
    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError>;

    /// The user an identity is linked to, if any.
    ///
    /// # Errors
    /// `Internal` only.
    async fn user_by_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<User>, StoreError>;

    /// # Errors
    /// `UnknownUser` when the session's user does not exist.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// # Errors
    /// `Internal` only.
    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// Marks a session revoked (idempotent).
    ///
    /// # Errors
    /// `Internal` only.
    async fn revoke_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError>;

    /// # Errors
    /// `Internal` only.
    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError>;

    /// Removes and returns the pending login with this state digest (single use).
    ///
    /// # Errors
    /// `Internal` only.
    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError>;

    /// Deletes pending logins created before `before`; how many.
    ///
    /// # Errors
    /// `Internal` only.
    async fn purge_pending_logins(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// How many pending logins are stored.
    ///
    /// # Errors
    /// `Internal` only.
    async fn count_pending_logins(&self) -> Result<u64, StoreError>;
}
