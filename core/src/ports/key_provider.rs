//! The OpenID Provider's signing keys.

use async_trait::async_trait;

use crate::BoxError;
use crate::domain::ProviderKeys;

#[derive(Debug, thiserror::Error)]
pub enum KeyProviderError {
    /// No keys young enough to trust could be had.
    #[error("the provider's signing keys are unavailable")]
    Unavailable,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Supplies the provider's RSA signing keys from a cache.
///
/// Implementations MUST never serve keys older than the configured TTL, refresh keys older than
/// the refresh interval while still serving them, fetch at most once for a burst of concurrent
/// callers, skip unusable keys, and never cache a failure as keys.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// The keys to verify a token with.
    ///
    /// # Errors
    /// `Unavailable` when there are no keys younger than the TTL and none can be fetched.
    async fn keys(&self) -> Result<ProviderKeys, KeyProviderError>;

    /// The keys after a token named a key id that `keys` did not have. Implementations MUST
    /// refetch at once when the last fetch was not itself caused by an unknown key id, and
    /// otherwise space such refetches by a cooldown (returning the cached keys meanwhile).
    ///
    /// # Errors
    /// As `keys`.
    async fn keys_after_unknown_kid(&self) -> Result<ProviderKeys, KeyProviderError>;
}
