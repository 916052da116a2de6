//! Server-side sessions, named by every Codex access token, and their refresh tokens.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{
    AuditEvent, Issuer, SealedIdToken, Session, SessionId, Subject, TokenDigest, User, UserId,
};
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    #[error("a session with this id exists already")]
    DuplicateId,
    #[error("no such user")]
    UnknownUser,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// A session to store, with the digests of its first refresh token and of its browser
/// credential, when it has them.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub session: Session,
    pub refresh_token: Option<TokenDigest>,
    pub cookie: Option<TokenDigest>,
    /// The provider's ID token of the login that started it, for provider logout.
    pub id_token: Option<SealedIdToken>,
}

/// Which sessions to revoke at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeScope {
    /// Every session of the user, except one (the caller's own, after a password change).
    User { user: UserId, except: Option<SessionId> },
    /// Every session started through this external identity.
    Identity { issuer: Issuer, subject: Subject },
}

/// Stores sessions. Methods that take an `AuditEvent` record it in the same transaction as the
/// change, only when it happens (revocations: when at least one session was live).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// # Errors
    /// `DuplicateId` when a session with this id exists; `UnknownUser` when its user does not.
    async fn start_session(
        &self,
        session: &NewSession,
        audit: &AuditEvent,
    ) -> Result<(), SessionStoreError>;

    /// A session together with its user, read at once (the bearer check's one read).
    ///
    /// # Errors
    /// When the store fails.
    async fn session_with_user(&self, id: SessionId)
    -> Result<Option<(Session, User)>, StoreError>;

    /// The session whose browser credential has this digest, with its user.
    ///
    /// # Errors
    /// When the store fails.
    async fn session_by_cookie(
        &self,
        cookie: &TokenDigest,
    ) -> Result<Option<(Session, User)>, StoreError>;

    /// The sealed ID token kept with a session, if any.
    ///
    /// # Errors
    /// When the store fails.
    async fn sealed_id_token(&self, id: SessionId) -> Result<Option<SealedIdToken>, StoreError>;

    /// Records a use of the session at `at` (it slides the idle timeout).
    ///
    /// # Errors
    /// When the store fails.
    async fn touch_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError>;

    /// The user's sessions that are not revoked, oldest first.
    ///
    /// # Errors
    /// When the store fails.
    async fn sessions_of_user(&self, user: UserId) -> Result<Vec<Session>, StoreError>;

    /// Marks a session revoked at `at`; whether it was live until now (a session revoked already
    /// keeps its first time).
    ///
    /// # Errors
    /// When the store fails.
    async fn revoke_session(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError>;

    /// Revokes every live session in `scope` at `at`; how many.
    ///
    /// # Errors
    /// When the store fails.
    async fn revoke_sessions(
        &self,
        scope: &RevokeScope,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<u64, StoreError>;

    /// Deletes at most `batch` sessions (with their refresh tokens) that had ended by `now`:
    /// revoked, past their maximum age, or last used before `idle_cutoff`; how many.
    ///
    /// # Errors
    /// When the store fails.
    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError>;
}

/// What presenting a refresh token did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was live: it is spent now, and the next one belongs to this session.
    Rotated(SessionId),
    /// The token was spent already: someone is replaying it.
    Reused(SessionId),
    /// The token is unspent but its session has ended (revoked, idle or too old): nothing
    /// changed.
    SessionEnded,
    Unknown,
}

/// Stores refresh tokens (their digests), single use each.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Spends `presented` and stores `next` for the same session, atomically: of two concurrent
    /// presentations of one token, at most one is `Rotated`. Rotates only while the session is
    /// live at `at`: not revoked, `expires_at` after `at`, last used after `idle_cutoff`. Records
    /// `audit` (with the session's user) in the same transaction when it rotates.
    ///
    /// # Errors
    /// When the store fails.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        at: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        audit: &AuditEvent,
    ) -> Result<RefreshOutcome, StoreError>;
}
