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
    /// trimmed as typed, so that unknown and malformed addresses are counted the same way (a NUL,
    /// which no text column stores, counted as U+FFFD).
    pub fn account(offered: &str) -> Self {
        match Email::parse(offered) {
            Ok(email) => Self::Account(email.as_str().to_owned()),
            Err(_) => {
                let typed = offered.trim().to_lowercase();
                let storable = typed.chars().map(|c| if c == '\0' { '\u{fffd}' } else { c });
                Self::Account(storable.take(254).collect())
            }
        }
    }

    /// The address key of a client: an IPv6 client by its /64 network (one subscriber's
    /// prefix), an IPv4-mapped one as IPv4.
    pub fn address(client: IpAddr) -> Self {
        match client {
            IpAddr::V4(v4) => Self::Address(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Address(IpAddr::V4(v4)),
                None => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    Self::Address(IpAddr::V6(octets.into()))
                }
            },
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

    /// How long to wait after the last counted attempt of an account with `failures` of them.
    pub fn account_delay(&self, failures: u64) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(40);
        let seconds = self.delay.whole_seconds().saturating_mul(1_i64 << doublings);
        Duration::seconds(seconds).min(self.max_delay)
    }

    /// The record as it counts at `now`: an account that has had no failure for a day, or an
    /// address whose window has passed, starts over.
    pub fn current(
        &self,
        key: &ThrottleKey,
        record: Option<ThrottleRecord>,
        now: OffsetDateTime,
    ) -> Option<ThrottleRecord> {
        record.filter(|r| match key {
            ThrottleKey::Account(_) => r.last_failure_at >= now - Self::ACCOUNT_WINDOW,
            ThrottleKey::Address(_) => r.window_started_at >= now - Self::ADDRESS_WINDOW,
        })
    }

    /// How long an attempt at `now` must wait, if it must (given the current record).
    pub fn wait(
        &self,
        key: &ThrottleKey,
        current: Option<&ThrottleRecord>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let record = current?;
        let until = match key {
            ThrottleKey::Account(_) => record.last_failure_at + self.account_delay(record.failures),
            ThrottleKey::Address(_) if record.failures >= self.address_failures => {
                record.window_started_at + Self::ADDRESS_WINDOW
            }
            ThrottleKey::Address(_) => return None,
        };
        Some(until - now).filter(|wait| wait.is_positive())
    }

    /// The record once an attempt at `now` is counted (before its outcome is known: a success
    /// takes it back).
    pub fn counted(&self, current: Option<ThrottleRecord>, now: OffsetDateTime) -> ThrottleRecord {
        match current {
            Some(r) => ThrottleRecord { failures: r.failures + 1, last_failure_at: now, ..r },
            None => ThrottleRecord { failures: 1, window_started_at: now, last_failure_at: now },
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
    fn ipv6_clients_are_keyed_by_their_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(ThrottleKey::address(a), ThrottleKey::address(b));
        assert_eq!(ThrottleKey::address(a).as_key(), "address:2001:db8:1:2::");
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(ThrottleKey::address(mapped).as_key(), "address:203.0.113.7");
    }

    #[test]
    fn unknown_and_malformed_accounts_are_keyed_as_typed() {
        assert_eq!(ThrottleKey::account(" Ada@Example.com ").as_key(), "account:ada@example.com");
        assert_eq!(ThrottleKey::account("Not An Address").as_key(), "account:not an address");
    }
}
