//! Invitations to link a provider account to a chosen local user.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::BoxError;
use crate::domain::{
    AuditEvent, ExternalIdentity, Invitation, TokenDigest, UserId, VerifiedIdentity,
};
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum InvitationStoreError {
    #[error("no such user")]
    UnknownUser,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for InvitationStoreError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// Unknown, spent, expired or revoked.
    #[error("the invitation is unknown, spent or expired")]
    InvalidInvitation,
    /// The identity is linked to another user; the invitation stays unspent.
    #[error("this external identity is linked to another user")]
    AlreadyLinked,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for RedeemError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

/// Stores invitations under the digest of their token. Methods that take an `AuditEvent` record
/// it in the same transaction as the change, only when it happens.
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// # Errors
    /// `UnknownUser` when the invited user does not exist.
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        audit: &AuditEvent,
    ) -> Result<(), InvitationStoreError>;

    /// A user's invitations, newest first.
    ///
    /// # Errors
    /// When the store fails.
    async fn invitations_of_user(&self, user: UserId) -> Result<Vec<Invitation>, StoreError>;

    /// # Errors
    /// When the store fails.
    async fn invitation_by_token(
        &self,
        token: &TokenDigest,
    ) -> Result<Option<Invitation>, StoreError>;

    /// Deletes an invitation (spent or not); whether there was one.
    ///
    /// # Errors
    /// When the store fails.
    async fn revoke_invitation(&self, id: Uuid, audit: &AuditEvent) -> Result<bool, StoreError>;

    /// Atomically: spends the invitation `id` if it is unspent and unexpired at `at` and its user
    /// is enabled (else `InvalidInvitation`, nothing spent), and links
    /// `identity` to the invited user when it is linked to nobody (recording `audit`, with the
    /// invited user, then). An identity linked to the invited user already is kept as it is.
    ///
    /// MUST change nothing on error: of two concurrent redemptions at most one succeeds.
    ///
    /// # Errors
    /// `InvalidInvitation`; `AlreadyLinked` when the identity is linked to another user.
    async fn redeem_invitation(
        &self,
        id: Uuid,
        identity: &VerifiedIdentity,
        at: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<ExternalIdentity, RedeemError>;
}
