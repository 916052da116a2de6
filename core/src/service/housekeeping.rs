//! Housekeeping: forget what can no longer matter, in bounded batches, safe to run on every
//! replica at once (deleting a row twice deletes it once).

use std::sync::Arc;

use time::Duration;

use crate::domain::{SessionPolicy, ThrottlePolicy};
use crate::ports::{Clock, RefreshTokenStore, SessionStore, StoreError, ThrottleStore};

/// Rows deleted per statement.
pub const HOUSEKEEPING_BATCH: u64 = 1000;

#[derive(Clone)]
pub struct Housekeeping {
    sessions: Arc<dyn SessionStore>,
    refresh_tokens: Arc<dyn RefreshTokenStore>,
    throttles: Arc<dyn ThrottleStore>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl Housekeeping {
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        refresh_tokens: Arc<dyn RefreshTokenStore>,
        throttles: Arc<dyn ThrottleStore>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self { sessions, refresh_tokens, throttles, clock, policy }
    }

    /// One round: sessions past their maximum age or revoked, refresh tokens spent longer ago
    /// than the idle timeout (reuse of older ones finds no session to end anyway), throttle
    /// counts older than the longest window; how many rows went.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn run(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let batch = HOUSEKEEPING_BATCH;
        let window = ThrottlePolicy::ACCOUNT_WINDOW.max(Duration::hours(1));
        let mut purged = self.sessions.purge_sessions(now, batch).await?;
        purged +=
            self.refresh_tokens.purge_refresh_tokens(now - self.policy.idle_timeout, batch).await?;
        purged += self.throttles.purge_throttles(now - window, batch).await?;
        Ok(purged)
    }
}
