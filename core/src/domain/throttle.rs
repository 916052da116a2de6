//! Brute-force throttling of password checks, per account and per client address.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::domain::Email;

/// What failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// The normalised e-mail address offered, whether or not an account has it.
    Account(String),
    Address(IpAddr),
}

impl ThrottleKey {
    /// The account key of an offered address: parsed when it parses, else case-folded and
    /// trimmed as typed, so that unknown and malformed addresses are counted the same way.
    pub fn account(offered: &str) -> Self {
        match Email::parse(offered) {
            Ok(email) => Self::Account(email.as_str().to_owned()),
            Err(_) => Self::Account(offered.trim().to_lowercase().chars().take(254).collect()),
        }
    }

    /// The stored form.
    pub fn as_key(&self) -> String {
        match self {
            Self::Account(email) => format!("account:{email}"),
            Self::Address(address) => format!("address:{address}"),
        }
    }
}

/// The failures counted for one key in its current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleRecord {
    pub failures: u64,
    pub window_started_at: OffsetDateTime,
    pub last_failure_at: OffsetDateTime,
}

/// The throttling settings (`CODEX_LOGIN_THROTTLE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures per account that cost nothing.
    pub free_failures: u64,
    /// The first delay after the free failures; it doubles with each further failure.
    pub delay: Duration,
    pub max_delay: Duration,
    /// Failures per client address allowed in `ADDRESS_WINDOW`.
    pub address_failures: u64,
}

impl ThrottlePolicy {
    /// The window of the per-address count.
    pub const ADDRESS_WINDOW: Duration = Duration::minutes(15);
    /// An account's count starts again this long after its first failure.
    pub const ACCOUNT_WINDOW: Duration = Duration::hours(24);

    /// How long to wait after the last failure of an account with `failures` failures.
    pub fn account_delay(&self, failures: u64) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(40);
        let seconds = self.delay.whole_seconds().saturating_mul(1_i64 << doublings);
        Duration::seconds(seconds).min(self.max_delay)
    }

    /// Until when an attempt against this record must wait, if it must.
    pub fn blocked_until(&self, key: &ThrottleKey, record: &ThrottleRecord) -> OffsetDateTime {
        match key {
            ThrottleKey::Account(_) => record.last_failure_at + self.account_delay(record.failures),
            ThrottleKey::Address(_) if record.failures >= self.address_failures => {
                record.window_started_at + Self::ADDRESS_WINDOW
            }
            ThrottleKey::Address(_) => record.window_started_at,
        }
    }

    /// The start of the window a failure at `now` counts in: records older start again.
    pub fn window_cutoff(&self, key: &ThrottleKey, now: OffsetDateTime) -> OffsetDateTime {
        match key {
            ThrottleKey::Account(_) => now - Self::ACCOUNT_WINDOW,
            ThrottleKey::Address(_) => now - Self::ADDRESS_WINDOW,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            free_failures: 5,
            delay: Duration::seconds(30),
            max_delay: Duration::seconds(3600),
            address_failures: 100,
        }
    }

    #[test]
    fn the_delay_starts_after_the_free_failures_and_doubles_up_to_the_maximum() {
        let p = policy();
        let delays: Vec<i64> = (0..14).map(|f| p.account_delay(f).whole_seconds()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(p.account_delay(u64::MAX).whole_seconds(), 3600);
    }

    #[test]
    fn unknown_and_malformed_accounts_are_keyed_as_typed() {
        assert_eq!(ThrottleKey::account(" Ada@Example.com ").as_key(), "account:ada@example.com");
        assert_eq!(ThrottleKey::account("Not An Address").as_key(), "account:not an address");
    }
}
