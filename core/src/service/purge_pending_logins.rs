//! Housekeeping: forget logins that were begun and never came back.

use crate::ports::StoreError;
use crate::service::housekeeping::MAX_BATCHES;
use crate::service::{HOUSEKEEPING_BATCH, OidcLogin, PENDING_LOGIN_MAX_AGE};

impl OidcLogin {
    /// Deletes pending logins older than `PENDING_LOGIN_MAX_AGE` (none of them can finish any
    /// more); how many. Run periodically, off the request path.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn purge_pending_logins(&self) -> Result<u64, StoreError> {
        let before = self.clock.now() - PENDING_LOGIN_MAX_AGE;
        let mut purged = 0;
        for _ in 0..MAX_BATCHES {
            let batch = self.pending.purge_pending_logins(before, HOUSEKEEPING_BATCH).await?;
            purged += batch;
            if batch < HOUSEKEEPING_BATCH {
                break;
            }
        }
        Ok(purged)
    }
}
