//! Server-side sessions, named by every Codex access token.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{Session, SessionId, User};
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    #[error("a session with this id exists already")]
    DuplicateId,
    #[error("no such user")]
    UnknownUser,
    #[error(transparent)]
    Internal(BoxError),
}

/// Stores sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// # Errors
    /// `DuplicateId` when a session with this id exists; `UnknownUser` when its user does not.
    async fn create_session(&self, session: &Session) -> Result<(), SessionStoreError>;

    /// A session together with its user, read at once (the bearer check's one read).
    ///
    /// # Errors
    /// When the store fails.
    async fn session_with_user(&self, id: SessionId)
    -> Result<Option<(Session, User)>, StoreError>;

    /// Marks a session revoked at `at`; a session revoked already keeps its first time.
    ///
    /// # Errors
    /// When the store fails.
    async fn revoke_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError>;
}
