//! Whether the process can do its work.

use async_trait::async_trait;

use crate::ports::StoreError;

/// Answers whether the store can be reached.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// # Errors
    /// When the store cannot be reached.
    async fn ping(&self) -> Result<(), StoreError>;
}
