//! A signed-in user's own identity links: list them, remove one (never the last way in).

use crate::BoxError;
use crate::domain::{
    AuditEvent, AuditKind, AuditOutcome, ExternalIdentity, IdentityError, Issuer, Subject,
};
use crate::ports::OwnUnlink;
use crate::service::{IdentityLinks, Principal, StoreFailed};

#[derive(Debug, thiserror::Error)]
pub enum OwnIdentityError {
    #[error(transparent)]
    InvalidIdentity(#[from] IdentityError),
    #[error("no such identity of the caller")]
    UnknownIdentity,
    /// Removing it would leave the user with no password and no other identity.
    #[error("this identity is the last way to sign in: set a password or link another first")]
    LastLoginMethod,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl IdentityLinks {
    /// The caller's links, oldest first.
    ///
    /// # Errors
    /// `Internal` only.
    pub async fn own_identities(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ExternalIdentity>, StoreFailed> {
        Ok(self.links.identities_of_user(principal.user.id).await?)
    }

    /// Removes one of the caller's links; the sessions started through it end.
    ///
    /// # Errors
    /// `InvalidIdentity`, `UnknownIdentity`, `LastLoginMethod`.
    pub async fn unlink_own_identity(
        &self,
        principal: &Principal,
        issuer: &str,
        subject: &str,
    ) -> Result<(), OwnIdentityError> {
        let (issuer, subject) = (Issuer::new(issuer)?, Subject::new(subject)?);
        let user = principal.user.id;
        let event =
            AuditEvent::new(AuditKind::IdentityUnlinked, AuditOutcome::Success, self.clock.now())
                .user(user)
                .actor(Some(user))
                .from_address(principal.address)
                .detail("issuer", &issuer)
                .detail("subject", &subject);
        let outcome = self
            .links
            .unlink_own_identity(user, &issuer, &subject, &event)
            .await
            .map_err(|e| OwnIdentityError::Internal(e.0))?;
        match outcome {
            OwnUnlink::Removed => Ok(()),
            OwnUnlink::NotLinked => Err(OwnIdentityError::UnknownIdentity),
            OwnUnlink::LastLoginMethod => Err(OwnIdentityError::LastLoginMethod),
        }
    }
}
