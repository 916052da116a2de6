//! End a session: every token naming it is refused from now on.

use crate::BoxError;
use crate::service::{Auth, Principal};

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error(transparent)]
    Internal(BoxError),
}

impl Auth {
    /// Revokes the caller's session.
    ///
    /// # Errors
    /// `Internal` when the store fails.
    pub async fn logout(&self, principal: &Principal) -> Result<(), LogoutError> {
        self.sessions
            .revoke_session(principal.session, self.clock.now())
            .await
            .map(|_| ())
            .map_err(|e| LogoutError::Internal(e.0))
    }
}
