//! Trade a refresh token for new tokens (RFC 9700 §4.14: rotation with reuse detection).

use crate::BoxError;
use std::net::IpAddr;

use crate::domain::{AuditEvent, AuditKind, AuditOutcome, OpaqueToken, TokenDigest};
use crate::ports::RefreshOutcome;
use crate::service::{Auth, LoginSuccess};

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, spent, expired or revoked: all alike. A spent token also revokes its session.
    #[error("the refresh token is invalid")]
    InvalidRefreshToken,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl Auth {
    /// Spends the refresh token and returns a new access token and a new refresh token of the
    /// same session. Presenting a spent token revokes the whole session.
    ///
    /// # Errors
    /// `InvalidRefreshToken` for every kind of refusal.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        address: Option<IpAddr>,
    ) -> Result<LoginSuccess, RefreshError> {
        let internal = |e: crate::ports::StoreError| RefreshError::Internal(e.0);
        let now = self.clock.now();
        let next = OpaqueToken::random().map_err(|e| RefreshError::Internal(e.into()))?;
        let presented = TokenDigest::of(refresh_token);
        let rotated =
            AuditEvent::new(AuditKind::Refresh, AuditOutcome::Success, now).from_address(address);
        let outcome = self
            .refresh_tokens
            .rotate_refresh_token(
                &presented,
                &next.digest(),
                now,
                now - self.settings.sessions.idle_timeout,
                &rotated,
            )
            .await
            .map_err(internal)?;
        let session_id = match outcome {
            RefreshOutcome::Rotated(session) => session,
            RefreshOutcome::Reused(session) => {
                let reuse =
                    AuditEvent::new(AuditKind::RefreshReuseDetected, AuditOutcome::Failure, now)
                        .from_address(address)
                        .detail("session", session)
                        .detail("code", "invalid_refresh_token");
                self.sessions.revoke_session(session, now, Some(&reuse)).await.map_err(internal)?;
                return Err(RefreshError::InvalidRefreshToken);
            }
            RefreshOutcome::SessionEnded | RefreshOutcome::Unknown => {
                return Err(RefreshError::InvalidRefreshToken);
            }
        };
        let (session, user) = self
            .sessions
            .session_with_user(session_id)
            .await
            .map_err(internal)?
            .ok_or(RefreshError::InvalidRefreshToken)?;
        if !session.is_active(now, self.settings.sessions.idle_timeout) || user.disabled {
            return Err(RefreshError::InvalidRefreshToken);
        }
        self.sessions.touch_session(session.id, now).await.map_err(internal)?;
        let token = self.access_token(&session, now).await.map_err(RefreshError::Internal)?;
        Ok(LoginSuccess {
            user,
            session: session.id,
            token,
            refresh_token: Some(next),
            cookie: None,
            session_expires_at: session.expires_at,
        })
    }
}
