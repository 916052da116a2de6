//! Brute-force throttling of password checks: refuse attempts inside the delay before any
//! hashing, count failures, forget an account's failures after a success.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::domain::{ThrottleKey, ThrottlePolicy};
use crate::ports::{StoreError, ThrottleStore};

/// The keys a password check from `client` for `offered_email` counts against.
pub(crate) fn keys(offered_email: &str, client: Option<IpAddr>) -> Vec<ThrottleKey> {
    let mut keys = vec![ThrottleKey::account(offered_email)];
    keys.extend(client.map(ThrottleKey::Address));
    keys
}

/// How long to wait before an attempt is allowed, if it must wait: the longest wait of any key,
/// in whole seconds, rounded up.
pub(crate) async fn wait_before_attempt(
    store: &dyn ThrottleStore,
    policy: &ThrottlePolicy,
    keys: &[ThrottleKey],
    now: OffsetDateTime,
) -> Result<Option<Duration>, StoreError> {
    let records = store.throttle_records(keys).await?;
    let wait = keys
        .iter()
        .zip(records)
        .filter_map(|(key, record)| record.map(|r| policy.blocked_until(key, &r) - now))
        .filter(|wait| wait.is_positive())
        .max();
    Ok(wait.map(|w| Duration::seconds(w.whole_seconds() + i64::from(w.subsec_nanoseconds() > 0))))
}

/// Counts a failed check against every key.
pub(crate) async fn record_failure(
    store: &dyn ThrottleStore,
    policy: &ThrottlePolicy,
    keys: &[ThrottleKey],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    for key in keys {
        store.record_failure(key, now, policy.window_cutoff(key, now)).await?;
    }
    Ok(())
}
