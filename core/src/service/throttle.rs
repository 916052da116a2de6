//! Brute-force throttling of password checks. Each attempt is counted before any hashing, by a
//! compare-and-set on the stored count, so concurrent attempts (on any replica) queue behind one
//! another instead of all slipping past one read; an attempt that must wait is refused at once.
//! A success takes its attempt back: an account's count is forgotten, an address's is one less.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::domain::{ThrottleKey, ThrottlePolicy, ThrottleRecord};
use crate::ports::{StoreError, ThrottleStore};

/// How often a compare-and-set is retried against concurrent attempts before giving up (the
/// attempt then waits a second, like any other throttled one).
const SWAP_TRIES: usize = 8;

/// The keys a password check from `client` for `offered_email` counts against: the account
/// first.
pub(crate) fn keys(offered_email: &str, client: Option<IpAddr>) -> Vec<ThrottleKey> {
    let mut keys = vec![ThrottleKey::account(offered_email)];
    keys.extend(client.map(ThrottleKey::address));
    keys
}

/// One attempt, counted against its keys.
#[derive(Debug)]
pub(crate) struct Attempt {
    counted: Vec<(ThrottleKey, Option<ThrottleRecord>, ThrottleRecord)>,
}

/// Counts an attempt against every key, or says how long it must wait (whole seconds, rounded
/// up). Nothing stays counted for an attempt that must wait.
pub(crate) async fn begin(
    store: &dyn ThrottleStore,
    policy: &ThrottlePolicy,
    keys: &[ThrottleKey],
    now: OffsetDateTime,
) -> Result<Result<Attempt, Duration>, StoreError> {
    let mut attempt = Attempt { counted: Vec::new() };
    for key in keys {
        match count(store, policy, key, now).await? {
            Ok(counted) => attempt.counted.push(counted),
            Err(wait) => {
                undo(store, &attempt).await?;
                let seconds = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
                return Ok(Err(Duration::seconds(seconds.max(1))));
            }
        }
    }
    Ok(Ok(attempt))
}

async fn count(
    store: &dyn ThrottleStore,
    policy: &ThrottlePolicy,
    key: &ThrottleKey,
    now: OffsetDateTime,
) -> Result<Result<(ThrottleKey, Option<ThrottleRecord>, ThrottleRecord), Duration>, StoreError> {
    for _ in 0..SWAP_TRIES {
        let stored = store.throttle_records(std::slice::from_ref(key)).await?.pop().flatten();
        let current = policy.current(key, stored, now);
        if let Some(wait) = policy.wait(key, current.as_ref(), now) {
            return Ok(Err(wait));
        }
        let next = policy.counted(current, now);
        if store.swap_throttle(key, stored.as_ref(), Some(&next)).await? {
            return Ok(Ok((key.clone(), stored, next)));
        }
    }
    Ok(Err(Duration::seconds(1)))
}

/// Takes an attempt's counts back exactly, where nothing else has counted since.
async fn undo(store: &dyn ThrottleStore, attempt: &Attempt) -> Result<(), StoreError> {
    for (key, before, counted) in &attempt.counted {
        store.swap_throttle(key, Some(counted), before.as_ref()).await?;
    }
    Ok(())
}

/// The attempt was never judged (the password could not be checked): every key gets its record
/// back as it was, wait and window included; where another attempt has counted since, one
/// failure fewer.
pub(crate) async fn abandoned(
    store: &dyn ThrottleStore,
    attempt: Attempt,
) -> Result<(), StoreError> {
    for (key, before, counted) in attempt.counted {
        if !store.swap_throttle(&key, Some(&counted), before.as_ref()).await? {
            store.forgive_attempt(&key).await?;
        }
    }
    Ok(())
}

/// The attempt succeeded: the account's failures are forgotten, the address's attempt is taken
/// back.
pub(crate) async fn succeeded(
    store: &dyn ThrottleStore,
    attempt: Attempt,
) -> Result<(), StoreError> {
    for (key, _, _) in attempt.counted {
        match key {
            ThrottleKey::Account(_) => store.clear_failures(&key).await?,
            ThrottleKey::Address(_) => store.forgive_attempt(&key).await?,
        }
    }
    Ok(())
}
