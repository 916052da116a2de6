//! Finish an OpenID Connect login at the callback: consume the pending login, exchange the code,
//! verify the ID token, find the linked user, start a session.

use std::sync::Arc;

use crate::BoxError;
use crate::domain::{
    CallbackParams, IdTokenRejection, PendingLogin, ProviderKeys, ProviderTokens, ReturnTo,
    StateDigest, User, VerifiedIdentity,
};
use crate::ports::{KeyProvider, KeyProviderError, OidcProvider, OidcProviderError};
use crate::service::begin_oidc_login::PENDING_LOGIN_MAX_AGE;
use crate::service::{Auth, LoginSuccess};

/// OpenID Connect login against the configured provider.
#[derive(Clone)]
pub struct OidcLogin {
    pub(crate) auth: Auth,
    pub(crate) provider: Arc<dyn OidcProvider>,
    keys: Arc<dyn KeyProvider>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompleteOidcLoginError {
    /// Missing, unknown, expired, already used, or not begun by this browser.
    #[error("the login state is missing, unknown, expired or not bound to this browser")]
    InvalidState,
    #[error("the identity provider refused the login: {error}")]
    ProviderDenied { error: String, description: Option<String> },
    /// RFC 9207: the `iss` of the callback is not the configured issuer.
    #[error("the callback's issuer is not the configured provider")]
    IssuerMismatch,
    #[error("the callback carries no authorization code")]
    MissingCode,
    #[error("{0}")]
    ProviderError(String),
    #[error("{0}")]
    ProviderUnavailable(String),
    #[error("{0}")]
    ProviderMisconfigured(String),
    #[error("the identity provider's signing keys are unavailable")]
    KeysUnavailable,
    #[error("the ID token was rejected: {0}")]
    IdTokenRejected(String),
    /// Also for identities linked to a disabled user.
    #[error("this identity is not linked to a Codex user")]
    IdentityNotLinked,
    #[error(transparent)]
    Internal(BoxError),
}

/// A finished login: the session and token, and where the browser wanted to go.
#[derive(Debug)]
pub struct OidcLoginDone {
    pub login: LoginSuccess,
    pub return_to: Option<ReturnTo>,
}

type Error = CompleteOidcLoginError;

impl OidcLogin {
    pub fn new(auth: Auth, provider: Arc<dyn OidcProvider>, keys: Arc<dyn KeyProvider>) -> Self {
        Self { auth, provider, keys }
    }

    pub fn provider(&self) -> &Arc<dyn OidcProvider> {
        &self.provider
    }

    /// The current time on the clock that sessions are timed by.
    pub fn auth_clock_now(&self) -> time::OffsetDateTime {
        self.auth.clock().now()
    }

    /// `browser_state` is the state the login endpoint bound to the browser (its cookie).
    ///
    /// # Errors
    /// See `CompleteOidcLoginError`; no session exists after any error.
    pub async fn complete(
        &self,
        params: CallbackParams,
        browser_state: Option<&str>,
    ) -> Result<OidcLoginDone, Error> {
        let pending = self.take_pending(&params, browser_state).await?;
        // RFC 9207 §2.4: the issuer of error responses is checked too.
        if params.iss.as_deref().is_some_and(|iss| iss != self.provider.issuer().as_str()) {
            return Err(Error::IssuerMismatch);
        }
        if let Some(error) = params.error {
            return Err(Error::ProviderDenied { error, description: params.error_description });
        }
        let code = params.code.ok_or(Error::MissingCode)?;
        let tokens = self.provider.exchange_code(&code, &pending.pkce_verifier).await.map_err(
            |e| match e {
                OidcProviderError::TokenEndpoint(m) => Error::ProviderError(m),
                OidcProviderError::Unavailable(m) => Error::ProviderUnavailable(m),
                OidcProviderError::Misconfigured(m) => Error::ProviderMisconfigured(m),
                OidcProviderError::Internal(e) => Error::Internal(e),
            },
        )?;
        let identity = self.verify(&tokens, &pending).await?;
        let user = self.linked_user(&identity).await?;
        let login = self.auth.start_session(user).await.map_err(Error::Internal)?;
        Ok(OidcLoginDone { login, return_to: pending.return_to })
    }

    /// Consumes the pending login named by `state` (whatever happens next) and checks that it is
    /// young enough and bound to this browser.
    async fn take_pending(
        &self,
        params: &CallbackParams,
        browser_state: Option<&str>,
    ) -> Result<PendingLogin, Error> {
        let state = params.state.as_deref().filter(|s| !s.is_empty()).ok_or(Error::InvalidState)?;
        let pending = self
            .auth
            .store()
            .take_pending_login(&StateDigest::of(state))
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .ok_or(Error::InvalidState)?;
        let bound = browser_state
            .is_some_and(|cookie| crate::domain::SecretString::new(state).ct_eq(cookie));
        let fresh = self.auth.clock().now() - pending.created_at < PENDING_LOGIN_MAX_AGE;
        let same_provider = pending.issuer == *self.provider.issuer();
        if bound && fresh && same_provider { Ok(pending) } else { Err(Error::InvalidState) }
    }

    /// Verifies the ID token; on an unknown key id, once more with freshly fetched keys.
    async fn verify(
        &self,
        tokens: &ProviderTokens,
        pending: &PendingLogin,
    ) -> Result<VerifiedIdentity, Error> {
        let keys = self.keys.keys().await.map_err(key_error)?;
        match self.verify_with(tokens, pending, &keys) {
            Err(IdTokenRejection::UnknownKey) => {
                let keys = self.keys.keys_after_unknown_kid().await.map_err(key_error)?;
                self.verify_with(tokens, pending, &keys)
            }
            other => other,
        }
        .map_err(|rejection| Error::IdTokenRejected(rejection.to_string()))
    }

    fn verify_with(
        &self,
        tokens: &ProviderTokens,
        pending: &PendingLogin,
        keys: &ProviderKeys,
    ) -> Result<VerifiedIdentity, IdTokenRejection> {
        let now = self.auth.clock().now();
        self.provider.verify_id_token(tokens, &pending.nonce, keys, now)
    }

    /// The enabled user linked to (issuer, subject): never looked up by e-mail.
    async fn linked_user(&self, identity: &VerifiedIdentity) -> Result<User, Error> {
        self.auth
            .store()
            .user_by_identity(&identity.issuer, &identity.subject)
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .filter(|user| !user.disabled)
            .ok_or(Error::IdentityNotLinked)
    }
}

fn key_error(error: KeyProviderError) -> Error {
    match error {
        KeyProviderError::Unavailable => Error::KeysUnavailable,
        KeyProviderError::Internal(e) => Error::Internal(e),
    }
}
