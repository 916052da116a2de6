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
    /// Verifies the token and checks that its session is live and its user enabled.
    ///
    /// # Errors
    /// `InvalidToken` for every kind of refusal.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, AuthenticateError> {
        let now = self.clock.now();
        let claims = self.tokens.verify(token, now).map_err(|e| match e {
            TokenIssuerError::Invalid => AuthenticateError::InvalidToken,
            TokenIssuerError::Internal(e) => AuthenticateError::Internal(e),
        })?;
        let session = self
            .store
            .session(claims.session)
            .await
            .map_err(|e| AuthenticateError::Internal(e.into()))?
            .filter(|s| s.is_active(now) && s.user_id == claims.subject)
            .ok_or(AuthenticateError::InvalidToken)?;
        let user = self
            .store
            .user_by_id(session.user_id)
            .await
            .map_err(|e| AuthenticateError::Internal(e.into()))?
            .filter(|u| !u.disabled)
            .ok_or(AuthenticateError::InvalidToken)?;
        Ok(Principal { user, session: session.id })
    }
}
