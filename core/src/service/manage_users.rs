//! Administration of users: list, look up, disable and enable.

use crate::BoxError;
use crate::domain::{AuditKind, Email, PasswordError, User, UserId};
use crate::ports::{DisableOutcome, RevokeScope, StoreError};
use crate::service::{Accounts, Admin, StoreFailed};

/// Looking up one user (and acting on them) found nobody.
#[derive(Debug, thiserror::Error)]
pub enum UserLookupError {
    #[error("no such user")]
    UnknownUser,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for UserLookupError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DisableUserError {
    #[error("no such user")]
    UnknownUser,
    #[error("the last enabled administrator cannot be disabled")]
    LastAdmin,
    #[error("an administrator cannot disable themselves")]
    CannotDisableSelf,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl From<StoreError> for DisableUserError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

/// Setting a user's password.
#[derive(Debug, thiserror::Error)]
pub enum ManageUsersError {
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    InvalidPassword(#[from] PasswordError),
    /// Password hashing is saturated (the queue is full or the wait too long): nothing was
    /// checked or changed; try again after `retry_after`.
    #[error("the server is busy; try again in {} seconds", retry_after.as_secs())]
    Busy { retry_after: std::time::Duration },
    #[error("{0}")]
    Internal(#[source] BoxError),
}

hasher_errors_into!(ManageUsersError);

impl From<StoreError> for ManageUsersError {
    fn from(error: StoreError) -> Self {
        Self::Internal(error.0)
    }
}

impl From<UserLookupError> for ManageUsersError {
    fn from(error: UserLookupError) -> Self {
        match error {
            UserLookupError::UnknownUser => Self::UnknownUser,
            UserLookupError::Internal(e) => Self::Internal(e),
        }
    }
}

impl Accounts {
    /// Users ordered by creation.
    ///
    /// # Errors
    /// `Internal` only.
    pub async fn list_users(
        &self,
        _admin: &Admin,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<User>, StoreFailed> {
        Ok(self.users.list_users(offset, limit).await?)
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn user(&self, _admin: &Admin, id: UserId) -> Result<User, UserLookupError> {
        self.users.user_by_id(id).await?.ok_or(UserLookupError::UnknownUser)
    }

    /// Disables a user: they can no longer log in, and their tokens stop working at once.
    /// Nobody disables themselves, and the last enabled administrator stays enabled.
    ///
    /// # Errors
    /// `UnknownUser`, `CannotDisableSelf`, `LastAdmin`.
    pub async fn disable_user(&self, admin: &Admin, id: UserId) -> Result<User, DisableUserError> {
        if admin.acting_user() == Some(id) {
            return Err(DisableUserError::CannotDisableSelf);
        }
        let now = self.clock.now();
        let event = admin.audit(AuditKind::UserDisabled, id, now);
        match self.users.disable_user(id, now, &event).await? {
            DisableOutcome::Disabled(user) => Ok(user),
            DisableOutcome::LastAdmin => Err(DisableUserError::LastAdmin),
            DisableOutcome::UnknownUser => Err(DisableUserError::UnknownUser),
        }
    }

    /// # Errors
    /// `UnknownUser`.
    pub async fn enable_user(&self, admin: &Admin, id: UserId) -> Result<User, UserLookupError> {
        let now = self.clock.now();
        let event = admin.audit(AuditKind::UserEnabled, id, now);
        let user = self.users.enable_user(id, now, &event).await?;
        user.ok_or(UserLookupError::UnknownUser)
    }
}

impl Accounts {
    /// The user with this e-mail address (the CLI names users by address).
    ///
    /// # Errors
    /// `UnknownUser`, also for a malformed address.
    pub async fn user_by_email(
        &self,
        _admin: &Admin,
        email: &str,
    ) -> Result<User, UserLookupError> {
        let email = Email::parse(email).map_err(|_| UserLookupError::UnknownUser)?;
        self.users.user_by_email(&email).await?.ok_or(UserLookupError::UnknownUser)
    }

    /// Sets a user's password (an administrator's reset) and ends all of their sessions.
    ///
    /// # Errors
    /// `UnknownUser`, `InvalidPassword`.
    pub async fn set_password(
        &self,
        admin: &Admin,
        id: UserId,
        password: &str,
    ) -> Result<(), ManageUsersError> {
        let user = self.user(admin, id).await?;
        let password = self.passwords.check(password, &user.email)?;
        let hash = self.hasher.hash(&password).await?;
        let now = self.clock.now();
        let changed = admin.audit(AuditKind::PasswordChanged, id, now).detail("reason", "reset");
        let all = RevokeScope::User { user: id, except: None };
        self.users.set_password_hash(id, &hash, now, Some(&all), Some(&changed)).await?;
        Ok(())
    }

    /// Ends every session of a user.
    ///
    /// # Errors
    /// `UnknownUser`.
    pub async fn revoke_sessions(&self, admin: &Admin, id: UserId) -> Result<u64, UserLookupError> {
        self.user(admin, id).await?;
        let now = self.clock.now();
        let scope = RevokeScope::User { user: id, except: None };
        let event = admin.audit(AuditKind::SessionsRevoked, id, now);
        Ok(self.sessions.revoke_sessions(&scope, now, Some(&event)).await?)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::UserId;
    use crate::service::fakes::{PASSWORD, World};
    use crate::service::{Admin, DisableUserError, UserLookupError};

    #[tokio::test]
    async fn disabling_and_enabling_flip_the_flag_and_an_unknown_user_is_unknown() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", Some(PASSWORD), false).await;

        assert!(w.accounts.disable_user(&admin, ada.id).await.unwrap().disabled);
        assert!(!w.accounts.enable_user(&admin, ada.id).await.unwrap().disabled);
        let disabled = w.accounts.disable_user(&admin, UserId::new()).await;
        assert!(matches!(disabled, Err(DisableUserError::UnknownUser)), "{disabled:?}");
        for result in [
            w.accounts.enable_user(&admin, UserId::new()).await,
            w.accounts.user(&admin, UserId::new()).await,
        ] {
            assert!(matches!(result, Err(UserLookupError::UnknownUser)), "{result:?}");
        }
    }
}
