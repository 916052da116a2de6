//! Use cases, one verb per file, grouped into services by the ports they need. Services expose
//! use cases only, never their ports; the composition root builds them.

mod admin;
mod authenticate_token;
mod begin_oidc_login;
mod complete_oidc_login;
mod create_user;
mod link_identity;
mod login_with_password;
mod logout;
mod manage_users;
mod purge_pending_logins;
mod readiness;

#[cfg(test)]
mod fakes;

use std::sync::Arc;

use time::Duration;

use crate::ports::{
    Clock, IdentityLinkStore, KeyProvider, OidcProvider, PasswordHasher, PendingLoginStore,
    SessionStore, TokenIssuer, UserStore,
};

pub use admin::{Admin, NotAnAdmin};
pub use authenticate_token::{AuthenticateError, Principal};
pub use begin_oidc_login::{
    BeginOidcLoginError, MAX_PENDING_LOGINS, OidcLoginStart, PENDING_LOGIN_MAX_AGE,
};
pub use complete_oidc_login::{CompleteOidcLoginError, OidcLoginDone};
pub use create_user::{CreateUser, CreateUserError};
pub use link_identity::{IdentityLinkError, LinkIdentity};
pub use login_with_password::{LoginError, LoginSuccess};
pub use logout::LogoutError;
pub use manage_users::ManageUsersError;
pub use readiness::{NotReady, ReadinessCheck};

/// Password logins, sessions and Codex access tokens.
#[derive(Clone)]
pub struct Auth {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    access_token_ttl: Duration,
}

impl Auth {
    pub fn new(
        users: Arc<dyn UserStore>,
        sessions: Arc<dyn SessionStore>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        access_token_ttl: Duration,
    ) -> Self {
        Self { users, sessions, hasher, tokens, clock, access_token_ttl }
    }
}

/// Administration of local users.
#[derive(Clone)]
pub struct Accounts {
    users: Arc<dyn UserStore>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
}

impl Accounts {
    pub fn new(
        users: Arc<dyn UserStore>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { users, hasher, clock }
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

/// OpenID Connect login against the configured provider.
#[derive(Clone)]
pub struct OidcLogin {
    auth: Auth,
    pending: Arc<dyn PendingLoginStore>,
    links: Arc<dyn IdentityLinkStore>,
    provider: Arc<dyn OidcProvider>,
    keys: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
}

/// The ports an `OidcLogin` needs besides the sessions it starts through `Auth`.
pub struct OidcLoginPorts {
    pub pending: Arc<dyn PendingLoginStore>,
    pub links: Arc<dyn IdentityLinkStore>,
    pub provider: Arc<dyn OidcProvider>,
    pub keys: Arc<dyn KeyProvider>,
    pub clock: Arc<dyn Clock>,
}

impl OidcLogin {
    pub fn new(auth: Auth, ports: OidcLoginPorts) -> Self {
        let OidcLoginPorts { pending, links, provider, keys, clock } = ports;
        Self { auth, pending, links, provider, keys, clock }
    }
}
