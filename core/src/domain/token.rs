//! Codex access tokens (RFC 9068 JWTs) and the keys that sign them, as the domain sees them.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{SecretString, SessionId, UserId};

/// The claims of a Codex access token; `iss` and `aud` are fixed by the issuer's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessTokenClaims {
    pub subject: UserId,
    pub session: SessionId,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub token_id: Uuid,
}

/// A signed access token, ready to hand to the client.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: SecretString,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl IssuedToken {
    /// The token's lifetime: what a client is told as `expires_in`.
    pub fn expires_in(&self) -> Duration {
        self.expires_at - self.issued_at
    }
}

/// A token signing key as stored: its id, algorithm, private key (PKCS#1 PEM, or sealed), when
/// it was made and when it starts signing.
#[derive(Clone, Debug)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key_pem: SecretString,
    pub created_at: OffsetDateTime,
    pub activates_at: OffsetDateTime,
}

/// Where a token signing key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningKeyState {
    /// Published, not yet signing: other services see it before any token carries it.
    Next,
    /// Signs new tokens (exactly one key at a time), and is published.
    Active,
    /// Replaced by a newer key; still published and verifying until every token it can have
    /// signed has expired.
    Retired,
    /// Retired long enough that no token it signed is still valid: unpublished and deleted.
    Dropped,
}

impl SigningKeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Dropped => "dropped",
        }
    }
}

/// The schedule of one signing key at some moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyStatus {
    pub kid: String,
    pub state: SigningKeyState,
    pub created_at: OffsetDateTime,
    pub activates_at: OffsetDateTime,
    /// When a newer key took over (retired and dropped keys).
    pub retired_at: Option<OffsetDateTime>,
    /// When it stops verifying and is deleted (retired and dropped keys).
    pub dropped_at: Option<OffsetDateTime>,
}

/// How far replicas' clocks may disagree: a retired key verifies this much longer.
pub const SIGNING_CLOCK_SKEW: Duration = Duration::seconds(60);

/// How long a retired key keeps verifying: as long as a token it signed can be valid (the
/// token lifetime), plus the time a replica may go on signing with it before it reads its
/// successor (the reload interval), plus clock skew.
pub fn retired_key_retention(access_token_ttl: Duration, reload_interval: Duration) -> Duration {
    access_token_ttl + reload_interval + SIGNING_CLOCK_SKEW
}

/// The state of every key at `now`, in activation order (oldest first). `keys` come newest
/// first, as the store returns them.
///
/// The active key is the one activated last at `now`; every key activated before it is retired
/// from the moment its successor activated, and dropped `keep_retired` later (the longest a
/// token it signed can stay valid, plus the time a replica may go on signing with it before it
/// sees the successor). Keys not yet activated are next. If no key has activated yet, the
/// earliest one signs, so there is always an active key.
pub fn signing_key_schedule(
    keys: &[StoredSigningKey],
    now: OffsetDateTime,
    keep_retired: Duration,
) -> Vec<SigningKeyStatus> {
    // Oldest first; a stable sort keeps the newer of two keys activating together after the
    // older, so it is the one that signs.
    let mut order: Vec<&StoredSigningKey> = keys.iter().rev().collect();
    order.sort_by_key(|k| k.activates_at);
    let active = order.iter().rposition(|k| k.activates_at <= now).unwrap_or(0);
    order
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let retired_at = (i < active).then(|| order[i + 1].activates_at);
            let dropped_at = retired_at.map(|at| at + keep_retired);
            let state = match (i.cmp(&active), dropped_at) {
                (std::cmp::Ordering::Equal, _) => SigningKeyState::Active,
                (std::cmp::Ordering::Greater, _) => SigningKeyState::Next,
                (std::cmp::Ordering::Less, Some(at)) if at <= now => SigningKeyState::Dropped,
                (std::cmp::Ordering::Less, _) => SigningKeyState::Retired,
            };
            SigningKeyStatus {
                kid: key.kid.clone(),
                state,
                created_at: key.created_at,
                activates_at: key.activates_at,
                retired_at,
                dropped_at,
            }
        })
        .collect()
}

/// The public half of a token signing key, as published for other services to verify tokens
/// with (an RSA JWK, RFC 7517; base64url without padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub alg: String,
    pub n: String,
    pub e: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    fn key(kid: &str, created: i64, activates: i64) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            algorithm: "RS256".into(),
            private_key_pem: SecretString::new("pem"),
            created_at: at(created),
            activates_at: at(activates),
        }
    }

    fn states(keys: &[StoredSigningKey], now: i64) -> Vec<(String, SigningKeyState)> {
        signing_key_schedule(keys, at(now), Duration::seconds(100))
            .into_iter()
            .map(|s| (s.kid, s.state))
            .collect()
    }

    fn named(list: &[(&str, SigningKeyState)]) -> Vec<(String, SigningKeyState)> {
        list.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect()
    }

    #[test]
    fn a_rotation_goes_next_then_active_then_retired_then_dropped() {
        use SigningKeyState::*;
        let keys = [key("new", 10, 50), key("old", 0, 0)];
        assert_eq!(states(&keys, 10), named(&[("old", Active), ("new", Next)]));
        assert_eq!(states(&keys, 49), named(&[("old", Active), ("new", Next)]));
        assert_eq!(states(&keys, 50), named(&[("old", Retired), ("new", Active)]));
        assert_eq!(states(&keys, 149), named(&[("old", Retired), ("new", Active)]));
        assert_eq!(states(&keys, 150), named(&[("old", Dropped), ("new", Active)]));
        let schedule = signing_key_schedule(&keys, at(60), Duration::seconds(100));
        assert_eq!(schedule[0].retired_at, Some(at(50)));
        assert_eq!(schedule[0].dropped_at, Some(at(150)));
        assert_eq!((schedule[1].retired_at, schedule[1].dropped_at), (None, None));
    }

    #[test]
    fn each_key_retires_when_its_own_successor_activates() {
        use SigningKeyState::*;
        let keys = [key("c", 2, 20), key("b", 1, 10), key("a", 0, 0)];
        assert_eq!(states(&keys, 25), named(&[("a", Retired), ("b", Retired), ("c", Active)]));
        assert_eq!(states(&keys, 110), named(&[("a", Dropped), ("b", Retired), ("c", Active)]));
    }

    #[test]
    fn a_retired_key_outlives_every_token_it_can_have_signed() {
        let keep = retired_key_retention(Duration::seconds(900), Duration::seconds(60));
        assert_eq!(keep, Duration::seconds(900 + 60 + 60));
    }

    #[test]
    fn there_is_always_an_active_key() {
        use SigningKeyState::*;
        assert_eq!(states(&[key("a", 5, 5)], 0), named(&[("a", Active)]));
        let together = [key("newer", 0, 0), key("older", 0, 0)];
        assert_eq!(states(&together, 0), named(&[("older", Retired), ("newer", Active)]));
        assert!(states(&[], 0).is_empty());
    }
}
