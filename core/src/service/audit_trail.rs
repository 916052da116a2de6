//! The audit trail as administrators read it.

use crate::BoxError;
use crate::domain::{AuditEvent, AuditFilter};
use crate::service::{Accounts, Admin};

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct AuditTrailError(pub BoxError);

/// A use case that can only fail because its store did (a listing, a read).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreFailed(#[source] pub BoxError);

impl From<crate::ports::StoreError> for StoreFailed {
    fn from(error: crate::ports::StoreError) -> Self {
        Self(error.0)
    }
}

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
    ) -> Result<Vec<AuditEvent>, AuditTrailError> {
        self.audit.audit_events(filter, offset, limit).await.map_err(|e| AuditTrailError(e.0))
    }
}
