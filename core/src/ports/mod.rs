//! Ports: the traits through which use cases reach everything outside the process. Each names
//! one concern; one adapter may implement several of them.

mod audit;
mod clock;
mod identity_links;
mod key_provider;
mod oidc_provider;
mod password_blocklist;
mod password_hasher;
mod pending_logins;
mod readiness;
mod sessions;
mod signing_keys;
mod throttles;
mod token_issuer;
mod users;

pub use audit::AuditLog;
pub use clock::Clock;
pub use identity_links::{IdentityLinkStore, LinkStoreError};
pub use key_provider::{KeyProvider, KeyProviderError};
pub use oidc_provider::{OidcProvider, OidcProviderError, ProviderStatus};
pub use password_blocklist::PasswordBlocklist;
pub use password_hasher::{PasswordHasher, PasswordHasherError};
pub use pending_logins::{PendingLoginStore, PendingLoginStoreError};
pub use readiness::Readiness;
pub use sessions::{
    NewSession, RefreshOutcome, RefreshTokenStore, RevokeScope, SessionStore, SessionStoreError,
};
pub use signing_keys::SigningKeyStore;
pub use throttles::ThrottleStore;
pub use token_issuer::{TokenIssuer, TokenIssuerError};
pub use users::{DisableOutcome, UserStore, UserStoreError};

use crate::BoxError;

/// A store failed for a reason no caller can act on (unreachable, corrupt row, failed query):
/// the error of store methods that have no other way to fail.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(pub BoxError);

impl StoreError {
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self(error.into())
    }
}
