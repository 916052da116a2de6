//! Counts of failed password checks, shared by every replica.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{ThrottleKey, ThrottleRecord};
use crate::ports::StoreError;

/// Stores throttling counts.
///
/// Implementations MUST count concurrent failures of one key without losing any (one atomic
/// statement per failure).
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

    /// Counts a failure at `now`. A record whose window started before `window_cutoff` starts
    /// again at one failure, with its window starting now.
    ///
    /// # Errors
    /// When the store fails.
    async fn record_failure(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
        window_cutoff: OffsetDateTime,
    ) -> Result<ThrottleRecord, StoreError>;

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
