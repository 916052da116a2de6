//! Link external identities to local users, by hand: never automatically by e-mail.

use std::sync::Arc;

use crate::BoxError;
use crate::domain::{
    Email, EmailError, ExternalIdentity, IdentityError, Issuer, NewExternalIdentity, Subject,
    UserId,
};
use crate::ports::{Clock, IdentityStore, StoreError};
use crate::service::Auth;

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
    #[error("no such external identity")]
    UnknownIdentity,
    #[error(transparent)]
    Internal(BoxError),
}

/// The request to link (issuer, subject) to a user.
#[derive(Debug)]
pub struct LinkIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub user_id: UserId,
    pub email: Option<&'a str>,
}

/// Linking and unlinking external identities; needs only the store and the clock.
#[derive(Clone)]
pub struct IdentityLinks {
    store: Arc<dyn IdentityStore>,
    clock: Arc<dyn Clock>,
}

impl Auth {
    pub fn identity_links(&self) -> IdentityLinks {
        IdentityLinks::new(self.store.clone(), self.clock.clone())
    }
}

impl IdentityLinks {
    pub fn new(store: Arc<dyn IdentityStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Links an identity. With `replace`, an existing link of the same pair is moved to this
    /// user (seeding); without, it is `AlreadyLinked`.
    ///
    /// # Errors
    /// `InvalidIdentity`, `InvalidEmail`, `UnknownUser`, `AlreadyLinked`.
    pub async fn link_identity(
        &self,
        request: LinkIdentity<'_>,
        replace: bool,
    ) -> Result<ExternalIdentity, IdentityLinkError> {
        let identity = NewExternalIdentity {
            issuer: Issuer::new(request.issuer)?,
            subject: Subject::new(request.subject)?,
            user_id: request.user_id,
            email: request.email.map(Email::parse).transpose()?,
            created_at: self.clock.now(),
        };
        let result = if replace {
            self.store.upsert_identity(identity).await
        } else {
            self.store.link_identity(identity).await
        };
        result.map_err(from_store)
    }

    /// # Errors
    /// `InvalidIdentity`, `UnknownIdentity`.
    pub async fn unlink_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<(), IdentityLinkError> {
        let (issuer, subject) = (Issuer::new(issuer)?, Subject::new(subject)?);
        match self.store.unlink_identity(&issuer, &subject).await.map_err(from_store)? {
            true => Ok(()),
            false => Err(IdentityLinkError::UnknownIdentity),
        }
    }

    /// Unlinks an identity only if it belongs to `user_id`.
    ///
    /// # Errors
    /// `InvalidIdentity`, `UnknownIdentity` (also when it belongs to someone else).
    pub async fn unlink_identity_of(
        &self,
        user_id: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<(), IdentityLinkError> {
        let (issuer, subject) = (Issuer::new(issuer)?, Subject::new(subject)?);
        let owner = self.store.user_by_identity(&issuer, &subject).await.map_err(from_store)?;
        if owner.map(|u| u.id) != Some(user_id) {
            return Err(IdentityLinkError::UnknownIdentity);
        }
        self.unlink_identity(issuer.as_str(), subject.as_str()).await
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn identities_of_user(
        &self,
        user_id: UserId,
    ) -> Result<Vec<ExternalIdentity>, IdentityLinkError> {
        if self.store.user_by_id(user_id).await.map_err(from_store)?.is_none() {
            return Err(IdentityLinkError::UnknownUser);
        }
        self.store.identities_of_user(user_id).await.map_err(from_store)
    }

    /// The user with this e-mail address, for the CLI's `--user-email`.
    ///
    /// # Errors
    /// `InvalidEmail`, `UnknownUser`.
    pub async fn user_id_by_email(&self, email: &str) -> Result<UserId, IdentityLinkError> {
        let email = Email::parse(email)?;
        let user = self.store.user_by_email(&email).await.map_err(from_store)?;
        user.map(|u| u.id).ok_or(IdentityLinkError::UnknownUser)
    }
}

fn from_store(error: StoreError) -> IdentityLinkError {
    match error {
        StoreError::UnknownUser => IdentityLinkError::UnknownUser,
        StoreError::IdentityAlreadyLinked => IdentityLinkError::AlreadyLinked,
        other => IdentityLinkError::Internal(other.into()),
    }
}
