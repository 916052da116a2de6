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
