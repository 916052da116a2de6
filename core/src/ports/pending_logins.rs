//! OpenID Connect logins that have begun and not yet come back.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::BoxError;
use crate::domain::{PendingLogin, StateDigest};
use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum PendingLoginStoreError {
    #[error("a pending login with this state exists already")]
    DuplicateState,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// Stores pending logins under the digest of their state.
///
/// Implementations MUST make `take_pending_login` atomic: of two concurrent calls with the same
/// digest, at most one gets the login.
#[async_trait]
pub trait PendingLoginStore: Send + Sync {
    /// # Errors
    /// `DuplicateState` when a login with the same state digest is stored.
    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), PendingLoginStoreError>;

    /// Removes and returns the pending login with this state digest (single use).
    ///
    /// # Errors
    /// When the store fails.
    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError>;

    /// How many stored logins of this client were created at or after `since`, counting no
    /// further than `at_most` (the work stays bounded whatever the table holds).
    ///
    /// # Errors
    /// When the store fails.
    async fn count_pending_logins_of(
        &self,
        client_key: &str,
        since: OffsetDateTime,
        at_most: u64,
    ) -> Result<u64, StoreError>;

    /// Deletes at most `batch` logins created before `before`; how many.
    ///
    /// # Errors
    /// When the store fails.
    async fn purge_pending_logins(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError>;
}
