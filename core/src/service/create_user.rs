//! Create a local user (an administrator from the CLI, any user from the admin API).

use crate::BoxError;
use crate::domain::{Email, EmailError, NewUser, Password, PasswordError, User, UserId};
use crate::ports::StoreError;
use crate::service::Auth;

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    #[error(transparent)]
    InvalidPassword(#[from] PasswordError),
    #[error("a user with this e-mail address already exists")]
    DuplicateEmail,
    #[error(transparent)]
    Internal(BoxError),
}

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

impl Auth {
    /// # Errors
    /// `InvalidEmail`, `InvalidPassword` (too short or too long), `DuplicateEmail`.
    pub async fn create_user(&self, request: CreateUser<'_>) -> Result<User, CreateUserError> {
        let email = Email::parse(request.email)?;
        let password_hash = match request.password {
            Some(raw) => {
                let password = Password::new(raw)?;
                let hash = self.hasher.hash(&password).await;
                Some(hash.map_err(|e| CreateUserError::Internal(e.into()))?)
            }
            None => None,
        };
        let user = NewUser {
            id: UserId::new(),
            email,
            password_hash,
            is_admin: request.is_admin,
            created_at: self.clock.now(),
        };
        self.store.create_user(user).await.map_err(|e| match e {
            StoreError::DuplicateEmail => CreateUserError::DuplicateEmail,
            other => CreateUserError::Internal(other.into()),
        })
    }
}
