//! The audit trail.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{AuditEvent, AuditFilter};
use crate::ports::StoreError;

/// Stores audit events. The stores that make changes write the events of those changes in the
/// same transaction (their methods take the event); this port records events that change
/// nothing else (a refused login), lists and purges.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// # Errors
    /// When the store fails.
    async fn record(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Events matching `filter`, newest first, `limit` of them after skipping `offset`.
    ///
    /// # Errors
    /// When the store fails.
    async fn audit_events(
        &self,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes at most `batch` events older than `before`; how many.
    ///
    /// # Errors
    /// When the store fails.
    async fn purge_audit_events(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError>;
}
