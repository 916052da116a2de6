//! The audit trail as administrators read it.

use crate::domain::{AuditEvent, AuditFilter};
use crate::service::{Accounts, Admin, StoreFailed};

impl Accounts {
    /// Events matching `filter`, newest first.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn audit_events(
        &self,
        _admin: &Admin,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<AuditEvent>, StoreFailed> {
        Ok(self.audit.audit_events(filter, offset, limit).await?)
    }
}
