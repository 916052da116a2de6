//! Housekeeping: forget what can no longer matter, in bounded batches, safe to run on every
//! replica at once (deleting a row twice deletes it once).

use std::sync::Arc;

use time::Duration;

use crate::domain::{SessionPolicy, ThrottlePolicy};
use crate::ports::{AuditLog, Clock, SessionStore, StoreError, ThrottleStore};
use crate::service::AuthPorts;

/// Rows deleted per statement.
pub const HOUSEKEEPING_BATCH: u64 = 1000;
/// Statements per table per round (a round runs once a minute).
pub const MAX_BATCHES: usize = 100;

#[derive(Clone)]
pub struct Housekeeping {
    sessions: Arc<dyn SessionStore>,
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
            throttles: ports.throttles.clone(),
            audit: ports.audit.clone(),
            clock: ports.clock.clone(),
            policy,
            audit_retention,
        }
    }

    /// One round: sessions that have ended (revoked, idle, or past their maximum age) with
    /// their refresh tokens (so a spent token stays known, for reuse detection, as long as its
    /// session lives), throttle counts older than the longest window, audit events past
    /// retention; each in batches until a batch comes back short (at most `MAX_BATCHES` a
    /// round); how many rows went.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn run(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let idle_cutoff = now - self.policy.idle_timeout;
        let window = ThrottlePolicy::ACCOUNT_WINDOW.max(Duration::hours(1));
        let mut purged = 0;
        for table in 0..3 {
            for _ in 0..MAX_BATCHES {
                let batch = match table {
                    0 => self.sessions.purge_sessions(now, idle_cutoff, HOUSEKEEPING_BATCH).await?,
                    1 => self.throttles.purge_throttles(now - window, HOUSEKEEPING_BATCH).await?,
                    _ => {
                        let before = now - self.audit_retention;
                        self.audit.purge_audit_events(before, HOUSEKEEPING_BATCH).await?
                    }
                };
                purged += batch;
                if batch < HOUSEKEEPING_BATCH {
                    break;
                }
            }
        }
        Ok(purged)
    }
}
