//! Turn a bearer token into the user and session it stands for.

use crate::BoxError;
use crate::domain::{SessionId, User};
use crate::ports::TokenIssuerError;
use crate::service::Auth;

#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Bad signature, wrong kind of token, expired, revoked session, disabled or deleted user.
    #[error("the access token is invalid")]
    InvalidToken,
    #[error(transparent)]
    Internal(BoxError),
}

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub session: SessionId,
}

impl Auth {
    /// Verifies the token, then reads its session and user at once: the session must be live
    /// and belong to the token's subject, and the user must be enabled.
    ///
    /// # Errors
    /// `InvalidToken` for every kind of refusal.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, AuthenticateError> {
        let now = self.clock.now();
        let claims = self.tokens.verify(token, now).map_err(|e| match e {
            TokenIssuerError::Invalid => AuthenticateError::InvalidToken,
            TokenIssuerError::Internal(e) => AuthenticateError::Internal(e),
        })?;
        let (session, user) = self
            .sessions
            .session_with_user(claims.session)
            .await
            .map_err(|e| AuthenticateError::Internal(e.0))?
            .ok_or(AuthenticateError::InvalidToken)?;
        let valid = session.is_active(now) && session.user_id == claims.subject && !user.disabled;
        if !valid {
            return Err(AuthenticateError::InvalidToken);
        }
        Ok(Principal { user, session: session.id })
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use crate::service::fakes::{PASSWORD, TTL, World};
    use crate::service::{Admin, AuthenticateError, LoginSuccess};

    async fn logged_in(w: &World) -> LoginSuccess {
        w.user("ada@example.com", Some(PASSWORD), true).await;
        w.auth.login_with_password("ada@example.com", PASSWORD).await.unwrap()
    }

    fn refused(result: Result<super::Principal, AuthenticateError>) -> bool {
        matches!(result, Err(AuthenticateError::InvalidToken))
    }

    #[tokio::test]
    async fn a_live_token_names_its_user_and_session() {
        let w = World::new();
        let login = logged_in(&w).await;

        let principal = w.auth.authenticate_token(login.token.token.expose()).await.unwrap();

        assert_eq!(principal.user.id, login.user.id);
        assert_eq!(principal.session, login.session);
    }

    #[tokio::test]
    async fn a_token_is_refused_once_expired_revoked_or_its_user_disabled() {
        let w = World::new();
        let login = logged_in(&w).await;
        let token = login.token.token.expose().to_owned();

        w.clock.advance(TTL - Duration::seconds(1));
        assert!(w.auth.authenticate_token(&token).await.is_ok());
        w.clock.advance(Duration::seconds(1));
        assert!(refused(w.auth.authenticate_token(&token).await), "the session has expired");

        let login = w.auth.login_with_password("ada@example.com", PASSWORD).await.unwrap();
        let principal = w.auth.authenticate_token(login.token.token.expose()).await.unwrap();
        w.auth.logout(&principal).await.unwrap();
        assert!(refused(w.auth.authenticate_token(login.token.token.expose()).await), "revoked");

        let login = w.auth.login_with_password("ada@example.com", PASSWORD).await.unwrap();
        w.accounts.disable_user(&Admin::operator(), login.user.id).await.unwrap();
        assert!(refused(w.auth.authenticate_token(login.token.token.expose()).await), "disabled");
    }

    #[tokio::test]
    async fn a_token_whose_subject_is_not_its_sessions_user_is_refused() {
        let w = World::new();
        let login = logged_in(&w).await;
        let bob = w.user("bob@example.com", Some(PASSWORD), false).await;
        let forged = w.tokens.forge(crate::domain::AccessTokenClaims {
            subject: bob.id,
            session: login.session,
            issued_at: login.token.issued_at,
            expires_at: login.token.expires_at,
            token_id: uuid::Uuid::new_v4(),
        });

        assert!(refused(w.auth.authenticate_token(&forged).await));
    }

    #[tokio::test]
    async fn garbage_is_refused() {
        let w = World::new();
        assert!(refused(w.auth.authenticate_token("not a token").await));
    }
}
