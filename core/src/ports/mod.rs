//! Ports: the traits through which use cases reach everything outside the process. Each names
//! one concern; one adapter may implement several of them.

mod clock;
mod identity_links;
mod key_provider;
mod oidc_provider;
mod password_hasher;
mod pending_logins;
mod readiness;
mod sessions;
mod signing_keys;
mod token_issuer;
mod users;

pub use clock::Clock;
pub use identity_links::{IdentityLinkStore, LinkStoreError};
pub use key_provider::{KeyProvider, KeyProviderError};
pub use oidc_provider::{OidcProvider, OidcProviderError, ProviderStatus};
pub use password_hasher::{PasswordHasher, PasswordHasherError};
pub use pending_logins::{PendingLoginStore, PendingLoginStoreError};
pub use readiness::Readiness;
pub use sessions::{SessionStore, SessionStoreError};
pub use signing_keys::SigningKeyStore;
pub use token_issuer::{TokenIssuer, TokenIssuerError};
pub use users::{UserStore, UserStoreError};

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
