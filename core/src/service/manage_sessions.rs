//! A user's own sessions: list them, end one.

use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{AuditEvent, AuditKind, AuditOutcome, Session, SessionId};
use crate::service::{Auth, Principal, StoreFailed};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Also for someone else's session.
    #[error("no such session")]
    UnknownSession,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// A live session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    pub session: Session,
    /// When it ends if not used again.
    pub ends_at: OffsetDateTime,
    /// Whether the caller is using it.
    pub current: bool,
}

impl Auth {
    /// The caller's live sessions, oldest first.
    ///
    /// # Errors
    /// `Internal` only.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionView>, StoreFailed> {
        let now = self.clock.now();
        let idle = self.settings.sessions.idle_timeout;
        let sessions = self.sessions.sessions_of_user(principal.user.id).await?;
        Ok(sessions
            .into_iter()
            .filter(|s| s.is_active(now, idle))
            .map(|session| SessionView {
                ends_at: session.ends_at(idle),
                current: session.id == principal.session,
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions.
    ///
    /// # Errors
    /// `UnknownSession` unless it is one of the caller's live sessions.
    pub async fn revoke_own_session(
        &self,
        principal: &Principal,
        id: SessionId,
    ) -> Result<(), SessionError> {
        let live = self.sessions(principal).await.map_err(|e| SessionError::Internal(e.0))?;
        if !live.iter().any(|view| view.session.id == id) {
            return Err(SessionError::UnknownSession);
        }
        let now = self.clock.now();
        let event = AuditEvent::new(AuditKind::SessionsRevoked, AuditOutcome::Success, now)
            .user(principal.user.id)
            .from_address(principal.address)
            .detail("session", id);
        self.sessions
            .revoke_session(id, now, Some(&event))
            .await
            .map(|_| ())
            .map_err(|e| SessionError::Internal(e.0))
    }
}
