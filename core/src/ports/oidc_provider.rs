//! The external OpenID Provider.

use async_trait::async_trait;

use crate::BoxError;
use crate::domain::{
    AuthorizationRequest, IdTokenRejection, Issuer, ProviderKeys, ProviderTokens, SecretString,
    VerifiedIdentity,
};

#[derive(Debug, thiserror::Error)]
pub enum OidcProviderError {
    /// Discovery has not succeeded yet (the provider could not be reached).
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// Discovery returned a document that must not be trusted (issuer mismatch, say).
    #[error("the identity provider is misconfigured: {0}")]
    Misconfigured(String),
    /// The token endpoint failed, refused the code, or timed out.
    #[error("the identity provider's token endpoint failed: {0}")]
    TokenEndpoint(String),
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Whether the provider's discovery document has been loaded and trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderStatus {
    Ready,
    Unavailable(String),
    Misconfigured(String),
}

/// The relying-party side of the authorization-code flow against one configured provider.
///
/// Implementations MUST use PKCE (S256) and `client_secret_basic`, and verify ID tokens with an
/// RSA-only algorithm allow-list, an exact issuer match, the client id in `aud`, `exp` with a
/// small leeway, a sane `iat`, the nonce and, when present, `at_hash`.
#[async_trait]
pub trait OidcProvider: Send + Sync {
    /// The configured issuer.
    fn issuer(&self) -> &Issuer;

    /// The state of discovery.
    fn status(&self) -> ProviderStatus;

    /// Whether the provider's authorization responses must carry `iss` (RFC 9207: its
    /// discovery document says it sends it), so that a callback without one is refused.
    /// Waits for discovery when it has not succeeded yet.
    ///
    /// # Errors
    /// As `authorization_request` when the provider is not discovered.
    async fn requires_iss(&self) -> Result<bool, OidcProviderError>;

    /// A new authorization request with fresh state, nonce and PKCE verifier; with
    /// `force_login`, `prompt=login`: the provider asks who is signing in even when it has a
    /// session (linking an account must be a deliberate choice of the account).
    ///
    /// # Errors
    /// `Unavailable` or `Misconfigured` when discovery has not produced a trusted document.
    async fn authorization_request(
        &self,
        force_login: bool,
    ) -> Result<AuthorizationRequest, OidcProviderError>;

    /// Exchanges an authorization code at the token endpoint.
    ///
    /// # Errors
    /// `TokenEndpoint` when the provider refuses or fails; `Unavailable`/`Misconfigured` as above.
    async fn exchange_code(
        &self,
        code: &SecretString,
        pkce_verifier: &SecretString,
    ) -> Result<ProviderTokens, OidcProviderError>;

    /// Where to send the browser to end its session at the provider (OpenID Connect
    /// RP-Initiated Logout), with `id_token_hint` when one is given; `None` when the provider's
    /// discovery document has no `end_session_endpoint`.
    ///
    /// # Errors
    /// `Unavailable` or `Misconfigured` when discovery has not produced a trusted document.
    async fn end_session_url(
        &self,
        id_token_hint: Option<&SecretString>,
    ) -> Result<Option<String>, OidcProviderError>;

    /// Verifies the ID token of `tokens` against `keys`, at time `now`.
    ///
    /// # Errors
    /// `UnknownKey` when no key matches the token's key id, `Invalid` for every other failure.
    fn verify_id_token(
        &self,
        tokens: &ProviderTokens,
        nonce: &SecretString,
        keys: &ProviderKeys,
        now: time::OffsetDateTime,
    ) -> Result<VerifiedIdentity, IdTokenRejection>;
}
