//! Housekeeping: forget logins that were begun and never came back.

use crate::ports::StoreError;
use crate::service::{OidcLogin, PENDING_LOGIN_MAX_AGE};

impl OidcLogin {
    /// Deletes pending logins older than `PENDING_LOGIN_MAX_AGE` (none of them can finish any
    /// more); how many. Run periodically, off the request path.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn purge_pending_logins(&self) -> Result<u64, StoreError> {
        self.pending.purge_pending_logins(self.clock.now() - PENDING_LOGIN_MAX_AGE).await
    }
}
