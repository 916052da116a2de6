//! Use cases, one verb per file, grouped into services by the ports they need. Services expose
//! use cases only, never their ports; the composition root builds them.

/// `From<PasswordHasherError>` for a use case's error with `Busy { retry_after }` and
/// `Internal(BoxError)` variants: a saturated hasher stays a distinct answer.
macro_rules! hasher_errors_into {
    ($error:ty) => {
        impl From<crate::ports::PasswordHasherError> for $error {
            fn from(error: crate::ports::PasswordHasherError) -> Self {
                match error {
                    crate::ports::PasswordHasherError::Busy { retry_after } => {
                        Self::Busy { retry_after }
                    }
                    crate::ports::PasswordHasherError::Internal(e) => Self::Internal(e),
                }
            }
        }
    };
}

mod admin;
mod audit_trail;
mod authenticate_token;
mod begin_oidc_login;
mod complete_oidc_login;
mod create_user;
mod housekeeping;
mod invitations;
mod link_identity;
mod login_with_password;
mod logout;
mod manage_sessions;
mod manage_users;
mod own_identities;
mod password_change;
mod passwords;
mod provider_logout;
mod purge_pending_logins;
mod readiness;
mod refresh;
mod throttle;

#[cfg(test)]
mod fakes;

use std::sync::Arc;
use std::task::Poll;

use time::Duration;

use crate::domain::{SessionPolicy, ThrottlePolicy};
use crate::ports::{
    AuditLog, Clock, IdentityLinkStore, InvitationStore, KeyProvider, OidcProvider, PasswordHasher,
    PendingLoginStore, RefreshTokenStore, SessionStore, ThrottleStore, TokenIssuer, UserStore,
};

/// Runs two futures at once on the calling task and waits for both (what `join!` does, without
/// a runtime or a crate): a port that hands its work to another thread lets the other go on.
pub(crate) async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut done_a, mut done_b) = (None, None);
    std::future::poll_fn(|cx| {
        if done_a.is_none()
            && let Poll::Ready(out) = a.as_mut().poll(cx)
        {
            done_a = Some(out);
        }
        if done_b.is_none()
            && let Poll::Ready(out) = b.as_mut().poll(cx)
        {
            done_b = Some(out);
        }
        match (done_a.take(), done_b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (done_a, done_b) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

/// A use case that can only fail because its store did (a listing, a read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailed(#[source] pub crate::BoxError);

impl From<crate::ports::StoreError> for StoreFailed {
    fn from(error: crate::ports::StoreError) -> Self {
        Self(error.0)
    }
}

pub use crate::ports::is_store_unavailable;
pub use admin::{Admin, NotAnAdmin};
pub use authenticate_token::{AuthenticateError, Principal};
pub use begin_oidc_login::{
    BeginOidcLoginError, MAX_PENDING_LOGINS_PER_CLIENT, OidcLoginStart, PENDING_LOGIN_MAX_AGE,
    StartOidcLoginError,
};
pub use complete_oidc_login::{CompleteOidcLoginError, OidcCallback, OidcLoginDone};
pub use create_user::{CreateUser, CreateUserError};
pub use housekeeping::{HOUSEKEEPING_BATCH, Housekeeping};
pub use invitations::{DEFAULT_INVITATION_TTL, InvitationError, IssuedInvitation};
pub use link_identity::{IdentityLinkError, LinkIdentity, UnlinkIdentityError};
pub use login_with_password::{Credential, LoginError, LoginSuccess};
pub use logout::LogoutError;
pub use manage_sessions::{SessionError, SessionView};
pub use manage_users::{DisableUserError, ManageUsersError, UserLookupError};
pub use own_identities::OwnIdentityError;
pub use password_change::PasswordChangeError;
pub use passwords::PasswordRules;
pub use provider_logout::{ProviderLogout, ProviderLogoutError};
pub use readiness::{NotReady, ReadinessCheck};
pub use refresh::RefreshError;

/// Password logins, sessions and Codex access tokens.
#[derive(Clone)]
pub struct Auth {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    refresh_tokens: Arc<dyn RefreshTokenStore>,
    throttles: Arc<dyn ThrottleStore>,
    audit: Arc<dyn AuditLog>,
    hasher: Arc<dyn PasswordHasher>,
    passwords: PasswordRules,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    settings: AuthSettings,
}

/// The ports (and password rules) the account services work through.
#[derive(Clone)]
pub struct AuthPorts {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    pub throttles: Arc<dyn ThrottleStore>,
    pub audit: Arc<dyn AuditLog>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub passwords: PasswordRules,
    pub tokens: Arc<dyn TokenIssuer>,
    pub clock: Arc<dyn Clock>,
}

/// How long tokens and sessions live, and how password checks are throttled.
#[derive(Clone, Copy, Debug)]
pub struct AuthSettings {
    pub access_token_ttl: Duration,
    pub sessions: SessionPolicy,
    pub throttle: ThrottlePolicy,
}

impl Auth {
    pub fn new(ports: AuthPorts, settings: AuthSettings) -> Self {
        let AuthPorts {
            users,
            sessions,
            refresh_tokens,
            throttles,
            audit,
            hasher,
            passwords,
            tokens,
            clock,
        } = ports;
        Self {
            users,
            sessions,
            refresh_tokens,
            throttles,
            audit,
            hasher,
            passwords,
            tokens,
            clock,
            settings,
        }
    }
}

/// Administration of local users.
#[derive(Clone)]
pub struct Accounts {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    audit: Arc<dyn AuditLog>,
    hasher: Arc<dyn PasswordHasher>,
    passwords: PasswordRules,
    clock: Arc<dyn Clock>,
}

impl Accounts {
    pub fn new(ports: &AuthPorts) -> Self {
        Self {
            users: ports.users.clone(),
            sessions: ports.sessions.clone(),
            audit: ports.audit.clone(),
            hasher: ports.hasher.clone(),
            passwords: ports.passwords.clone(),
            clock: ports.clock.clone(),
        }
    }
}

/// Linking external identities to local users, by hand: never automatically by e-mail.
#[derive(Clone)]
pub struct IdentityLinks {
    links: Arc<dyn IdentityLinkStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

impl IdentityLinks {
    pub fn new(
        links: Arc<dyn IdentityLinkStore>,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { links, users, clock }
    }
}

/// Invitations to link a provider account to a chosen user.
#[derive(Clone)]
pub struct Invitations {
    invitations: Arc<dyn InvitationStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    /// The public origin of this service (the redirect URI's), without a trailing slash.
    public_origin: String,
}

impl Invitations {
    pub fn new(
        invitations: Arc<dyn InvitationStore>,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        public_origin: &str,
    ) -> Self {
        let public_origin = public_origin.trim_end_matches('/').to_owned();
        Self { invitations, users, clock, ttl, public_origin }
    }
}

/// OpenID Connect login against the configured provider.
#[derive(Clone)]
pub struct OidcLogin {
    auth: Auth,
    audit: Arc<dyn AuditLog>,
    pending: Arc<dyn PendingLoginStore>,
    invitations: Arc<dyn InvitationStore>,
    links: Arc<dyn IdentityLinkStore>,
    provider: Arc<dyn OidcProvider>,
    keys: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
}

/// The ports an `OidcLogin` needs besides the sessions it starts through `Auth`.
pub struct OidcLoginPorts {
    pub audit: Arc<dyn AuditLog>,
    pub pending: Arc<dyn PendingLoginStore>,
    pub invitations: Arc<dyn InvitationStore>,
    pub links: Arc<dyn IdentityLinkStore>,
    pub provider: Arc<dyn OidcProvider>,
    pub keys: Arc<dyn KeyProvider>,
    pub clock: Arc<dyn Clock>,
}

impl OidcLogin {
    pub fn new(auth: Auth, ports: OidcLoginPorts) -> Self {
        let OidcLoginPorts { audit, pending, invitations, links, provider, keys, clock } = ports;
        Self { auth, audit, pending, invitations, links, provider, keys, clock }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    /// `a` finishes only after `b` has started: run one after the other, they would never end.
    #[tokio::test]
    async fn both_runs_the_two_at_once_and_keeps_their_order() {
        let (started, ready) = tokio::sync::oneshot::channel();
        let a = async { ready.await.map(|()| "a") };
        let b = async {
            started.send(()).unwrap();
            tokio::task::yield_now().await;
            "b"
        };
        let run = super::both(a, b);
        let out = tokio::time::timeout(std::time::Duration::from_secs(5), run).await.unwrap();
        assert_eq!(out, (Ok("a"), "b"));
        let (tx, rx) = mpsc::channel();
        let record = |name| {
            let tx = tx.clone();
            async move { tx.send(name).unwrap() }
        };
        super::both(record(1), record(2)).await;
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1, 2]);
        // A future that is done is not polled again (an `async` block would panic), whichever
        // of the two finishes first.
        let later = async {
            tokio::task::yield_now().await;
            2
        };
        assert_eq!(super::both(async { 1 }, later).await, (1, 2));
        let later = async {
            tokio::task::yield_now().await;
            1
        };
        assert_eq!(super::both(later, async { 2 }).await, (1, 2));
    }
}
