//! Counts of password checks that failed (or are under way), shared by every replica.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{ThrottleKey, ThrottleRecord};
use crate::ports::StoreError;

/// Stores throttling counts.
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The records of these keys, in the same order (`None` where a key has none).
    ///
    /// # Errors
    /// When the store fails.
    async fn throttle_records(
        &self,
        keys: &[ThrottleKey],
    ) -> Result<Vec<Option<ThrottleRecord>>, StoreError>;

    /// Compare-and-set, in one atomic step: replaces the record of `key` with `next` (`None`:
    /// deletes it) only if it is still exactly `expected` (`None`: absent). Whether it did: of
    /// concurrent swaps from the same `expected`, one succeeds.
    ///
    /// # Errors
    /// When the store fails.
    async fn swap_throttle(
        &self,
        key: &ThrottleKey,
        expected: Option<&ThrottleRecord>,
        next: Option<&ThrottleRecord>,
    ) -> Result<bool, StoreError>;

    /// Takes one counted attempt back (a success): one failure fewer, if any.
    ///
    /// # Errors
    /// When the store fails.
    async fn forgive_attempt(&self, key: &ThrottleKey) -> Result<(), StoreError>;

    /// Forgets a key's failures (after a success).
    ///
    /// # Errors
    /// When the store fails.
    async fn clear_failures(&self, key: &ThrottleKey) -> Result<(), StoreError>;

    /// Deletes at most `batch` records whose last failure is older than `before`; how many.
    ///
    /// # Errors
    /// When the store fails.
    async fn purge_throttles(&self, before: OffsetDateTime, batch: u64) -> Result<u64, StoreError>;
}
