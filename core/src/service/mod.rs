//! Use cases, one verb per file. `Auth` holds the ports that local accounts and sessions need;
//! `OidcLogin` adds the provider and its keys.

mod authenticate_token;
mod begin_oidc_login;
mod complete_oidc_login;
mod create_user;
mod link_identity;
mod login_with_password;
mod logout;
mod manage_users;

use std::sync::Arc;

use time::Duration;

use crate::ports::{Clock, IdentityStore, PasswordHasher, TokenIssuer};

pub use authenticate_token::{AuthenticateError, Principal};
pub use begin_oidc_login::{
    BeginOidcLoginError, MAX_PENDING_LOGINS, OidcLoginStart, PENDING_LOGIN_MAX_AGE,
};
pub use complete_oidc_login::{CompleteOidcLoginError, OidcLoginDone};
pub use create_user::{CreateUser, CreateUserError};
pub use link_identity::{IdentityLinkError, IdentityLinks, LinkIdentity};
pub use login_with_password::{LoginError, LoginSuccess};
pub use logout::LogoutError;
pub use manage_users::ManageUsersError;

pub use complete_oidc_login::OidcLogin;

/// Local accounts, sessions and Codex access tokens.
#[derive(Clone)]
pub struct Auth {
    store: Arc<dyn IdentityStore>,
    hasher: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    access_token_ttl: Duration,
}

impl Auth {
    pub fn new(
        store: Arc<dyn IdentityStore>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        access_token_ttl: Duration,
    ) -> Self {
        Self { store, hasher, tokens, clock, access_token_ttl }
    }

    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}
