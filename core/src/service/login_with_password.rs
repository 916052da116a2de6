//! Log in with e-mail and password; start a session and issue an access token.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::BoxError;
use crate::domain::{AccessTokenClaims, Email, IssuedToken, Password, Session, SessionId, User};
use crate::ports::{StoreError, TokenIssuerError};
use crate::service::Auth;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password, disabled user and identity-only user all look alike.
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    #[error(transparent)]
    Internal(BoxError),
}

/// A new session and its access token.
#[derive(Debug)]
pub struct LoginSuccess {
    pub user: User,
    pub session: SessionId,
    pub token: IssuedToken,
}

impl Auth {
    /// Checks the password (doing the same work whether or not the user exists) and, when it
    /// matches an enabled user, starts a session.
    ///
    /// # Errors
    /// `InvalidCredentials` for every kind of refusal.
    pub async fn login_with_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<LoginSuccess, LoginError> {
        let email = Email::parse(email).ok();
        let password = Password::candidate(password).map_err(|_| LoginError::InvalidCredentials)?;
        let user = match &email {
            Some(email) => self.store.user_by_email(email).await.map_err(internal)?,
            None => None,
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.as_ref());
        let matches = self
            .hasher
            .verify(&password, hash)
            .await
            .map_err(|e| LoginError::Internal(e.into()))?;
        match user {
            Some(user) if matches && hash.is_some() && !user.disabled => {
                self.start_session(user).await.map_err(LoginError::Internal)
            }
            _ => Err(LoginError::InvalidCredentials),
        }
    }

    /// Starts a session for a user who has proved who they are, and signs its access token.
    pub(crate) async fn start_session(&self, user: User) -> Result<LoginSuccess, BoxError> {
        let now = self.clock.now();
        let expires_at = now + self.access_token_ttl;
        let session = Session {
            id: SessionId::random(),
            user_id: user.id,
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        self.store.create_session(&session).await.map_err(Box::new)?;
        let token = self.sign(&session, now, expires_at).map_err(Box::new)?;
        Ok(LoginSuccess { user, session: session.id, token })
    }

    fn sign(
        &self,
        session: &Session,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<IssuedToken, TokenIssuerError> {
        self.tokens.issue(&AccessTokenClaims {
            subject: session.user_id,
            session: session.id,
            issued_at: now,
            expires_at,
            token_id: Uuid::new_v4(),
        })
    }
}

fn internal(error: StoreError) -> LoginError {
    LoginError::Internal(error.into())
}
