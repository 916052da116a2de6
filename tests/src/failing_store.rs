//! A readiness probe that fails on purpose: the database "is down" for readiness checks while
//! every other store call works.

use async_trait::async_trait;

use codex_cloud_core::ports::{Readiness, StoreError};

/// The message of the error `ping` returns.
pub const PING_FAILURE: &str = "connection refused (a test store that cannot be reached)";

/// A `Readiness` whose `ping` always fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailingPing;

#[async_trait]
impl Readiness for FailingPing {
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::new(PING_FAILURE))
    }
}
