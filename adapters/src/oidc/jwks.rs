//! `KeyProvider` over the provider's JWKS endpoint, behind a cache with a hard TTL, an
//! opportunistic refresh, single-flight fetches, and a cooldown for unknown-kid refetches.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use codex_cloud_core::domain::{ProviderKey, ProviderKeys, RsaAlgorithm};
use codex_cloud_core::ports::{Clock, KeyProvider, KeyProviderError};

use crate::oidc::JwksCacheSettings;
use crate::oidc::discovery::Discovery;
use crate::oidc::http::OutboundHttp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FetchReason {
    Cold,
    Expired,
    Refresh,
    UnknownKid,
}

impl FetchReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cold => "cold cache",
            Self::Expired => "keys past their TTL",
            Self::Refresh => "scheduled refresh",
            Self::UnknownKid => "unknown key id",
        }
    }
}

#[derive(Clone)]
struct Cached {
    keys: ProviderKeys,
    fetched_at: OffsetDateTime,
}

#[derive(Default)]
struct FetchLog {
    /// When the last unknown-kid refetch was attempted, unless an ordinary fetch has succeeded
    /// since (the first unknown kid after an ordinary fetch is always refetched at once).
    last_unknown_kid_at: Option<OffsetDateTime>,
    /// When the last opportunistic refresh failed (refreshes pause for a while after that).
    last_refresh_failure_at: Option<OffsetDateTime>,
    /// Fetches finished, successful or not: a caller that waited for the lock and sees this
    /// change shares the outcome of the fetch it waited for instead of fetching again.
    completed: u64,
}

/// After a failed opportunistic refresh, the cached keys are served without retrying for this
/// long (the provider is not hammered while it is down; the TTL still bounds the keys' age).
const REFRESH_RETRY_PAUSE: time::Duration = time::Duration::seconds(30);

/// How many JWKS requests were made, and how many failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JwksFetchStats {
    pub fetches: u64,
    pub failures: u64,
}

pub struct HttpJwksKeyProvider {
    discovery: Arc<Discovery>,
    http: OutboundHttp,
    clock: Arc<dyn Clock>,
    settings: JwksCacheSettings,
    cache: RwLock<Option<Cached>>,
    fetching: Mutex<FetchLog>,
    completed: AtomicU64,
    fetches: AtomicU64,
    failures: AtomicU64,
}

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The bit length of a big-endian unsigned integer (leading zero octets allowed).
fn modulus_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|b| *b != 0) {
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
        None => 0,
    }
}

/// The usable RSA signing keys of a JWKS document; everything else is skipped, duplicates
/// dropped.
pub(super) fn usable_keys(body: &[u8]) -> Result<ProviderKeys, String> {
    let document: JwkSetDocument =
        serde_json::from_slice(body).map_err(|_| "the JWKS is not a JSON key set".to_owned())?;
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for value in document.keys {
        let Ok(jwk) = serde_json::from_value::<RawJwk>(value) else { continue };
        if jwk.kty.as_deref() != Some("RSA") || jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some("RS256") => Some(RsaAlgorithm::Rs256),
            Some("RS384") => Some(RsaAlgorithm::Rs384),
            Some("RS512") => Some(RsaAlgorithm::Rs512),
            Some(_) => continue,
        };
        let decode = |v: Option<&String>| {
            v.and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
        };
        let (Some(modulus), Some(exponent)) = (decode(jwk.n.as_ref()), decode(jwk.e.as_ref()))
        else {
            continue;
        };
        if modulus_bits(&modulus) < 2048 || modulus_bits(&modulus) > 8192 || exponent.is_empty() {
            continue; // under 2048 bits (RFC 7518 §3.3), over 8192, or empty: not a key to trust
        }
        let key = ProviderKey { kid: jwk.kid, alg, modulus, exponent };
        if seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no usable RSA signing key".to_owned());
    }
    Ok(ProviderKeys { keys })
}

impl HttpJwksKeyProvider {
    pub fn new(
        discovery: Arc<Discovery>,
        http: OutboundHttp,
        clock: Arc<dyn Clock>,
        settings: JwksCacheSettings,
    ) -> Self {
        Self {
            discovery,
            http,
            clock,
            settings,
            cache: RwLock::new(None),
            fetching: Mutex::new(FetchLog::default()),
            completed: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> JwksFetchStats {
        JwksFetchStats {
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    fn cached(&self) -> Option<Cached> {
        crate::sync::read(&self.cache).clone()
    }

    fn age(&self, cached: &Cached, now: OffsetDateTime) -> std::time::Duration {
        std::time::Duration::try_from(now - cached.fetched_at).unwrap_or_default()
    }

    /// The cached keys if younger than the TTL.
    fn usable(&self, now: OffsetDateTime) -> Option<Cached> {
        self.cached().filter(|c| self.age(c, now) < self.settings.ttl)
    }

    /// Fetches the JWKS once and caches the result if it holds usable keys. The caller holds
    /// the fetch lock.
    async fn fetch(&self, reason: FetchReason, log: &mut FetchLog) -> Result<ProviderKeys, String> {
        let now = self.clock.now();
        if reason == FetchReason::UnknownKid {
            log.last_unknown_kid_at = Some(now);
        }
        let result = self.fetch_once(reason).await;
        log.completed += 1;
        self.completed.store(log.completed, Ordering::Release);
        match &result {
            Ok(keys) => {
                *crate::sync::write(&self.cache) =
                    Some(Cached { keys: keys.clone(), fetched_at: now });
                log.last_refresh_failure_at = None;
                if reason != FetchReason::UnknownKid {
                    log.last_unknown_kid_at = None;
                }
            }
            Err(_) if reason == FetchReason::Refresh => log.last_refresh_failure_at = Some(now),
            Err(_) => {}
        }
        result
    }

    /// The keys from the discovered JWKS endpoint. A scheduled refresh looks at the discovery
    /// document again first; after a failed request it is looked at again, and the keys are
    /// requested once more if the JWKS address has changed.
    async fn fetch_once(&self, reason: FetchReason) -> Result<ProviderKeys, String> {
        if reason == FetchReason::Refresh {
            self.discovery.rediscover().await;
        } else {
            self.discovery.ensure().await;
        }
        let endpoints = self.discovery.endpoints().ok_or("the provider is not discovered")?;
        let result = self.request_keys(reason, &endpoints.jwks).await;
        if result.is_err() && reason != FetchReason::Refresh {
            self.discovery.rediscover().await;
            if let Some(moved) = self.discovery.endpoints().filter(|e| e.jwks != endpoints.jwks) {
                return self.request_keys(reason, &moved.jwks).await;
            }
        }
        result
    }

    /// One request to the JWKS endpoint, logged and counted.
    async fn request_keys(
        &self,
        reason: FetchReason,
        jwks: &url::Url,
    ) -> Result<ProviderKeys, String> {
        let count = self.fetches.fetch_add(1, Ordering::Relaxed) + 1;
        let result = async {
            let request = self.http.client().get(jwks.clone()).header("accept", "application/json");
            let response = self.http.send(request).await.map_err(|e| e.to_string())?;
            if !response.status.is_success() {
                return Err(format!("the JWKS endpoint answered {}", response.status));
            }
            usable_keys(&response.body)
        }
        .await;
        let outcome = if result.is_ok() { "success" } else { "failure" };
        metrics::counter!("codex_oidc_jwks_fetches_total", "outcome" => outcome).increment(1);
        match &result {
            Ok(keys) => {
                tracing::info!(
                    reason = reason.as_str(),
                    keys = keys.keys.len(),
                    fetches = count,
                    "fetched provider keys"
                );
            }
            Err(why) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(reason = reason.as_str(), error = %why, fetches = count, "fetching provider keys failed");
            }
        }
        result
    }
}

#[async_trait]
impl KeyProvider for HttpJwksKeyProvider {
    async fn keys(&self) -> Result<ProviderKeys, KeyProviderError> {
        let now = self.clock.now();
        if let Some(cached) = self.usable(now) {
            if self.age(&cached, now) >= self.settings.refresh {
                // Refresh on this use while others keep using the cached keys; a failure keeps
                // them until the TTL.
                if let Ok(mut log) = self.fetching.try_lock()
                    && log.last_refresh_failure_at.is_none_or(|at| now - at >= REFRESH_RETRY_PAUSE)
                    && let Ok(keys) = self.fetch(FetchReason::Refresh, &mut log).await
                {
                    return Ok(keys);
                }
            }
            return Ok(cached.keys);
        }
        let reason = if self.cached().is_some() { FetchReason::Expired } else { FetchReason::Cold };
        let seen = self.completed.load(Ordering::Acquire);
        let mut log = self.fetching.lock().await;
        // Single flight: a fetch that finished while we waited answers for us too, whether it
        // brought keys or failed.
        if let Some(cached) = self.usable(self.clock.now()) {
            return Ok(cached.keys);
        }
        if log.completed != seen {
            return Err(KeyProviderError::Unavailable);
        }
        self.fetch(reason, &mut log).await.map_err(|_| KeyProviderError::Unavailable)
    }

    async fn keys_after_unknown_kid(&self) -> Result<ProviderKeys, KeyProviderError> {
        let seen = self.completed.load(Ordering::Acquire);
        let mut log = self.fetching.lock().await;
        let now = self.clock.now();
        // A fetch that finished while we waited (another unknown kid of the same burst) counts.
        let cooling = log.completed != seen
            || log.last_unknown_kid_at.is_some_and(|at| {
                std::time::Duration::try_from(now - at).unwrap_or_default()
                    < self.settings.unknown_kid_cooldown
            });
        if !cooling && let Ok(keys) = self.fetch(FetchReason::UnknownKid, &mut log).await {
            return Ok(keys);
        }
        self.usable(now).map(|c| c.keys).ok_or(KeyProviderError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn unusable_keys_are_skipped_and_duplicates_dropped() {
        let n = b64(&[0xab; 256]);
        let e = b64(&[1, 0, 1]);
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": n, "e": e, "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "kid": "a", "n": n, "e": e, "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "kid": "enc", "n": n, "e": e, "use": "enc"},
            {"kty": "RSA", "kid": "ps", "n": n, "e": e, "alg": "PS256"},
            {"kty": "RSA", "kid": "short", "n": b64(&[1; 64]), "e": e},
            {"kty": "RSA", "kid": "2047 bits", "n": b64(&[&[0x7f][..], &[0xab; 255]].concat()), "e": e},
            {"kty": "RSA", "kid": "padded 2040 bits", "n": b64(&[&[0][..], &[0xab; 255]].concat()), "e": e},
            {"kty": "RSA", "kid": "8200 bits", "n": b64(&[0xab; 1025]), "e": e},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AA"},
            {"kty": "RSA", "kid": "bad", "n": "!!", "e": e},
            "not an object"
        ]});
        let keys = usable_keys(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys.len(), 1);
        assert_eq!(keys.keys[0].kid.as_deref(), Some("a"));
    }

    #[test]
    fn a_modulus_is_measured_in_bits_without_its_leading_zeros() {
        assert_eq!(modulus_bits(&[]), 0);
        assert_eq!(modulus_bits(&[0, 0]), 0);
        assert_eq!(modulus_bits(&[0, 1]), 1);
        assert_eq!(modulus_bits(&[0x80; 256]), 2048);
        assert_eq!(modulus_bits(&[&[0][..], &[0x80; 256]].concat()), 2048, "a leading zero");
        assert_eq!(modulus_bits(&[&[0x7f][..], &[0; 255]].concat()), 2047);
        let padded = b64(&[&[0][..], &[0xab; 256]].concat());
        let body = serde_json::json!({"keys": [{"kty": "RSA", "n": padded, "e": "AQAB"}]});
        assert_eq!(usable_keys(body.to_string().as_bytes()).unwrap().keys.len(), 1);
    }

    #[test]
    fn a_set_without_usable_keys_is_a_failure() {
        assert!(usable_keys(br#"{"keys": []}"#).is_err());
        assert!(usable_keys(b"not json").is_err());
    }
}
