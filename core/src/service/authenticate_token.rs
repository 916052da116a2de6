//! Turn a bearer token into the user and session it stands for.

use std::net::IpAddr;

use crate::BoxError;
use crate::domain::{IssuedToken, SessionId, TokenDigest, User};
use crate::ports::TokenIssuerError;
use crate::service::Auth;

#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Bad signature, wrong kind of token, expired, revoked session, disabled or deleted user.
    #[error("the access token is invalid")]
    InvalidToken,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Who is calling, and from where.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub session: SessionId,
    /// The client's address, for the audit trail and the throttles.
    pub address: Option<IpAddr>,
}

impl Auth {
    /// The public keys of Codex access tokens, as other services should see them now.
    pub fn published_keys(&self) -> Vec<crate::domain::PublishedKey> {
        self.tokens.published_keys(self.clock.now())
    }

    /// Verifies the token, then reads its session and user at once: the session must be live
    /// and belong to the token's subject, and the user must be enabled.
    ///
    /// # Errors
    /// `InvalidToken` for every kind of refusal.
    pub async fn authenticate_token(
        &self,
        token: &str,
        address: Option<IpAddr>,
    ) -> Result<Principal, AuthenticateError> {
        let now = self.clock.now();
        let claims = self.tokens.verify(token, now).await.map_err(|e| match e {
            TokenIssuerError::Invalid => AuthenticateError::InvalidToken,
            TokenIssuerError::Internal(e) => AuthenticateError::Internal(e),
        })?;
        let (session, user) = self
            .sessions
            .session_with_user(claims.session)
            .await
            .map_err(|e| AuthenticateError::Internal(e.0))?
            .ok_or(AuthenticateError::InvalidToken)?;
        let idle = self.settings.sessions.idle_timeout;
        let valid =
            session.is_active(now, idle) && session.user_id == claims.subject && !user.disabled;
        if !valid {
            return Err(AuthenticateError::InvalidToken);
        }
        Ok(Principal { user, session: session.id, address })
    }

    /// The caller of a browser session credential (the cookie). Each use slides the session's
    /// idle timeout.
    ///
    /// # Errors
    /// `InvalidToken` for every kind of refusal.
    pub async fn authenticate_cookie(
        &self,
        cookie: &str,
        address: Option<IpAddr>,
    ) -> Result<Principal, AuthenticateError> {
        let now = self.clock.now();
        let internal = |e: crate::ports::StoreError| AuthenticateError::Internal(e.0);
        let (session, user) = self
            .sessions
            .session_by_cookie(&TokenDigest::of(cookie))
            .await
            .map_err(internal)?
            .ok_or(AuthenticateError::InvalidToken)?;
        if !session.is_active(now, self.settings.sessions.idle_timeout) || user.disabled {
            return Err(AuthenticateError::InvalidToken);
        }
        self.sessions.touch_session(session.id, now).await.map_err(internal)?;
        Ok(Principal { user, session: session.id, address })
    }

    /// A fresh access token for the caller's session (single-page apps holding the cookie).
    ///
    /// # Errors
    /// `InvalidToken` when the session is not live.
    pub async fn access_token_for(
        &self,
        principal: &Principal,
    ) -> Result<IssuedToken, AuthenticateError> {
        let now = self.clock.now();
        let (session, _) = self
            .sessions
            .session_with_user(principal.session)
            .await
            .map_err(|e| AuthenticateError::Internal(e.0))?
            .ok_or(AuthenticateError::InvalidToken)?;
        self.access_token(&session, now).await.map_err(AuthenticateError::Internal)
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use crate::service::fakes::{PASSWORD, SESSIONS, World};
    use crate::service::{Admin, AuthenticateError, LoginSuccess};

    async fn logged_in(w: &World) -> LoginSuccess {
        w.user("ada@example.com", Some(PASSWORD), true).await;
        w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap()
    }

    fn refused(result: Result<super::Principal, AuthenticateError>) -> bool {
        matches!(result, Err(AuthenticateError::InvalidToken))
    }

    #[tokio::test]
    async fn a_live_token_names_its_user_and_session() {
        let w = World::new();
        let login = logged_in(&w).await;

        let principal = w.auth.authenticate_token(login.token.token.expose(), None).await.unwrap();

        assert_eq!(principal.user.id, login.user.id);
        assert_eq!(principal.session, login.session);
    }

    #[tokio::test]
    async fn a_token_is_refused_once_expired_revoked_or_its_user_disabled() {
        let w = World::new();
        let login = logged_in(&w).await;
        let token = login.token.token.expose().to_owned();

        w.clock.advance(SESSIONS.idle_timeout - Duration::seconds(1));
        assert!(
            w.auth.authenticate_token(&token, None).await.is_ok(),
            "tokens are not used: no sliding"
        );
        w.clock.advance(Duration::seconds(1));
        assert!(refused(w.auth.authenticate_token(&token, None).await), "the session is idle");

        let login = w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();
        let principal = w.auth.authenticate_token(login.token.token.expose(), None).await.unwrap();
        w.auth.logout(&principal).await.unwrap();
        assert!(
            refused(w.auth.authenticate_token(login.token.token.expose(), None).await),
            "revoked"
        );

        let login = w.auth.login_with_password("ada@example.com", PASSWORD, None).await.unwrap();
        w.user("second-admin@example.com", Some(PASSWORD), true).await;
        w.accounts.disable_user(&Admin::operator(), login.user.id).await.unwrap();
        assert!(
            refused(w.auth.authenticate_token(login.token.token.expose(), None).await),
            "disabled"
        );
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

        assert!(refused(w.auth.authenticate_token(&forged, None).await));
    }

    #[tokio::test]
    async fn garbage_is_refused() {
        let w = World::new();
        assert!(refused(w.auth.authenticate_token("not a token", None).await));
    }

    #[tokio::test]
    async fn a_refresh_token_is_single_use_and_its_reuse_kills_the_session() {
        let w = World::new();
        let first = logged_in(&w).await;
        let spent = first.refresh_token.unwrap();

        let second = w.auth.refresh(spent.expose(), None).await.unwrap();
        assert_eq!(second.session, first.session);
        let reuse = w.auth.refresh(spent.expose(), None).await;
        assert!(matches!(reuse, Err(crate::service::RefreshError::InvalidRefreshToken)));
        assert!(refused(w.auth.authenticate_token(second.token.token.expose(), None).await));
        let next = second.refresh_token.unwrap();
        assert!(w.auth.refresh(next.expose(), None).await.is_err(), "the whole session is dead");
        assert!(w.auth.refresh("never issued", None).await.is_err());
    }

    #[tokio::test]
    async fn refreshing_slides_the_idle_timeout_until_the_maximum_age() {
        let w = World::new();
        let mut login = logged_in(&w).await;
        let step = SESSIONS.idle_timeout - Duration::hours(1);
        let mut elapsed = Duration::ZERO;
        while elapsed + step < SESSIONS.max_age {
            w.clock.advance(step);
            elapsed += step;
            login = w.auth.refresh(login.refresh_token.unwrap().expose(), None).await.unwrap();
        }
        w.clock.advance(SESSIONS.max_age - elapsed);
        assert!(w.auth.refresh(login.refresh_token.unwrap().expose(), None).await.is_err());
    }

    #[tokio::test]
    async fn disabling_revokes_every_session_and_enabling_revives_none() {
        let w = World::new();
        let login = logged_in(&w).await;
        w.user("other@example.com", Some(PASSWORD), true).await;
        w.accounts.disable_user(&Admin::operator(), login.user.id).await.unwrap();
        w.accounts.enable_user(&Admin::operator(), login.user.id).await.unwrap();
        assert!(refused(w.auth.authenticate_token(login.token.token.expose(), None).await));
    }
}
