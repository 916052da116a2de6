//! Start an OpenID Connect login: record a pending login and point the browser at the provider.

use std::net::IpAddr;

use time::Duration;

use crate::BoxError;
use crate::domain::{PendingLogin, ReturnTo, ReturnToError, SecretString, StateDigest};
use crate::ports::OidcProviderError;
use crate::service::OidcLogin;

/// How long a pending login may wait for the provider's callback.
pub const PENDING_LOGIN_MAX_AGE: Duration = Duration::minutes(10);

/// At most this many logins begun by one client (address, IPv6 per /64) may be pending at once:
/// anyone can begin a login, and each one is a stored row, so a flood from one client fills
/// only its own share and never stops others. Generous for many users behind one NAT.
pub const MAX_PENDING_LOGINS_PER_CLIENT: u64 = 1_000;

/// How long a client with too many pending logins is asked to wait.
const PENDING_LOGINS_RETRY_AFTER: Duration = Duration::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum BeginOidcLoginError {
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
    /// `client` has begun `MAX_PENDING_LOGINS_PER_CLIENT` logins in the last ten minutes.
    pub async fn begin(
        &self,
        return_to: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<OidcLoginStart, BeginOidcLoginError> {
        let return_to = return_to.map(ReturnTo::parse).transpose()?;
        let request = self.provider.authorization_request().await.map_err(|e| match e {
            OidcProviderError::Misconfigured(m) => BeginOidcLoginError::ProviderMisconfigured(m),
            OidcProviderError::Unavailable(m) | OidcProviderError::TokenEndpoint(m) => {
                BeginOidcLoginError::ProviderUnavailable(m)
            }
            OidcProviderError::Internal(e) => BeginOidcLoginError::Internal(e),
        })?;
        let now = self.clock.now();
        // Logins older than the maximum age no longer count; `purge_pending_logins` removes them.
        let client_key = PendingLogin::client_key_of(client);
        let pending = self
            .pending
            .count_pending_logins_of(
                &client_key,
                now - PENDING_LOGIN_MAX_AGE,
                MAX_PENDING_LOGINS_PER_CLIENT,
            )
            .await
            .map_err(|e| BeginOidcLoginError::Internal(e.0))?;
        if pending >= MAX_PENDING_LOGINS_PER_CLIENT {
            return Err(BeginOidcLoginError::TooManyPendingLogins {
                retry_after: PENDING_LOGINS_RETRY_AFTER,
            });
        }
        let login = PendingLogin {
            state: StateDigest::of(request.state.expose()),
            nonce: request.nonce,
            pkce_verifier: request.pkce_verifier,
            issuer: self.provider.issuer().clone(),
            return_to,
            created_at: now,
            client_key,
        };
        self.pending
            .save_pending_login(&login)
            .await
            .map_err(|e| BeginOidcLoginError::Internal(e.into()))?;
        Ok(OidcLoginStart { authorization_url: request.url, state: request.state })
    }
}

#[cfg(test)]
mod tests {
    use crate::service::BeginOidcLoginError;
    use crate::service::fakes::World;

    #[tokio::test]
    async fn a_begun_login_is_stored_and_a_bad_return_to_stores_nothing() {
        let w = World::new();

        let bad = w.oidc.begin(Some("//evil.example"), None).await;
        assert!(matches!(bad, Err(BeginOidcLoginError::InvalidReturnTo(_))), "{bad:?}");
        assert_eq!(w.store.pending_count(), 0);

        let start = w.oidc.begin(Some("/app"), None).await.unwrap();
        assert!(start.authorization_url.contains(start.state.expose()));
        assert_eq!(w.store.pending_count(), 1);
    }

    #[tokio::test]
    async fn purging_forgets_only_logins_past_the_maximum_age() {
        let w = World::new();
        w.oidc.begin(None, None).await.unwrap();
        w.clock.advance(super::PENDING_LOGIN_MAX_AGE);
        w.oidc.begin(None, None).await.unwrap();

        assert_eq!(w.oidc.purge_pending_logins().await.unwrap(), 0, "exactly the maximum age");
        w.clock.advance(time::Duration::seconds(1));
        assert_eq!(w.oidc.purge_pending_logins().await.unwrap(), 1);
        assert_eq!(w.store.pending_count(), 1);
    }
}
