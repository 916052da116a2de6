//! Ports: the traits through which use cases reach everything outside the process. Each names
//! one concern; one adapter may implement several of them.

mod audit;
mod clock;
mod identity_links;
mod invitations;
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
pub use identity_links::{IdentityLinkStore, LinkStoreError, OwnUnlink};
pub use invitations::{InvitationStore, InvitationStoreError, RedeemError};
pub use key_provider::{KeyProvider, KeyProviderError};
pub use oidc_provider::{OidcProvider, OidcProviderError, ProviderStatus};
pub use password_blocklist::PasswordBlocklist;
pub use password_hasher::{PasswordHasher, PasswordHasherError};
pub use pending_logins::{PendingLoginLimit, PendingLoginStore, PendingLoginStoreError};
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

    /// The store cannot be reached at all (no connection, or the connection was lost), as
    /// opposed to a query that failed: the same call may work once it is back.
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        Self(Box::new(StoreUnavailable(error.into())))
    }
}

/// Why a store could not be reached; found through `is_store_unavailable`.
#[derive(Debug, thiserror::Error)]
#[error("the database cannot be reached: {0}")]
pub struct StoreUnavailable(BoxError);

/// Whether `error`, or any error it wraps, says a store could not be reached.
pub fn is_store_unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<StoreUnavailable>() {
            return true;
        }
        // `StoreError` is transparent: its own source skips the error it holds.
        if let Some(store) = error.downcast_ref::<StoreError>()
            && is_store_unavailable(&*store.0)
        {
            return true;
        }
        next = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("a use case failed")]
    struct Wrapping(#[source] BoxError);

    #[test]
    fn an_unreachable_store_is_found_through_any_wrapping_and_nothing_else_is_taken_for_one() {
        let unavailable = || StoreError::unavailable("connection refused");
        assert!(is_store_unavailable(&unavailable()));
        assert!(is_store_unavailable(&*unavailable().0));
        let boxed: BoxError = Box::new(unavailable());
        assert!(is_store_unavailable(&Wrapping(boxed)));
        // A port's error enum holding it, boxed whole by a use case.
        let session: BoxError = Box::new(SessionStoreError::Internal(unavailable().0));
        assert!(is_store_unavailable(&Wrapping(session)));
        let login =
            crate::service::LoginError::Internal(Box::new(UserStoreError::from(unavailable())));
        assert!(is_store_unavailable(&login));
        assert!(!is_store_unavailable(&StoreError::new("syntax error")));
        assert!(!is_store_unavailable(&Wrapping(Box::new(StoreError::new("no such table")))));
    }
}
