//! Log in with e-mail and password; start a session and issue an access token.

use uuid::Uuid;

use crate::BoxError;
use crate::domain::{AccessTokenClaims, Email, IssuedToken, Password, Session, SessionId, User};
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
            Some(email) => {
                self.users.user_by_email(email).await.map_err(|e| LoginError::Internal(e.0))?
            }
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
        self.sessions.create_session(&session).await.map_err(Box::new)?;
        let token = self.tokens.issue(&AccessTokenClaims {
            subject: session.user_id,
            session: session.id,
            issued_at: now,
            expires_at,
            token_id: Uuid::new_v4(),
        })?;
        Ok(LoginSuccess { user, session: session.id, token })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use crate::service::LoginError;
    use crate::service::fakes::{PASSWORD, TTL, World};

    #[tokio::test]
    async fn a_right_password_starts_a_session_whose_token_lives_the_configured_ttl() {
        let w = World::new();
        let user = w.user("ada@example.com", Some(PASSWORD), false).await;

        let login = w.auth.login_with_password("ADA@example.com", PASSWORD).await.unwrap();

        assert_eq!(login.user.id, user.id);
        assert_eq!(login.token.expires_in(), TTL);
        let session = w.store.session(login.session).unwrap();
        assert_eq!(session.user_id, user.id);
        assert_eq!(session.expires_at, session.created_at + TTL);
    }

    #[tokio::test]
    async fn every_refusal_is_invalid_credentials_and_costs_one_verification() {
        let w = World::new();
        w.user("ada@example.com", Some(PASSWORD), false).await;
        let off = w.user("off@example.com", Some(PASSWORD), false).await;
        w.accounts.disable_user(&crate::service::Admin::operator(), off.id).await.unwrap();
        w.user("sso@example.com", None, false).await;

        for (email, password) in [
            ("ada@example.com", "wrong password"),
            ("nobody@example.com", PASSWORD),
            ("off@example.com", PASSWORD),
            ("sso@example.com", PASSWORD),
            ("not an address", PASSWORD),
        ] {
            let before = w.hasher.verifications.load(Ordering::SeqCst);
            let result = w.auth.login_with_password(email, password).await;
            assert!(matches!(result, Err(LoginError::InvalidCredentials)), "{email}: {result:?}");
            let after = w.hasher.verifications.load(Ordering::SeqCst);
            assert_eq!(after - before, 1, "{email}: the same work as a known user");
        }
    }

    #[tokio::test]
    async fn a_password_longer_than_the_bound_is_refused_without_hashing() {
        let w = World::new();
        let huge = "x".repeat(2000);

        let result = w.auth.login_with_password("ada@example.com", &huge).await;

        assert!(matches!(result, Err(LoginError::InvalidCredentials)));
        assert_eq!(w.hasher.verifications.load(Ordering::SeqCst), 0);
    }
}
