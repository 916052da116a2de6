//! The current time.

use time::OffsetDateTime;

/// Tells the time. Use cases never read the system clock themselves, so tests can move time.
pub trait Clock: Send + Sync {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}
