//! Finish an OpenID Connect login at the callback: consume the pending login, exchange the code,
//! verify the ID token, find the linked user, start a session.

use std::net::IpAddr;

use crate::BoxError;
use crate::domain::{
    AuditEvent, AuditKind, AuditOutcome, CallbackParams, IdTokenRejection, PendingLogin,
    ProviderKeys, ProviderTokens, ReturnTo, SecretString, SessionMethod, StateDigest, User,
    VerifiedIdentity,
};
use crate::ports::{KeyProviderError, OidcProviderError};
use crate::service::begin_oidc_login::PENDING_LOGIN_MAX_AGE;
use crate::service::login_with_password::StartSession;
use crate::service::{Credential, LoginSuccess, OidcLogin};

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
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// A finished login: the session and token, and where the browser wanted to go.
#[derive(Debug)]
pub struct OidcLoginDone {
    pub login: LoginSuccess,
    pub return_to: Option<ReturnTo>,
}

type Error = CompleteOidcLoginError;

impl CompleteOidcLoginError {
    /// The stable name of the refusal, as the audit trail and the API call it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidState => "invalid_state",
            Self::ProviderDenied { .. } => "provider_denied",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::MissingCode => "invalid_request",
            Self::ProviderError(_) => "provider_error",
            Self::ProviderUnavailable(_) => "provider_unavailable",
            Self::ProviderMisconfigured(_) => "provider_misconfigured",
            Self::KeysUnavailable => "provider_keys_unavailable",
            Self::IdTokenRejected(_) => "id_token_rejected",
            Self::IdentityNotLinked => "identity_not_linked",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl OidcLogin {
    /// `browser_state` is the state the login endpoint bound to the browser (its cookie).
    ///
    /// # Errors
    /// See `CompleteOidcLoginError`; no session exists after any error.
    pub async fn complete(
        &self,
        params: CallbackParams,
        browser_state: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<OidcLoginDone, Error> {
        let result = self.complete_login(params, browser_state, address).await;
        if let Err(error) = &result {
            let event =
                AuditEvent::new(AuditKind::LoginOidc, AuditOutcome::Failure, self.clock.now())
                    .from_address(address)
                    .detail("code", error.code());
            self.audit.record(&event).await.map_err(|e| Error::Internal(e.0))?;
        }
        result
    }

    async fn complete_login(
        &self,
        params: CallbackParams,
        browser_state: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<OidcLoginDone, Error> {
        let pending = self.take_pending(&params, browser_state).await?;
        // RFC 9207 §2.4: the issuer of error responses is checked too, and a provider that
        // announces `iss` must send it.
        let provider_error = |e| match e {
            OidcProviderError::TokenEndpoint(m) => Error::ProviderError(m),
            OidcProviderError::Unavailable(m) => Error::ProviderUnavailable(m),
            OidcProviderError::Misconfigured(m) => Error::ProviderMisconfigured(m),
            OidcProviderError::Internal(e) => Error::Internal(e),
        };
        match params.iss.as_deref() {
            Some(iss) if iss != self.provider.issuer().as_str() => {
                return Err(Error::IssuerMismatch);
            }
            // Discovery is awaited first: a restart must not open a window without the check.
            None if self.provider.requires_iss().await.map_err(provider_error)? => {
                return Err(Error::IssuerMismatch);
            }
            _ => {}
        }
        if let Some(error) = params.error {
            return Err(Error::ProviderDenied { error, description: params.error_description });
        }
        let code = params.code.ok_or(Error::MissingCode)?;
        let tokens = self
            .provider
            .exchange_code(&code, &pending.pkce_verifier)
            .await
            .map_err(provider_error)?;
        let identity = self.verify(&tokens, &pending).await?;
        let user = self.linked_user(&identity).await?;
        // A browser that asked to return to a page gets the session cookie; a client reading
        // the JSON answer gets a refresh token.
        let credential = match pending.return_to {
            Some(_) => Credential::Cookie,
            None => Credential::RefreshToken,
        };
        let method = SessionMethod::Oidc { issuer: identity.issuer, subject: identity.subject };
        let start = StartSession { method, credential, address };
        let login = self.auth.start_session(user, start).await.map_err(Error::Internal)?;
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
            .pending
            .take_pending_login(&StateDigest::of(state))
            .await
            .map_err(|e| Error::Internal(e.0))?
            .ok_or(Error::InvalidState)?;
        let bound = browser_state.is_some_and(|cookie| SecretString::new(state).ct_eq(cookie));
        let fresh = self.clock.now() - pending.created_at < PENDING_LOGIN_MAX_AGE;
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
        self.provider.verify_id_token(tokens, &pending.nonce, keys, self.clock.now())
    }

    /// The enabled user linked to (issuer, subject): never looked up by e-mail.
    async fn linked_user(&self, identity: &VerifiedIdentity) -> Result<User, Error> {
        self.links
            .user_by_identity(&identity.issuer, &identity.subject)
            .await
            .map_err(|e| Error::Internal(e.0))?
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

#[cfg(test)]
mod tests {
    use crate::domain::{CallbackParams, SecretString};
    use crate::service::fakes::{ISSUER, World};
    use crate::service::{Admin, CompleteOidcLoginError as Error, LinkIdentity, OidcLoginStart};

    fn callback(start: &OidcLoginStart) -> CallbackParams {
        CallbackParams {
            state: Some(start.state.expose().to_owned()),
            code: Some(SecretString::new("code")),
            iss: Some(ISSUER.to_owned()),
            ..CallbackParams::default()
        }
    }

    async fn linked(w: &World, subject: &str) -> crate::domain::User {
        let user = w.user(&format!("{subject}@example.com"), None, false).await;
        let request = LinkIdentity { issuer: ISSUER, subject, user_id: user.id, email: None };
        w.links.link_identity(&Admin::operator(), request).await.unwrap();
        user
    }

    #[tokio::test]
    async fn a_linked_identity_logs_in_once_per_state_and_only_in_the_browser_that_began() {
        let w = World::new();
        let user = linked(&w, "subject-1").await;
        let start = w.oidc.begin(Some("/app"), None).await.unwrap();

        let foreign = w.oidc.complete(callback(&start), Some("another state"), None).await;
        assert!(matches!(foreign, Err(Error::InvalidState)), "{foreign:?}");
        let start = w.oidc.begin(Some("/app"), None).await.unwrap();
        let done =
            w.oidc.complete(callback(&start), Some(start.state.expose()), None).await.unwrap();
        assert_eq!(done.login.user.id, user.id);
        assert_eq!(done.return_to.unwrap().as_str(), "/app");
        let replay = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(replay, Err(Error::InvalidState)), "{replay:?}");
    }

    #[tokio::test]
    async fn a_stale_login_a_foreign_issuer_and_an_unlinked_or_disabled_user_are_refused() {
        let w = World::new();
        let user = linked(&w, "subject-1").await;

        let start = w.oidc.begin(None, None).await.unwrap();
        w.clock.advance(super::PENDING_LOGIN_MAX_AGE);
        let stale = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(stale, Err(Error::InvalidState)), "{stale:?}");

        let start = w.oidc.begin(None, None).await.unwrap();
        let params =
            CallbackParams { iss: Some("https://evil.example".into()), ..callback(&start) };
        let foreign = w.oidc.complete(params, Some(start.state.expose()), None).await;
        assert!(matches!(foreign, Err(Error::IssuerMismatch)), "{foreign:?}");

        *w.provider.subject.lock().unwrap() = "nobody".to_owned();
        let start = w.oidc.begin(None, None).await.unwrap();
        let unlinked = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(unlinked, Err(Error::IdentityNotLinked)), "{unlinked:?}");

        *w.provider.subject.lock().unwrap() = "subject-1".to_owned();
        w.accounts.disable_user(&Admin::operator(), user.id).await.unwrap();
        let start = w.oidc.begin(None, None).await.unwrap();
        let disabled = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(disabled, Err(Error::IdentityNotLinked)), "{disabled:?}");
    }
}
