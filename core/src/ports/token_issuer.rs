//! Codex access tokens.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{AccessTokenClaims, IssuedToken, PublishedKey};

#[derive(Debug, thiserror::Error)]
pub enum TokenIssuerError {
    /// The token is not a valid, unexpired Codex access token of this deployment.
    #[error("the access token is invalid")]
    Invalid,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Signs and verifies Codex access tokens, and publishes the keys that verify them.
///
/// Implementations MUST sign with an asymmetric key shared by every replica, put `typ` `at+jwt`
/// (RFC 9068) in the header and `iss`, `aud`, `sub`, `sid`, `iat`, `exp`, `jti` in the claims,
/// and on verification check the signature, `typ`, `iss`, `aud` and `exp` (against `now`), so
/// that no other kind of token (an ID token, say) ever passes.
#[async_trait]
pub trait TokenIssuer: Send + Sync {
    /// Signs a token with these claims. Implementations SHOULD do the private-key arithmetic
    /// off the threads that serve requests.
    ///
    /// # Errors
    /// `Internal` when signing fails.
    async fn issue(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, TokenIssuerError>;

    /// Verifies a token presented by a client, at time `now`. A token signed with a key this
    /// replica has not seen yet (rotated in by another) may make it look for new keys first.
    ///
    /// # Errors
    /// `Invalid` for any token that is not acceptable.
    async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, TokenIssuerError>;

    /// The public keys other services verify tokens with at `now`: every key that may have
    /// signed a token still valid, and the key that will sign next.
    fn published_keys(&self, now: OffsetDateTime) -> Vec<PublishedKey>;
}
