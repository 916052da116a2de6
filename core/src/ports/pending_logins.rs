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
    #[error("the client has as many pending logins as its limit allows")]
    LimitReached,
    #[error("{0}")]
    Internal(#[source] BoxError),
}

/// How many logins one client may have pending: at most `at_most` of those created at or after
/// `since` (older ones can no longer finish, and purging removes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingLoginLimit {
    pub since: OffsetDateTime,
    pub at_most: u64,
}

impl PendingLoginLimit {
    /// Whether `stored` holds `at_most` logins of `client_key` created at or after `since`
    /// (counting no further): the rule a store applies before it saves another.
    pub fn is_reached_by<'a>(
        &self,
        client_key: &str,
        stored: impl IntoIterator<Item = &'a PendingLogin>,
    ) -> bool {
        let young = stored.into_iter().filter(|l| l.client_key == client_key);
        let young = young.filter(|l| l.created_at >= self.since);
        young.take(usize::try_from(self.at_most).unwrap_or(usize::MAX)).count() as u64
            >= self.at_most
    }
}

/// Stores pending logins under the digest of their state.
///
/// Implementations MUST make `take_pending_login` atomic: of two concurrent calls with the same
/// digest, at most one gets the login.
#[async_trait]
pub trait PendingLoginStore: Send + Sync {
    /// Stores `login` unless its client (`login.client_key`) has reached `limit`: the check and
    /// the insert are one statement, one round trip, whatever the table holds (the check reads
    /// no further than `limit.at_most` rows). Not a serialised check: saves racing each other
    /// may pass the limit by at most the number in flight.
    ///
    /// # Errors
    /// `DuplicateState` when a login with the same state digest is stored; `LimitReached` when
    /// the client has `limit.at_most` logins created at or after `limit.since`.
    async fn save_pending_login(
        &self,
        login: &PendingLogin,
        limit: PendingLoginLimit,
    ) -> Result<(), PendingLoginStoreError>;

    /// Removes and returns the pending login with this state digest (single use).
    ///
    /// # Errors
    /// When the store fails.
    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError>;

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
