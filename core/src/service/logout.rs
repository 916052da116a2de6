//! End a session: every token naming it is refused from now on.

use crate::BoxError;
use crate::domain::{AuditEvent, AuditKind, AuditOutcome};
use crate::service::{Auth, Principal};

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("{0}")]
    Internal(#[source] BoxError),
}

impl Auth {
    /// Revokes the caller's session.
    ///
    /// # Errors
    /// `Internal` when the store fails.
    pub async fn logout(&self, principal: &Principal) -> Result<(), LogoutError> {
        let now = self.clock.now();
        let event = AuditEvent::new(AuditKind::Logout, AuditOutcome::Success, now)
            .user(principal.user.id)
            .from_address(principal.address)
            .detail("session", principal.session);
        self.sessions
            .revoke_session(principal.session, now, Some(&event))
            .await
            .map(|_| ())
            .map_err(|e| LogoutError::Internal(e.0))
    }
}
