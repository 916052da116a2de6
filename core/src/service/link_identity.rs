//! Link external identities to local users, by hand: never automatically by e-mail.

use crate::BoxError;
use crate::domain::{
    AuditEvent, AuditKind, AuditOutcome, Email, EmailError, ExternalIdentity, IdentityError,
    Issuer, NewExternalIdentity, Subject, UserId,
};
use crate::ports::{LinkStoreError, StoreError};
use crate::service::{Admin, IdentityLinks, UserLookupError};

#[derive(Debug, thiserror::Error)]
pub enum IdentityLinkError {
    #[error(transparent)]
    InvalidIdentity(#[from] IdentityError),
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    #[error("no such user")]
    UnknownUser,
    #[error("this external identity is already linked to a user")]
    AlreadyLinked,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Removing a link.
#[derive(Debug, thiserror::Error)]
pub enum UnlinkIdentityError {
    #[error(transparent)]
    InvalidIdentity(#[from] IdentityError),
    #[error("no such external identity")]
    UnknownIdentity,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for UnlinkIdentityError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

impl From<LinkStoreError> for IdentityLinkError {
    fn from(error: LinkStoreError) -> Self {
        match error {
            LinkStoreError::UnknownUser => Self::UnknownUser,
            LinkStoreError::AlreadyLinked => Self::AlreadyLinked,
            LinkStoreError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<StoreError> for IdentityLinkError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

/// The request to link (issuer, subject) to a user.
#[derive(Debug)]
pub struct LinkIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub user_id: UserId,
    pub email: Option<&'a str>,
}

impl IdentityLinks {
    fn event(&self, admin: &Admin, kind: AuditKind, identity: &NewExternalIdentity) -> AuditEvent {
        admin
            .audit(kind, identity.user_id, identity.created_at)
            .detail("issuer", &identity.issuer)
            .detail("subject", &identity.subject)
    }

    fn unlink_event(&self, admin: &Admin, issuer: &Issuer, subject: &Subject) -> AuditEvent {
        AuditEvent::new(AuditKind::IdentityUnlinked, AuditOutcome::Success, self.clock.now())
            .actor(admin.acting_user())
            .detail("issuer", issuer)
            .detail("subject", subject)
    }

    fn parse(&self, request: LinkIdentity<'_>) -> Result<NewExternalIdentity, IdentityLinkError> {
        Ok(NewExternalIdentity {
            issuer: Issuer::new(request.issuer)?,
            subject: Subject::new(request.subject)?,
            user_id: request.user_id,
            email: request.email.map(Email::parse_new).transpose()?,
            created_at: self.clock.now(),
        })
    }

    /// Links an identity that is linked to nobody yet.
    ///
    /// # Errors
    /// `InvalidIdentity`, `InvalidEmail`, `UnknownUser`, `AlreadyLinked`.
    pub async fn link_identity(
        &self,
        admin: &Admin,
        request: LinkIdentity<'_>,
    ) -> Result<ExternalIdentity, IdentityLinkError> {
        let identity = self.parse(request)?;
        let event = self.event(admin, AuditKind::IdentityLinked, &identity);
        Ok(self.links.link_identity(identity, &event).await?)
    }

    /// Links an identity, moving an existing link of the same pair to this user (seeding).
    ///
    /// # Errors
    /// `InvalidIdentity`, `InvalidEmail`, `UnknownUser`.
    pub async fn link_or_update_identity(
        &self,
        admin: &Admin,
        request: LinkIdentity<'_>,
    ) -> Result<ExternalIdentity, IdentityLinkError> {
        let identity = self.parse(request)?;
        let event = self.event(admin, AuditKind::IdentityLinked, &identity);
        Ok(self.links.link_or_update_identity(identity, &event).await?)
    }

    /// Removes a link, whoever it belongs to; the sessions started through it end.
    ///
    /// # Errors
    /// `InvalidIdentity`, `UnknownIdentity`.
    pub async fn unlink_identity(
        &self,
        admin: &Admin,
        issuer: &str,
        subject: &str,
    ) -> Result<(), UnlinkIdentityError> {
        let (issuer, subject) = (Issuer::new(issuer)?, Subject::new(subject)?);
        let event = self.unlink_event(admin, &issuer, &subject);
        match self.links.unlink_identity(&issuer, &subject, &event).await? {
            true => Ok(()),
            false => Err(UnlinkIdentityError::UnknownIdentity),
        }
    }

    /// Removes a link only if it belongs to `user_id`; the sessions started through it end.
    ///
    /// # Errors
    /// `InvalidIdentity`, `UnknownIdentity` (also when it belongs to someone else).
    pub async fn unlink_identity_of(
        &self,
        admin: &Admin,
        user_id: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<(), UnlinkIdentityError> {
        let (issuer, subject) = (Issuer::new(issuer)?, Subject::new(subject)?);
        let event = self.unlink_event(admin, &issuer, &subject).user(user_id);
        match self.links.unlink_identity_of(user_id, &issuer, &subject, &event).await? {
            true => Ok(()),
            false => Err(UnlinkIdentityError::UnknownIdentity),
        }
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn identities_of_user(
        &self,
        _admin: &Admin,
        user_id: UserId,
    ) -> Result<Vec<ExternalIdentity>, UserLookupError> {
        if self.users.user_by_id(user_id).await?.is_none() {
            return Err(UserLookupError::UnknownUser);
        }
        Ok(self.links.identities_of_user(user_id).await?)
    }

    /// The user with this e-mail address, for the CLI's `--user-email`.
    ///
    /// # Errors
    /// `InvalidEmail`, `UnknownUser`.
    pub async fn user_id_by_email(
        &self,
        _admin: &Admin,
        email: &str,
    ) -> Result<UserId, IdentityLinkError> {
        let email = Email::parse(email)?;
        let user = self.users.user_by_email(&email).await?;
        user.map(|u| u.id).ok_or(IdentityLinkError::UnknownUser)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::UserId;
    use crate::service::fakes::{ISSUER, World};
    use crate::service::{
        Admin, IdentityLinkError, LinkIdentity, UnlinkIdentityError, UserLookupError,
    };

    fn request<'a>(issuer: &'a str, subject: &'a str, user_id: UserId) -> LinkIdentity<'a> {
        LinkIdentity { issuer, subject, user_id, email: None }
    }

    #[tokio::test]
    async fn linking_parses_the_pair_and_refuses_a_pair_linked_already() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", None, false).await;
        let bob = w.user("bob@example.com", None, false).await;

        let bad = w.links.link_identity(&admin, request("not-a-url", "s", ada.id)).await;
        assert!(matches!(bad, Err(IdentityLinkError::InvalidIdentity(_))), "{bad:?}");
        let nobody = w.links.link_identity(&admin, request(ISSUER, "s", UserId::new())).await;
        assert!(matches!(nobody, Err(IdentityLinkError::UnknownUser)), "{nobody:?}");
        w.links.link_identity(&admin, request(ISSUER, "s", ada.id)).await.unwrap();
        let again = w.links.link_identity(&admin, request(ISSUER, "s", bob.id)).await;
        assert!(matches!(again, Err(IdentityLinkError::AlreadyLinked)), "{again:?}");

        let moved = w.links.link_or_update_identity(&admin, request(ISSUER, "s", bob.id)).await;
        assert_eq!(moved.unwrap().user_id, bob.id, "seeding moves the link");
    }

    #[tokio::test]
    async fn unlinking_for_a_user_touches_only_that_users_links() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", None, false).await;
        let bob = w.user("bob@example.com", None, false).await;
        w.links.link_identity(&admin, request(ISSUER, "s", ada.id)).await.unwrap();

        let foreign = w.links.unlink_identity_of(&admin, bob.id, ISSUER, "s").await;
        assert!(matches!(foreign, Err(UnlinkIdentityError::UnknownIdentity)), "{foreign:?}");
        w.links.unlink_identity_of(&admin, ada.id, ISSUER, "s").await.unwrap();
        assert!(w.links.identities_of_user(&admin, ada.id).await.unwrap().is_empty());
        let unknown = w.links.identities_of_user(&admin, UserId::new()).await;
        assert!(matches!(unknown, Err(UserLookupError::UnknownUser)), "{unknown:?}");
    }
}
