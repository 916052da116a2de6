//! Password hashing.

use async_trait::async_trait;

use crate::BoxError;
use crate::domain::{Password, PasswordHash};

#[derive(Debug, thiserror::Error)]
pub enum PasswordHasherError {
    #[error(transparent)]
    Internal(BoxError),
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
    /// `Internal` when hashing fails.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError>;

    /// Whether `password` matches `hash`. A malformed stored hash is a mismatch, not an error.
    /// With `hash = None` the implementation MUST still do the work of one verification (against
    /// a fixed dummy hash) and return `false`, so that unknown users take as long as known ones.
    ///
    /// # Errors
    /// `Internal` when the work cannot be scheduled.
    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError>;

    /// Whether `hash` was made with weaker parameters (or another algorithm) than this hasher
    /// uses now, so that it should be replaced after the next successful verification.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}
