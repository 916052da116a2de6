//! Password hashing.

use async_trait::async_trait;

use crate::BoxError;
use crate::domain::{Password, PasswordHash};

#[derive(Debug, thiserror::Error)]
pub enum PasswordHasherError {
    /// The hashing queue is full, or the caller waited in it longer than allowed: nothing was
    /// hashed; try again after `retry_after`.
    #[error("password hashing is busy; try again in {} seconds", retry_after.as_secs())]
    Busy { retry_after: std::time::Duration },
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Hashes and verifies passwords.
///
/// Implementations MUST use a fresh random salt per hash. The product's implementation uses a
/// memory-hard function at or above OWASP's parameters (argon2id, m=19456 KiB, t=2, p=1) off the
/// async executor; stand-ins in tests that are not about hashing may be fast.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a new password.
    ///
    /// # Errors
    /// `Busy` when the queue is full or the wait too long; `Internal` when hashing fails.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError>;

    /// Whether `password` matches `hash`. A malformed stored hash is a mismatch, not an error.
    /// With `hash = None` the implementation MUST still do the work of one verification (against
    /// a fixed dummy hash) and return `false`, so that unknown users take as long as known ones.
    ///
    /// # Errors
    /// `Busy` when the queue is full or the wait too long; `Internal` when the work cannot be
    /// scheduled.
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError>;

    /// Whether `hash` was made with weaker parameters (or another algorithm) than this hasher
    /// uses now, so that it should be replaced after the next successful verification.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}
