//! Links from an OpenID Provider's (issuer, subject) to local users.

use async_trait::async_trait;

use crate::BoxError;
use crate::domain::{
    AuditEvent, ExternalIdentity, Issuer, NewExternalIdentity, Subject, User, UserId,
};
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LinkStoreError {
    #[error("this external identity is already linked to a user")]
    AlreadyLinked,
    #[error("no such user")]
    UnknownUser,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for LinkStoreError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

/// What removing one of a user's own links did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnUnlink {
    Removed,
    /// The user has no such link.
    NotLinked,
    /// Refused: the user has no password and no other link, so could no longer sign in.
    LastLoginMethod,
}

/// Stores identity links. Methods that take an `AuditEvent` record it in the same transaction as
/// the change, only when it happens; an event without `user_id` gets the link's user. Removing a
/// link, or moving it to another user, revokes the sessions started through it in the same
/// transaction (at the audit event's time).
///
/// Implementations MUST keep at most one link per (issuer, subject), compared byte for byte.
#[async_trait]
pub trait IdentityLinkStore: Send + Sync {
    /// Links an identity to a user.
    ///
    /// # Errors
    /// `UnknownUser` when the user does not exist; `AlreadyLinked` when the (issuer, subject)
    /// pair is linked already, to this user or another.
    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError>;

    /// Links an identity, or moves an existing link of the same (issuer, subject) to this user
    /// and e-mail address (so seeding twice is not an error).
    ///
    /// # Errors
    /// `UnknownUser` when the user does not exist.
    async fn link_or_update_identity(
        &self,
        identity: NewExternalIdentity,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError>;

    /// Removes a link, whoever it belongs to; whether there was one.
    ///
    /// # Errors
    /// When the store fails.
    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Removes a link only if it belongs to `user`; whether there was one.
    ///
    /// # Errors
    /// When the store fails.
    async fn unlink_identity_of(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    /// Removes a link of `user`, unless it is their last way to sign in (no password and no
    /// other link), decided atomically with the removal: of two concurrent removals of a
    /// passwordless user's last two links, one is refused.
    ///
    /// # Errors
    /// When the store fails.
    async fn unlink_own_identity(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        audit: &AuditEvent,
    ) -> Result<OwnUnlink, StoreError>;

    /// A user's links, oldest first.
    ///
    /// # Errors
    /// When the store fails.
    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError>;

    /// The user an identity is linked to, if any.
    ///
    /// # Errors
    /// When the store fails.
    async fn user_by_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<User>, StoreError>;
}
