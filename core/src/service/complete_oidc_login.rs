//! Finish an OpenID Connect login at the callback: consume the pending login, exchange the code,
//! verify the ID token, find the linked user, start a session.

use std::net::IpAddr;

use crate::BoxError;
use crate::domain::{
    AuditEvent, AuditKind, AuditOutcome, CallbackParams, ExternalIdentity, IdTokenRejection,
    LoginPurpose, NewExternalIdentity, PendingLogin, ProviderKeys, ProviderTokens, ReturnTo,
    SecretString, SessionId, SessionMethod, StateDigest, User, VerifiedIdentity,
};
use crate::ports::{KeyProviderError, LinkStoreError, OidcProviderError, RedeemError};
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
    /// The login carried an invitation that was spent, revoked or expired meanwhile.
    #[error("the invitation is unknown, spent or expired")]
    InvalidInvitation,
    /// The identity is linked to another user: an invitation stays unspent, nothing is linked.
    #[error("this identity is linked to another Codex user")]
    IdentityAlreadyLinked,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// A finished login: the session and token, and where the browser wanted to go.
#[derive(Debug)]
pub struct OidcLoginDone {
    pub login: LoginSuccess,
    pub return_to: Option<ReturnTo>,
}

/// What a callback did.
#[derive(Debug)]
pub enum OidcCallback {
    /// A session started (a plain login, or one through an invitation).
    LoggedIn(OidcLoginDone),
    /// The identity is linked to the signed-in user who began the login; no session started.
    Linked { identity: ExternalIdentity, return_to: ReturnTo },
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
            Self::InvalidInvitation => "invalid_invitation",
            Self::IdentityAlreadyLinked => "identity_already_linked",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl OidcLogin {
    /// `browser_state` is the state the login endpoint bound to the browser (its cookie).
    ///
    /// # Errors
    /// See `CompleteOidcLoginError`; no one holds a session's credentials after any error (a
    /// session stored before its token failed to sign is never handed out, and expires).
    pub async fn complete(
        &self,
        params: CallbackParams,
        browser_state: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<OidcCallback, Error> {
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
    ) -> Result<OidcCallback, Error> {
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
        match pending.purpose {
            LoginPurpose::Login => {}
            LoginPurpose::Invitation(invitation) => {
                self.redeem(invitation, &identity, address).await?;
            }
            LoginPurpose::Link(session) => {
                let identity = self.link_to(session, identity, address).await?;
                let return_to = pending.return_to.unwrap_or_else(ReturnTo::root);
                return Ok(OidcCallback::Linked { identity, return_to });
            }
        }
        let user = self.linked_user(&identity).await?;
        // A browser that asked to return to a page gets the session cookie; a client reading
        // the JSON answer gets a refresh token.
        let credential = match pending.return_to {
            Some(_) => Credential::Cookie,
            None => Credential::RefreshToken,
        };
        let method = SessionMethod::Oidc { issuer: identity.issuer, subject: identity.subject };
        let id_token = Some(tokens.id_token);
        let start = StartSession { method, credential, address, id_token };
        let login = self.auth.start_session(user, start).await.map_err(Error::Internal)?;
        Ok(OidcCallback::LoggedIn(OidcLoginDone { login, return_to: pending.return_to }))
    }

    /// Spends the invitation, linking the identity to the invited user if it is linked to
    /// nobody; audited as `identity.linked`.
    async fn redeem(
        &self,
        invitation: uuid::Uuid,
        identity: &VerifiedIdentity,
        address: Option<IpAddr>,
    ) -> Result<(), Error> {
        let event =
            AuditEvent::new(AuditKind::IdentityLinked, AuditOutcome::Success, self.clock.now())
                .from_address(address)
                .detail("issuer", &identity.issuer)
                .detail("subject", &identity.subject)
                .detail("invitation", invitation)
                .detail("via", "invitation");
        match self
            .invitations
            .redeem_invitation(invitation, identity, event.occurred_at, &event)
            .await
        {
            Ok(_) => Ok(()),
            Err(RedeemError::InvalidInvitation) => Err(Error::InvalidInvitation),
            Err(RedeemError::AlreadyLinked) => Err(Error::IdentityAlreadyLinked),
            Err(RedeemError::Internal(e)) => Err(Error::Internal(e)),
        }
    }

    /// Links the identity to the user of `session` (the one that began the login), which must
    /// still be live, its user enabled; an identity linked to them already stays as it is.
    async fn link_to(
        &self,
        session: SessionId,
        identity: VerifiedIdentity,
        address: Option<IpAddr>,
    ) -> Result<ExternalIdentity, Error> {
        let internal = |e: crate::ports::StoreError| Error::Internal(e.0);
        let (now, idle) = (self.clock.now(), self.auth.settings.sessions.idle_timeout);
        let found = self.auth.sessions.session_with_user(session).await.map_err(internal)?;
        let user = match found {
            Some((session, user)) if session.is_active(now, idle) && !user.disabled => user.id,
            // Logged out, revoked or disabled while at the provider.
            _ => return Err(Error::InvalidState),
        };
        let linked = self.links.user_by_identity(&identity.issuer, &identity.subject).await;
        match linked.map_err(internal)? {
            Some(other) if other.id != user => return Err(Error::IdentityAlreadyLinked),
            Some(_) => {
                let mut identities = self.links.identities_of_user(user).await.map_err(internal)?;
                identities.retain(|i| i.issuer == identity.issuer && i.subject == identity.subject);
                return identities.pop().ok_or(Error::IdentityAlreadyLinked);
            }
            None => {}
        }
        let now = self.clock.now();
        let event = AuditEvent::new(AuditKind::IdentityLinked, AuditOutcome::Success, now)
            .user(user)
            .actor(Some(user))
            .from_address(address)
            .detail("issuer", &identity.issuer)
            .detail("subject", &identity.subject)
            .detail("via", "self_service");
        let new = NewExternalIdentity {
            issuer: identity.issuer,
            subject: identity.subject,
            user_id: user,
            email: identity.email,
            created_at: now,
        };
        self.links.link_identity(new, &event).await.map_err(|e| match e {
            LinkStoreError::AlreadyLinked => Error::IdentityAlreadyLinked,
            LinkStoreError::UnknownUser => Error::InvalidState,
            LinkStoreError::Internal(e) => Error::Internal(e),
        })
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
    use crate::service::{
        Admin, CompleteOidcLoginError as Error, LinkIdentity, OidcCallback, OidcLoginStart,
    };

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
        let start = w.oidc.begin(Some("/app"), None, None).await.unwrap();

        let foreign = w.oidc.complete(callback(&start), Some("another state"), None).await;
        assert!(matches!(foreign, Err(Error::InvalidState)), "{foreign:?}");
        let start = w.oidc.begin(Some("/app"), None, None).await.unwrap();
        let done =
            w.oidc.complete(callback(&start), Some(start.state.expose()), None).await.unwrap();
        let OidcCallback::LoggedIn(done) = done else { panic!("{done:?}") };
        assert_eq!(done.login.user.id, user.id);
        assert_eq!(done.return_to.unwrap().as_str(), "/app");
        let replay = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(replay, Err(Error::InvalidState)), "{replay:?}");
    }

    #[tokio::test]
    async fn a_stale_login_a_foreign_issuer_and_an_unlinked_or_disabled_user_are_refused() {
        let w = World::new();
        let user = linked(&w, "subject-1").await;

        let start = w.oidc.begin(None, None, None).await.unwrap();
        w.clock.advance(super::PENDING_LOGIN_MAX_AGE);
        let stale = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(stale, Err(Error::InvalidState)), "{stale:?}");

        let start = w.oidc.begin(None, None, None).await.unwrap();
        let params =
            CallbackParams { iss: Some("https://evil.example".into()), ..callback(&start) };
        let foreign = w.oidc.complete(params, Some(start.state.expose()), None).await;
        assert!(matches!(foreign, Err(Error::IssuerMismatch)), "{foreign:?}");

        *w.provider.subject.lock().unwrap() = "nobody".to_owned();
        let start = w.oidc.begin(None, None, None).await.unwrap();
        let unlinked = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(unlinked, Err(Error::IdentityNotLinked)), "{unlinked:?}");

        *w.provider.subject.lock().unwrap() = "subject-1".to_owned();
        w.accounts.disable_user(&Admin::operator(), user.id).await.unwrap();
        let start = w.oidc.begin(None, None, None).await.unwrap();
        let disabled = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(disabled, Err(Error::IdentityNotLinked)), "{disabled:?}");
    }

    fn token_of(url: &str) -> &str {
        url.rsplit_once("invitation=").unwrap().1
    }

    #[tokio::test]
    async fn an_invitation_links_a_free_identity_once_and_never_one_linked_to_someone_else() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", None, false).await;
        let issued = w.invitations.invite(&admin, ada.id).await.unwrap();
        let token = token_of(&issued.url);

        let bad = w.oidc.begin(None, None, Some("not-a-token")).await;
        assert!(matches!(bad, Err(crate::service::BeginOidcLoginError::InvalidInvitation)));
        assert_eq!(w.store.pending_count(), 0, "refused before anything is stored");

        // Someone else's identity: 409, and the invitation stays unspent.
        linked(&w, "subject-1").await;
        let start = w.oidc.begin(Some("/app"), None, Some(token)).await.unwrap();
        let taken = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(taken, Err(Error::IdentityAlreadyLinked)), "{taken:?}");

        *w.provider.subject.lock().unwrap() = "ada-at-provider".to_owned();
        let start = w.oidc.begin(Some("/app"), None, Some(token)).await.unwrap();
        let done = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        let Ok(OidcCallback::LoggedIn(done)) = done else { panic!("{done:?}") };
        assert_eq!(done.login.user.id, ada.id);
        let links = w.links.identities_of_user(&admin, ada.id).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].subject.as_str(), "ada-at-provider");

        let spent = w.oidc.begin(None, None, Some(token)).await;
        assert!(matches!(spent, Err(crate::service::BeginOidcLoginError::InvalidInvitation)));
        let second = w.invitations.invite(&admin, ada.id).await.unwrap();
        w.clock.advance(time::Duration::days(7));
        let expired = w.oidc.begin(None, None, Some(token_of(&second.url))).await;
        assert!(matches!(expired, Err(crate::service::BeginOidcLoginError::InvalidInvitation)));
    }

    #[tokio::test]
    async fn an_invitation_spent_or_revoked_while_at_the_provider_is_refused_at_the_callback() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", None, false).await;
        let issued = w.invitations.invite(&admin, ada.id).await.unwrap();
        let start = w.oidc.begin(None, None, Some(token_of(&issued.url))).await.unwrap();
        w.invitations.revoke(&admin, issued.invitation.id).await.unwrap();
        let revoked = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(revoked, Err(Error::InvalidInvitation)), "{revoked:?}");
        assert!(w.links.identities_of_user(&admin, ada.id).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_signed_in_user_links_a_free_identity_and_keeps_their_session() {
        let w = World::new();
        let admin = Admin::operator();
        let ada = w.user("ada@example.com", Some(crate::service::fakes::PASSWORD), false).await;
        let login = w
            .auth
            .login_with_password("ada@example.com", crate::service::fakes::PASSWORD, None)
            .await
            .unwrap();
        let principal = w.auth.authenticate_token(login.token.token.expose(), None).await.unwrap();

        *w.provider.subject.lock().unwrap() = "ada-second".to_owned();
        let start = w.oidc.begin_link(&principal, None, None).await.unwrap();
        let done = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        let Ok(OidcCallback::Linked { identity, return_to }) = done else { panic!("{done:?}") };
        assert_eq!((identity.user_id, return_to.as_str()), (ada.id, "/"));

        // Linking it again is a no-op; an identity of someone else is refused.
        let start = w.oidc.begin_link(&principal, Some("/me"), None).await.unwrap();
        let again = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(again, Ok(OidcCallback::Linked { .. })), "{again:?}");
        linked(&w, "bob-subject").await;
        *w.provider.subject.lock().unwrap() = "bob-subject".to_owned();
        let start = w.oidc.begin_link(&principal, None, None).await.unwrap();
        let foreign = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        assert!(matches!(foreign, Err(Error::IdentityAlreadyLinked)), "{foreign:?}");
        assert_eq!(w.links.identities_of_user(&admin, ada.id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_last_way_to_sign_in_cannot_be_unlinked() {
        let w = World::new();
        let user = linked(&w, "subject-1").await;
        let start = w.oidc.begin(Some("/app"), None, None).await.unwrap();
        let done = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        let Ok(OidcCallback::LoggedIn(done)) = done else { panic!("{done:?}") };
        let cookie = done.login.cookie.unwrap();
        let principal = w.auth.authenticate_cookie(cookie.expose(), None).await.unwrap();
        let last = w.links.unlink_own_identity(&principal, ISSUER, "subject-1").await;
        assert!(matches!(last, Err(crate::service::OwnIdentityError::LastLoginMethod)), "{last:?}");

        *w.provider.subject.lock().unwrap() = "second".to_owned();
        let start = w.oidc.begin_link(&principal, None, None).await.unwrap();
        w.oidc.complete(callback(&start), Some(start.state.expose()), None).await.unwrap();
        w.links.unlink_own_identity(&principal, ISSUER, "subject-1").await.unwrap();
        let gone = w.links.unlink_own_identity(&principal, ISSUER, "subject-1").await;
        assert!(matches!(gone, Err(crate::service::OwnIdentityError::UnknownIdentity)), "{gone:?}");
        let own = w.links.own_identities(&principal).await.unwrap();
        assert_eq!((own.len(), own[0].user_id), (1, user.id));
    }

    #[tokio::test]
    async fn provider_logout_ends_the_session_and_hints_with_the_sealed_id_token() {
        let w = World::new();
        linked(&w, "subject-1").await;
        let start = w.oidc.begin(Some("/app"), None, None).await.unwrap();
        let done = w.oidc.complete(callback(&start), Some(start.state.expose()), None).await;
        let Ok(OidcCallback::LoggedIn(done)) = done else { panic!("{done:?}") };
        let cookie = done.login.cookie.unwrap();
        let principal = w.auth.authenticate_cookie(cookie.expose(), None).await.unwrap();

        let out =
            w.oidc.provider_logout(Some(&principal), Some(cookie.expose()), None).await.unwrap();
        // The fake provider's ID token is the code it was given.
        assert_eq!(out.location, format!("{ISSUER}/logout?id_token_hint=code"));
        assert!(out.at_provider);
        assert!(w.auth.authenticate_cookie(cookie.expose(), None).await.is_err(), "ended");
        let anonymous = w.oidc.provider_logout(None, None, Some("/bye")).await.unwrap();
        assert_eq!(anonymous.location, format!("{ISSUER}/logout?id_token_hint=none"));
        let bad = w.oidc.provider_logout(None, None, Some("//evil")).await;
        assert!(bad.is_err());
    }
}
