//! Log out at the provider too (OpenID Connect RP-Initiated Logout): end the Codex session, then
//! send the browser to the provider's end-session endpoint with the ID token of the login that
//! started the session.

use crate::BoxError;
use crate::domain::{ReturnTo, ReturnToError};
use crate::ports::OidcProviderError;
use crate::service::{OidcLogin, Principal};

#[derive(Debug, thiserror::Error)]
pub enum ProviderLogoutError {
    #[error(transparent)]
    InvalidReturnTo(#[from] ReturnToError),
    /// The Codex session has ended; the provider's end-session endpoint is not known.
    #[error("{0}")]
    ProviderUnavailable(String),
    #[error("{0}")]
    ProviderMisconfigured(String),
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Where the browser goes after the Codex session has ended.
pub struct ProviderLogout {
    pub location: String,
    /// Whether `location` is the provider's end-session endpoint.
    pub at_provider: bool,
}

impl std::fmt::Debug for ProviderLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The location carries the ID token.
        f.debug_struct("ProviderLogout").field("at_provider", &self.at_provider).finish()
    }
}

impl OidcLogin {
    /// Ends `principal`'s session when there is one, then answers with the provider's
    /// end-session URL (with `id_token_hint` when the session kept an ID token that `cookie`
    /// opens) or, when the provider has no end-session endpoint, `return_to` (default `/`).
    ///
    /// # Errors
    /// `InvalidReturnTo` (nothing ended); `ProviderUnavailable`/`ProviderMisconfigured` after
    /// the session has ended.
    pub async fn provider_logout(
        &self,
        principal: Option<&Principal>,
        cookie: Option<&str>,
        return_to: Option<&str>,
    ) -> Result<ProviderLogout, ProviderLogoutError> {
        let return_to = return_to.map(ReturnTo::parse).transpose()?.unwrap_or_else(ReturnTo::root);
        let mut hint = None;
        if let Some(principal) = principal {
            let sealed = self
                .auth
                .sessions
                .sealed_id_token(principal.session)
                .await
                .map_err(|e| ProviderLogoutError::Internal(e.0))?;
            hint = sealed.zip(cookie).and_then(|(s, c)| s.open(principal.session, c));
            self.auth.logout(principal).await.map_err(|e| match e {
                crate::service::LogoutError::Internal(e) => ProviderLogoutError::Internal(e),
            })?;
        }
        match self.provider.end_session_url(hint.as_ref()).await {
            Ok(Some(location)) => Ok(ProviderLogout { location, at_provider: true }),
            Ok(None) => {
                Ok(ProviderLogout { location: return_to.as_str().to_owned(), at_provider: false })
            }
            Err(OidcProviderError::Misconfigured(m)) => {
                Err(ProviderLogoutError::ProviderMisconfigured(m))
            }
            Err(OidcProviderError::Unavailable(m) | OidcProviderError::TokenEndpoint(m)) => {
                Err(ProviderLogoutError::ProviderUnavailable(m))
            }
            Err(OidcProviderError::Internal(e)) => Err(ProviderLogoutError::Internal(e)),
        }
    }
}
