//! Codex access tokens.

use crate::BoxError;
use crate::domain::{AccessTokenClaims, IssuedToken};

#[derive(Debug, thiserror::Error)]
pub enum TokenIssuerError {
    /// The token is not a valid, unexpired Codex access token of this deployment.
    #[error("the access token is invalid")]
    Invalid,
    #[error(transparent)]
    Internal(BoxError),
}

/// Signs and verifies Codex access tokens.
///
/// Implementations MUST sign with an asymmetric key shared by every replica, put `typ` `at+jwt`
/// (RFC 9068) in the header and `iss`, `aud`, `sub`, `sid`, `iat`, `exp`, `jti` in the claims,
/// and on verification check the signature, `typ`, `iss`, `aud` and `exp` (against `now`), so
/// that no other kind of token (an ID token, say) ever passes.
pub trait TokenIssuer: Send + Sync {
    /// Signs a token with these claims.
    ///
    /// # Errors
    /// `Internal` when signing fails.
    fn issue(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, TokenIssuerError>;

    /// Verifies a token presented by a client, at time `now`.
    ///
    /// # Errors
    /// `Invalid` for any token that is not acceptable.
    fn verify(
        &self,
        token: &str,
        now: time::OffsetDateTime,
    ) -> Result<AccessTokenClaims, TokenIssuerError>;
}
