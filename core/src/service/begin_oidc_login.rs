//! Start an OpenID Connect login: record a pending login and point the browser at the provider.

use std::net::IpAddr;

use time::Duration;

use crate::BoxError;
use crate::domain::{
    InvitationStatus, LoginPurpose, PendingLogin, ReturnTo, ReturnToError, SecretString,
    StateDigest, TokenDigest,
};
use crate::ports::{OidcProviderError, PendingLoginLimit, PendingLoginStoreError};
use crate::service::{OidcLogin, Principal};

/// How long a pending login may wait for the provider's callback.
pub const PENDING_LOGIN_MAX_AGE: Duration = Duration::minutes(10);

/// At most this many logins begun by one client (address, IPv6 per /64) may be pending at once:
/// anyone can begin a login, and each one is a stored row, so a flood from one client fills
/// only its own share and never stops others. Generous for many users behind one NAT.
pub const MAX_PENDING_LOGINS_PER_CLIENT: u64 = 1_000;

/// How long a client with too many pending logins is asked to wait.
const PENDING_LOGINS_RETRY_AFTER: Duration = Duration::seconds(60);

/// Every way starting a provider login can fail (a login, or a link of the caller's account).
#[derive(Debug, thiserror::Error)]
pub enum StartOidcLoginError {
    #[error(transparent)]
    InvalidReturnTo(#[from] ReturnToError),
    #[error("{0}")]
    ProviderUnavailable(String),
    #[error("{0}")]
    ProviderMisconfigured(String),
    #[error("this client has too many logins in progress")]
    TooManyPendingLogins { retry_after: Duration },
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Beginning a login, which may carry an invitation.
#[derive(Debug, thiserror::Error)]
pub enum BeginOidcLoginError {
    #[error(transparent)]
    Start(#[from] StartOidcLoginError),
    /// Unknown, spent, expired or revoked.
    #[error("the invitation is unknown, spent or expired")]
    InvalidInvitation,
}

impl From<ReturnToError> for BeginOidcLoginError {
    fn from(error: ReturnToError) -> Self {
        Self::Start(error.into())
    }
}

/// Where to send the browser, and the state to bind to it (in a cookie).
pub struct OidcLoginStart {
    pub authorization_url: String,
    pub state: SecretString,
}

impl std::fmt::Debug for OidcLoginStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the state.
        f.debug_struct("OidcLoginStart").finish_non_exhaustive()
    }
}

impl OidcLogin {
    /// # Errors
    /// `InvalidReturnTo`; `ProviderUnavailable`/`ProviderMisconfigured` when discovery has not
    /// produced a trusted provider (nobody is redirected then); `TooManyPendingLogins` when
    /// `client` has begun `MAX_PENDING_LOGINS_PER_CLIENT` logins in the last ten minutes;
    /// `InvalidInvitation` when `invitation` is given and cannot be redeemed (checked before
    /// anything else happens).
    pub async fn begin(
        &self,
        return_to: Option<&str>,
        client: Option<IpAddr>,
        invitation: Option<&str>,
    ) -> Result<OidcLoginStart, BeginOidcLoginError> {
        let mut return_to = return_to.map(ReturnTo::parse).transpose()?;
        let purpose = match invitation {
            None => LoginPurpose::Login,
            Some(token) => {
                // An invitation is opened in a browser: it ends in a browser session.
                return_to.get_or_insert_with(ReturnTo::root);
                LoginPurpose::Invitation(self.pending_invitation(token).await?)
            }
        };
        Ok(self.start(purpose, return_to, client).await?)
    }

    /// Begins a provider login that links the identity it proves to the signed-in caller.
    ///
    /// # Errors
    /// As `begin`, but for invitations.
    pub async fn begin_link(
        &self,
        principal: &Principal,
        return_to: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<OidcLoginStart, StartOidcLoginError> {
        let return_to = return_to.map(ReturnTo::parse).transpose()?;
        self.start(LoginPurpose::Link(principal.session), return_to, client).await
    }

    /// The id of the invitation with this token, if it can be redeemed now (unspent, unexpired,
    /// for a user who is enabled).
    async fn pending_invitation(&self, token: &str) -> Result<uuid::Uuid, BeginOidcLoginError> {
        let internal = |e: crate::ports::StoreError| {
            BeginOidcLoginError::Start(StartOidcLoginError::Internal(e.0))
        };
        let invitation = self
            .invitations
            .invitation_by_token(&TokenDigest::of(token))
            .await
            .map_err(internal)?
            .filter(|i| i.status(self.clock.now()) == InvitationStatus::Pending)
            .ok_or(BeginOidcLoginError::InvalidInvitation)?;
        let user = self.auth.users.user_by_id(invitation.user_id).await.map_err(internal)?;
        match user {
            Some(user) if !user.disabled => Ok(invitation.id),
            _ => Err(BeginOidcLoginError::InvalidInvitation),
        }
    }

    async fn start(
        &self,
        purpose: LoginPurpose,
        return_to: Option<ReturnTo>,
        client: Option<IpAddr>,
    ) -> Result<OidcLoginStart, StartOidcLoginError> {
        let force_login = matches!(purpose, LoginPurpose::Link(_));
        let request =
            self.provider.authorization_request(force_login).await.map_err(|e| match e {
                OidcProviderError::Misconfigured(m) => {
                    StartOidcLoginError::ProviderMisconfigured(m)
                }
                OidcProviderError::Unavailable(m) | OidcProviderError::TokenEndpoint(m) => {
                    StartOidcLoginError::ProviderUnavailable(m)
                }
                OidcProviderError::Internal(e) => StartOidcLoginError::Internal(e),
            })?;
        let now = self.clock.now();
        let login = PendingLogin {
            state: StateDigest::of(request.state.expose()),
            nonce: request.nonce,
            pkce_verifier: request.pkce_verifier,
            issuer: self.provider.issuer().clone(),
            return_to,
            created_at: now,
            client_key: PendingLogin::client_key_of(client),
            purpose,
        };
        // Logins older than the maximum age no longer count; `purge_pending_logins` removes them.
        let limit = PendingLoginLimit {
            since: now - PENDING_LOGIN_MAX_AGE,
            at_most: MAX_PENDING_LOGINS_PER_CLIENT,
        };
        self.pending.save_pending_login(&login, limit).await.map_err(|e| match e {
            PendingLoginStoreError::LimitReached => StartOidcLoginError::TooManyPendingLogins {
                retry_after: PENDING_LOGINS_RETRY_AFTER,
            },
            e => StartOidcLoginError::Internal(e.into()),
        })?;
        Ok(OidcLoginStart { authorization_url: request.url, state: request.state })
    }
}

#[cfg(test)]
mod tests {
    use crate::service::fakes::World;
    use crate::service::{BeginOidcLoginError, StartOidcLoginError};

    #[tokio::test]
    async fn a_begun_login_is_stored_and_a_bad_return_to_stores_nothing() {
        let w = World::new();

        let bad = w.oidc.begin(Some("//evil.example"), None, None).await;
        let refused =
            matches!(bad, Err(BeginOidcLoginError::Start(StartOidcLoginError::InvalidReturnTo(_))));
        assert!(refused, "{bad:?}");
        assert_eq!(w.store.pending_count(), 0);

        let start = w.oidc.begin(Some("/app"), None, None).await.unwrap();
        assert!(start.authorization_url.contains(start.state.expose()));
        assert_eq!(w.store.pending_count(), 1);
    }

    #[tokio::test]
    async fn purging_forgets_only_logins_past_the_maximum_age() {
        let w = World::new();
        w.oidc.begin(None, None, None).await.unwrap();
        w.clock.advance(super::PENDING_LOGIN_MAX_AGE);
        w.oidc.begin(None, None, None).await.unwrap();

        assert_eq!(w.oidc.purge_pending_logins().await.unwrap(), 0, "exactly the maximum age");
        w.clock.advance(time::Duration::seconds(1));
        assert_eq!(w.oidc.purge_pending_logins().await.unwrap(), 1);
        assert_eq!(w.store.pending_count(), 1);
    }
}
