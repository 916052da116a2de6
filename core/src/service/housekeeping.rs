//! Housekeeping: forget what can no longer matter, in bounded batches, safe to run on every
//! replica at once (deleting a row twice deletes it once).

use std::sync::Arc;

use time::Duration;

use crate::domain::{SessionPolicy, ThrottlePolicy};
use crate::ports::{AuditLog, Clock, RefreshTokenStore, SessionStore, StoreError, ThrottleStore};
use crate::service::AuthPorts;

/// Rows deleted per statement.
pub const HOUSEKEEPING_BATCH: u64 = 1000;

#[derive(Clone)]
pub struct Housekeeping {
    sessions: Arc<dyn SessionStore>,
    refresh_tokens: Arc<dyn RefreshTokenStore>,
    throttles: Arc<dyn ThrottleStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    audit_retention: Duration,
}

impl Housekeeping {
    /// `ports` supplies the stores and the clock; audit events older than `audit_retention`
    /// go.
    pub fn new(ports: &AuthPorts, policy: SessionPolicy, audit_retention: Duration) -> Self {
        Self {
            sessions: ports.sessions.clone(),
            refresh_tokens: ports.refresh_tokens.clone(),
            throttles: ports.throttles.clone(),
            audit: ports.audit.clone(),
            clock: ports.clock.clone(),
            policy,
            audit_retention,
        }
    }

    /// One round: sessions past their maximum age or revoked, refresh tokens spent longer ago
    /// than the idle timeout (reuse of older ones finds no session to end anyway), throttle
    /// counts older than the longest window, audit events past retention; how many rows went.
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
        purged += self.audit.purge_audit_events(now - self.audit_retention, batch).await?;
        Ok(purged)
    }
}
