//! Create a local user (an administrator from the CLI, any user from the admin API).

use crate::BoxError;
use crate::domain::{AuditKind, Email, EmailError, NewUser, PasswordError, User, UserId};
use crate::ports::UserStoreError;
use crate::service::{Accounts, Admin};

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    #[error(transparent)]
    InvalidPassword(#[from] PasswordError),
    #[error("a user with this e-mail address already exists")]
    DuplicateEmail,
    /// Password hashing is saturated (the queue is full or the wait too long): nothing was
    /// checked or changed; try again after `retry_after`.
    #[error("the server is busy; try again in {} seconds", retry_after.as_secs())]
    Busy { retry_after: std::time::Duration },
    #[error("{0}")]
    Internal(#[source] BoxError),
}

hasher_errors_into!(CreateUserError);

/// The request to create a user. Without a password the user can only sign in through a linked
/// external identity.
pub struct CreateUser<'a> {
    pub email: &'a str,
    pub password: Option<&'a str>,
    pub is_admin: bool,
}

impl std::fmt::Debug for CreateUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("email", &self.email)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// # Errors
    /// `InvalidEmail`, `InvalidPassword` (which rule it breaks), `DuplicateEmail`.
    pub async fn create_user(
        &self,
        admin: &Admin,
        request: CreateUser<'_>,
    ) -> Result<User, CreateUserError> {
        let email = Email::parse_new(request.email)?;
        let password = request.password.map(|raw| self.passwords.check(raw, &email)).transpose()?;
        let password_hash = match password {
            Some(password) => Some(self.hasher.hash(&password).await?),
            None => None,
        };
        let now = self.clock.now();
        let user = NewUser {
            id: UserId::new(),
            email,
            password_hash,
            is_admin: request.is_admin,
            created_at: now,
        };
        let event =
            admin.audit(AuditKind::UserCreated, user.id, now).detail("is_admin", user.is_admin);
        self.users.create_user(user, &event).await.map_err(|e| match e {
            UserStoreError::DuplicateEmail => CreateUserError::DuplicateEmail,
            UserStoreError::DuplicateId => {
                CreateUserError::Internal("a fresh user id is taken already".into())
            }
            UserStoreError::Internal(e) => CreateUserError::Internal(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::service::fakes::{PASSWORD, World};
    use crate::service::{Admin, CreateUser, CreateUserError};

    async fn create(w: &World, email: &str, password: Option<&str>) -> Result<(), CreateUserError> {
        let request = CreateUser { email, password, is_admin: false };
        w.accounts.create_user(&Admin::operator(), request).await.map(|_| ())
    }

    #[tokio::test]
    async fn addresses_passwords_and_duplicates_are_checked_before_storing() {
        let w = World::new();
        assert!(matches!(
            create(&w, "nope", Some(PASSWORD)).await,
            Err(CreateUserError::InvalidEmail(_))
        ));
        assert!(matches!(
            create(&w, "ada@example.com", Some("short")).await,
            Err(CreateUserError::InvalidPassword(_))
        ));
        create(&w, "ada@example.com", Some(PASSWORD)).await.unwrap();
        assert!(matches!(
            create(&w, "ADA@example.com", None).await,
            Err(CreateUserError::DuplicateEmail)
        ));
    }

    #[tokio::test]
    async fn the_password_is_stored_hashed_and_a_user_without_one_has_no_hash() {
        let w = World::new();
        let ada = w.user("ada@example.com", Some(PASSWORD), false).await;
        let sso = w.user("sso@example.com", None, false).await;

        let hash = ada.password_hash.unwrap();
        assert_ne!(hash.as_str(), PASSWORD);
        assert!(sso.password_hash.is_none());
    }
}
