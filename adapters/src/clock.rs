//! Clocks: the system clock, and (for tests) a clock that only moves when told.

use time::OffsetDateTime;

use codex_cloud_core::ports::Clock;

/// The operating system's clock; the only place the wall time is read.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
