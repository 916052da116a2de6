//! Invitations: an administrator invites a local user to link their provider account; the link
//! happens when that person logs in at the provider through the invitation's URL.

use time::Duration;
use uuid::Uuid;

use crate::BoxError;
use crate::domain::{
    AuditEvent, AuditKind, AuditOutcome, Invitation, InvitationStatus, OpaqueToken, UserId,
};
use crate::ports::{InvitationStoreError, StoreError};
use crate::service::{Admin, Invitations, UserLookupError};

/// The default lifetime of an invitation: a week.
pub const DEFAULT_INVITATION_TTL: Duration = Duration::days(7);

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("no such invitation")]
    UnknownInvitation,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for InvitationError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

impl From<InvitationStoreError> for UserLookupError {
    fn from(error: InvitationStoreError) -> Self {
        match error {
            InvitationStoreError::UnknownUser => Self::UnknownUser,
            InvitationStoreError::Internal(e) => Self::Internal(e),
        }
    }
}

/// A new invitation and the URL that redeems it (shown once: only its digest is stored).
#[derive(Debug)]
pub struct IssuedInvitation {
    pub invitation: Invitation,
    pub url: String,
}

impl Invitations {
    /// The URL that begins a provider login carrying `token`.
    fn url(&self, token: &OpaqueToken) -> String {
        format!("{}/auth/oidc/login?invitation={}", self.public_origin, token.expose())
    }

    /// Invites `user_id`: a single-use token of 256 bits from the CSPRNG, valid for the
    /// configured lifetime.
    ///
    /// # Errors
    /// `UnknownUser`.
    pub async fn invite(
        &self,
        admin: &Admin,
        user_id: UserId,
    ) -> Result<IssuedInvitation, UserLookupError> {
        let token = OpaqueToken::random().map_err(|e| UserLookupError::Internal(e.into()))?;
        let now = self.clock.now();
        let invitation = Invitation {
            id: Uuid::now_v7(),
            user_id,
            token: token.digest(),
            created_at: now,
            expires_at: now + self.ttl,
            spent_at: None,
        };
        let event = admin
            .audit(AuditKind::InvitationCreated, user_id, now)
            .detail("invitation", invitation.id);
        self.invitations.create_invitation(&invitation, &event).await?;
        Ok(IssuedInvitation { url: self.url(&token), invitation })
    }

    /// A user's invitations, newest first, each with where it stands now.
    ///
    /// # Errors
    /// `UnknownUser`.
    pub async fn invitations_of_user(
        &self,
        _admin: &Admin,
        user_id: UserId,
    ) -> Result<Vec<(Invitation, InvitationStatus)>, UserLookupError> {
        if self.users.user_by_id(user_id).await?.is_none() {
            return Err(UserLookupError::UnknownUser);
        }
        let now = self.clock.now();
        let invitations = self.invitations.invitations_of_user(user_id).await?;
        Ok(invitations
            .into_iter()
            .map(|i| {
                let status = i.status(now);
                (i, status)
            })
            .collect())
    }

    /// Revokes an invitation: its URL no longer works.
    ///
    /// # Errors
    /// `UnknownInvitation`.
    pub async fn revoke(&self, admin: &Admin, id: Uuid) -> Result<(), InvitationError> {
        let event =
            AuditEvent::new(AuditKind::InvitationRevoked, AuditOutcome::Success, self.clock.now())
                .actor(admin.acting_user())
                .detail("invitation", id);
        match self.invitations.revoke_invitation(id, &event).await? {
            true => Ok(()),
            false => Err(InvitationError::UnknownInvitation),
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use crate::domain::{InvitationStatus, UserId};
    use crate::service::fakes::World;
    use crate::service::{Admin, InvitationError, UserLookupError};

    #[tokio::test]
    async fn an_invitation_is_stored_as_a_digest_and_listed_and_revoked_by_id() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", None, false).await;

        let issued = w.invitations.invite(&admin, ada.id).await.unwrap();
        let token = issued.url.rsplit_once("invitation=").unwrap().1;
        assert_eq!(token.len(), 64, "256 bits in hex");
        assert!(issued.url.starts_with("https://codex.example/auth/oidc/login?invitation="));
        let listed = w.invitations.invitations_of_user(&admin, ada.id).await.unwrap();
        assert_eq!(listed, vec![(issued.invitation.clone(), InvitationStatus::Pending)]);
        assert_ne!(format!("{:?}", listed[0].0.token), token);

        let nobody = w.invitations.invite(&admin, UserId::new()).await;
        assert!(matches!(nobody, Err(UserLookupError::UnknownUser)), "{nobody:?}");
        w.invitations.revoke(&admin, issued.invitation.id).await.unwrap();
        let again = w.invitations.revoke(&admin, issued.invitation.id).await;
        assert!(matches!(again, Err(InvitationError::UnknownInvitation)), "{again:?}");
        let unknown = w.invitations.revoke(&admin, Uuid::nil()).await;
        assert!(matches!(unknown, Err(InvitationError::UnknownInvitation)), "{unknown:?}");
    }
}
