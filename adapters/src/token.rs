//! Codex access tokens: RS256-signed JWTs of type `at+jwt` (RFC 9068), and the public JWKS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use time::Duration;
use tokio::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use codex_cloud_core::BoxError;
use codex_cloud_core::domain::{
    AccessTokenClaims, IssuedToken, PublishedKey, SecretString, SessionId, SigningKeyState,
    SigningKeyStatus, StoredSigningKey, UserId, signing_key_schedule,
};
use codex_cloud_core::ports::{SigningKeyStore, TokenIssuer, TokenIssuerError};

use crate::sealing::KeySealer;

/// The JOSE `typ` of Codex access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
const RSA_BITS: usize = 2048;

/// An RSA private key with its key id (the RFC 7638 thumbprint of its public half).
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    private: RsaPrivateKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("the signing key is not a PKCS#1 PEM RSA private key: {0}")]
    Malformed(String),
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
}

impl SigningKey {
    /// A fresh 2048-bit key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SigningKeyError> {
        let mut rng = rsa::rand_core::OsRng;
        let private = RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map_err(|e| SigningKeyError::Generate(e.to_string()))?;
        Ok(Self::from_private(private))
    }

    pub fn from_pkcs1_pem(pem: &str) -> Result<Self, SigningKeyError> {
        let private = RsaPrivateKey::from_pkcs1_pem(pem)
            .map_err(|e| SigningKeyError::Malformed(e.to_string()))?;
        Ok(Self::from_private(private))
    }

    fn from_private(private: RsaPrivateKey) -> Self {
        let kid = thumbprint(&private.to_public_key());
        Self { kid, private }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn to_pkcs1_pem(&self) -> Result<SecretString, SigningKeyError> {
        let pem = self
            .private
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| SigningKeyError::Malformed(e.to_string()))?;
        Ok(SecretString::new(pem.as_str()))
    }

    /// The key as the store keeps it.
    ///
    /// # Errors
    /// When the key cannot be encoded.
    pub fn to_stored(
        &self,
        created_at: OffsetDateTime,
        activates_at: OffsetDateTime,
    ) -> Result<StoredSigningKey, SigningKeyError> {
        Ok(StoredSigningKey {
            kid: self.kid.clone(),
            algorithm: "RS256".to_owned(),
            private_key_pem: self.to_pkcs1_pem()?,
            created_at,
            activates_at,
        })
    }

    /// The public half, as published.
    pub fn published(&self) -> PublishedKey {
        let public = self.private.to_public_key();
        PublishedKey {
            kid: self.kid.clone(),
            alg: "RS256".into(),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    }
}

/// The keys as stored, opened and parsed: creates and stores the first key if there is none
/// (replicas starting together race to store it; exactly one wins, and all use it).
///
/// With a `sealer`, a new key is stored sealed, and a key stored plain is sealed in place; a
/// sealed key that does not open is an error (never replaced by a new key). Without one, a
/// sealed key is an error too.
async fn load_or_create(
    store: &dyn SigningKeyStore,
    now: OffsetDateTime,
    sealer: Option<&KeySealer>,
) -> Result<Vec<(StoredSigningKey, SigningKey)>, BoxError> {
    let mut stored = store.signing_keys().await?;
    if stored.is_empty() {
        let key = tokio::task::spawn_blocking(SigningKey::generate).await??;
        let mut first = key.to_stored(now, now)?;
        if let Some(sealer) = sealer {
            first.private_key_pem = sealer.seal(&first.kid, &first.private_key_pem)?;
        }
        store.add_first_signing_key(&first).await?;
        stored = store.signing_keys().await?;
    }
    let mut keys = Vec::with_capacity(stored.len());
    for key in stored {
        let plain = match (KeySealer::is_sealed(key.private_key_pem.expose()), sealer) {
            (true, _) => open(&key, sealer)?,
            (false, Some(sealer)) => {
                // Only a key that parses is sealed: a damaged one stops start-up unchanged.
                parse_stored(&key)?;
                let sealed = sealer.seal(&key.kid, &key.private_key_pem)?;
                if store.seal_signing_key(&key.kid, &key.private_key_pem, &sealed).await? {
                    tracing::info!(kid = %key.kid, "sealed a stored token signing key");
                } else {
                    // Another replica sealed it first: with the same key-encryption key, or
                    // this one must not run.
                    let now_stored = store.signing_keys().await?;
                    let theirs = now_stored.iter().find(|k| k.kid == key.kid);
                    let opens =
                        theirs.is_some_and(|k| sealer.open(&k.kid, &k.private_key_pem).is_ok());
                    if !opens {
                        return Err(does_not_open(&key.kid).into());
                    }
                }
                key.private_key_pem.clone()
            }
            (false, None) => key.private_key_pem.clone(),
        };
        let parsed = parse_stored(&StoredSigningKey { private_key_pem: plain, ..key.clone() })?;
        keys.push((key, parsed));
    }
    Ok(keys)
}

fn does_not_open(kid: &str) -> String {
    format!(
        "the key-encryption key (CODEX_KEY_ENCRYPTION_KEY or CODEX_KEY_ENCRYPTION_KEY_FILE) \
         does not open the stored token signing key {kid}"
    )
}

/// The plain PEM of a stored key, opening it if it is sealed.
fn open(key: &StoredSigningKey, sealer: Option<&KeySealer>) -> Result<SecretString, BoxError> {
    if !KeySealer::is_sealed(key.private_key_pem.expose()) {
        return Ok(key.private_key_pem.clone());
    }
    match sealer {
        Some(sealer) => {
            Ok(sealer.open(&key.kid, &key.private_key_pem).map_err(|_| does_not_open(&key.kid))?)
        }
        None => Err(format!(
            "the stored token signing key {} is sealed: set CODEX_KEY_ENCRYPTION_KEY \
             (or CODEX_KEY_ENCRYPTION_KEY_FILE)",
            key.kid
        )
        .into()),
    }
}

/// The stored key, which must parse and have the id it is stored under (a corrupt key is an
/// error, logged with its id, never replaced by a new one).
fn parse_stored(stored: &StoredSigningKey) -> Result<SigningKey, BoxError> {
    let key = SigningKey::from_pkcs1_pem(stored.private_key_pem.expose()).ok();
    match key {
        Some(key) if key.kid == stored.kid => Ok(key),
        _ => {
            tracing::error!(kid = %stored.kid, "a stored token signing key is corrupt");
            Err(format!("the stored token signing key {} is corrupt", stored.kid).into())
        }
    }
}

/// RFC 7638 JWK thumbprint (SHA-256) of an RSA public key.
fn thumbprint(public: &RsaPublicKey) -> String {
    let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: Uuid,
    sid: Uuid,
    iat: i64,
    exp: i64,
    jti: Uuid,
}

/// The protected header of a Codex access token.
#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A compact JWS (RFC 7515) of `claims`, RS256 with `key`.
fn sign_rs256(
    key: &aws_lc_rs::rsa::KeyPair,
    header: &JwsHeader<'_>,
    claims: &Claims,
) -> Result<String, TokenIssuerError> {
    let internal = |e: String| TokenIssuerError::Internal(e.into());
    let header = serde_json::to_vec(header).map_err(|e| internal(e.to_string()))?;
    let claims = serde_json::to_vec(claims).map_err(|e| internal(e.to_string()))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let mut signature = vec![0; key.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    key.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, token.as_bytes(), &mut signature)
        .map_err(|_| internal("RSA signing failed".to_owned()))?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

/// A signing key as loaded: parsed once, with everything signing and verifying need.
struct LoadedKey {
    kid: String,
    algorithm: Algorithm,
    activates_at: OffsetDateTime,
    /// AWS-LC's RSA key pair: with the CPU's AVX-512 IFMA units, a signature costs half of
    /// ring's and a small fraction of the pure-Rust backend's.
    signing: aws_lc_rs::rsa::KeyPair,
    decoding: DecodingKey,
    published: PublishedKey,
}

impl LoadedKey {
    fn new(
        parsed: SigningKey,
        algorithm: &str,
        activates_at: OffsetDateTime,
    ) -> Result<Self, SigningKeyError> {
        // The only algorithm these keys are made for; a key stored for another is not used.
        let algorithm = match algorithm {
            "RS256" => Algorithm::RS256,
            other => return Err(SigningKeyError::Malformed(format!("unsupported alg {other}"))),
        };
        let der =
            parsed.private.to_pkcs1_der().map_err(|e| SigningKeyError::Malformed(e.to_string()))?;
        let public = parsed.private.to_public_key();
        Ok(Self {
            kid: parsed.kid.clone(),
            algorithm,
            activates_at,
            signing: aws_lc_rs::rsa::KeyPair::from_der(der.as_bytes())
                .map_err(|e| SigningKeyError::Malformed(e.to_string()))?,
            decoding: DecodingKey::from_rsa_raw_components(
                &public.n().to_bytes_be(),
                &public.e().to_bytes_be(),
            ),
            published: parsed.published(),
        })
    }
}

/// A loaded key in one set, with when it stops verifying: its successor's activation plus the
/// retention (none while no successor has activated).
#[derive(Clone)]
struct ScheduledKey {
    key: Arc<LoadedKey>,
    dropped_at: Option<OffsetDateTime>,
}

impl ScheduledKey {
    fn verifies_at(&self, now: OffsetDateTime) -> bool {
        self.dropped_at.is_none_or(|at| now < at)
    }
}

/// The keys of one load, in activation order (oldest first), with their schedule applied.
struct KeySet {
    keys: Vec<ScheduledKey>,
    by_kid: HashMap<String, ScheduledKey>,
    /// Each key's stored row, for the schedule.
    stored: Vec<StoredSigningKey>,
}

impl KeySet {
    /// `keys` (stored row and parsed key, any order), scheduled at `now`: dropped keys are left
    /// out and returned apart.
    fn schedule(
        keys: Vec<(StoredSigningKey, Arc<LoadedKey>)>,
        now: OffsetDateTime,
        keep_retired: Duration,
    ) -> (Self, Vec<String>) {
        let stored: Vec<StoredSigningKey> = keys.iter().map(|(s, _)| s.clone()).collect();
        let mut loaded: HashMap<String, Arc<LoadedKey>> =
            keys.into_iter().map(|(s, k)| (s.kid, k)).collect();
        let mut set = Self { keys: Vec::new(), by_kid: HashMap::new(), stored: Vec::new() };
        let mut dropped = Vec::new();
        for status in signing_key_schedule(&stored, now, keep_retired) {
            let Some(key) = loaded.remove(&status.kid) else { continue };
            if status.state == SigningKeyState::Dropped {
                dropped.push(status.kid);
                continue;
            }
            let key = ScheduledKey { key, dropped_at: status.dropped_at };
            set.by_kid.insert(status.kid.clone(), key.clone());
            set.keys.push(key);
        }
        set.stored = stored.into_iter().filter(|s| set.by_kid.contains_key(&s.kid)).collect();
        (set, dropped)
    }

    /// The key that signs at `now`: the last one activated, or the first if none has yet.
    fn signing(&self, now: OffsetDateTime) -> Option<&Arc<LoadedKey>> {
        let active = self.keys.iter().rev().find(|k| k.key.activates_at <= now);
        active.or_else(|| self.keys.first()).map(|k| &k.key)
    }
}

/// Where the keys come from, for a ring that reloads.
struct KeySource {
    store: Arc<dyn SigningKeyStore>,
    sealer: Option<KeySealer>,
}

/// The token signing keys every replica shares, reloaded from the store: on a schedule
/// (`reload`), when a token names a key this replica has not loaded (at most once per
/// `UNKNOWN_KID_RELOAD_COOLDOWN`), and after a rotation made here.
pub struct KeyRing {
    source: Option<KeySource>,
    keep_retired: Duration,
    current: RwLock<Arc<KeySet>>,
    /// When the last completed reload for an unknown key id began; held while one runs.
    unknown_kid_reload: tokio::sync::Mutex<Option<Instant>>,
    /// Held by every reload, so that a reload that read the store earlier never replaces the
    /// keys of one that read it later.
    reloading: tokio::sync::Mutex<()>,
}

/// The shortest time between two reloads caused by tokens naming unknown keys.
pub const UNKNOWN_KID_RELOAD_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("keep_retired", &self.keep_retired).finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Fixed keys that never reload: `keys[0]` signs, every key verifies.
    ///
    /// # Errors
    /// When `keys` is empty or a key cannot be encoded.
    pub fn fixed(keys: &[SigningKey]) -> Result<Self, SigningKeyError> {
        if keys.is_empty() {
            return Err(SigningKeyError::Malformed("no key".into()));
        }
        // keys[0] activated last, so it signs; the others are retired, never dropped.
        let mut loaded = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let activates_at = OffsetDateTime::UNIX_EPOCH - Duration::seconds(i as i64);
            let key = Arc::new(LoadedKey::new(key.clone(), "RS256", activates_at)?);
            loaded.push(ScheduledKey { key, dropped_at: None });
        }
        loaded.reverse();
        let by_kid = loaded.iter().map(|k| (k.key.kid.clone(), k.clone())).collect();
        let set = KeySet { keys: loaded, by_kid, stored: Vec::new() };
        Ok(Self {
            source: None,
            keep_retired: Duration::MAX,
            current: RwLock::new(Arc::new(set)),
            unknown_kid_reload: tokio::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads the stored keys (creating the first one if there is none, sealing plain ones when
    /// a `sealer` is given); those retired for longer than `keep_retired` are left out, and
    /// deleted only by a serving replica's `reload`.
    ///
    /// # Errors
    /// When the store fails, or a stored key is corrupt or does not open.
    pub async fn load(
        store: Arc<dyn SigningKeyStore>,
        sealer: Option<KeySealer>,
        keep_retired: Duration,
        now: OffsetDateTime,
    ) -> Result<Self, BoxError> {
        let keys = load_or_create(&*store, now, sealer.as_ref()).await?;
        let mut loaded = Vec::with_capacity(keys.len());
        for (stored, parsed) in keys {
            let key = LoadedKey::new(parsed, &stored.algorithm, stored.activates_at)?;
            loaded.push((stored, Arc::new(key)));
        }
        let (set, _dropped) = KeySet::schedule(loaded, now, keep_retired);
        Ok(Self {
            source: Some(KeySource { store, sealer }),
            keep_retired,
            current: RwLock::new(Arc::new(set)),
            unknown_kid_reload: tokio::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// What a serving replica runs on a schedule: reads the stored keys again (new ones are
    /// opened and parsed; one that cannot be is logged and left out, and the ones loaded before
    /// keep working), and deletes keys retired for longer than the retention. Only serving
    /// replicas delete, so a command run with other settings never drops a key early.
    ///
    /// # Errors
    /// When the store cannot be read (the keys loaded before stay in use).
    pub async fn reload(&self, now: OffsetDateTime) -> Result<(), BoxError> {
        self.refresh(now, true).await
    }

    async fn refresh(&self, now: OffsetDateTime, prune: bool) -> Result<(), BoxError> {
        let Some(source) = &self.source else { return Ok(()) };
        let _one_at_a_time = self.reloading.lock().await;
        let stored = source.store.signing_keys().await?;
        let current = self.current();
        let mut loaded = Vec::with_capacity(stored.len());
        for key in stored {
            if let Some(known) = current.by_kid.get(&key.kid)
                && known.key.activates_at == key.activates_at
            {
                loaded.push((key, known.key.clone()));
                continue;
            }
            let parsed = open(&key, source.sealer.as_ref()).and_then(|plain| {
                parse_stored(&StoredSigningKey { private_key_pem: plain, ..key.clone() })
            });
            match parsed.and_then(|p| Ok(LoadedKey::new(p, &key.algorithm, key.activates_at)?)) {
                Ok(parsed) => {
                    tracing::info!(kid = %key.kid, "loaded a token signing key");
                    loaded.push((key, Arc::new(parsed)));
                }
                Err(e) => {
                    tracing::error!(kid = %key.kid, error = %e, "a token signing key is left out");
                }
            }
        }
        if loaded.is_empty() {
            return Err("no stored token signing key could be loaded".into());
        }
        let (set, dropped) = KeySet::schedule(loaded, now, self.keep_retired);
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
        if prune {
            self.delete(&dropped).await;
        }
        Ok(())
    }

    async fn delete(&self, kids: &[String]) {
        let Some(source) = &self.source else { return };
        for kid in kids {
            match source.store.delete_signing_key(kid).await {
                Ok(true) => tracing::info!(%kid, "deleted a retired token signing key"),
                Ok(false) => {}
                Err(e) => tracing::warn!(%kid, error = %e, "deleting a retired signing key failed"),
            }
        }
    }

    /// Reloads because a token named a key not loaded here, at most once per cooldown: callers
    /// that arrive together share one reload, and a completed reload that began after
    /// `arrived` is the one they wait for. A reload cut short (its request went away) counts
    /// for nobody.
    async fn reload_for_unknown_kid(&self, arrived: Instant, now: OffsetDateTime) {
        if self.source.is_none() {
            return;
        }
        let mut last = self.unknown_kid_reload.lock().await;
        if last.is_some_and(|began| began >= arrived) {
            return;
        }
        if let Some(began) = *last {
            tokio::time::sleep_until(began + UNKNOWN_KID_RELOAD_COOLDOWN).await;
        }
        let began = Instant::now();
        if let Err(e) = self.refresh(now, false).await {
            tracing::warn!(error = %e, "reloading the token signing keys failed");
        }
        *last = Some(began);
    }

    /// Makes a new key, *next* until `publish_delay` has passed (at once for zero, and never
    /// before the key active now activated, whatever this process's clock says), stores it
    /// (sealed when this ring seals) and loads it here.
    ///
    /// # Errors
    /// When the key cannot be made or stored.
    pub async fn rotate(
        &self,
        now: OffsetDateTime,
        publish_delay: Duration,
    ) -> Result<SigningKeyStatus, BoxError> {
        let Some(source) = &self.source else {
            return Err("these signing keys are fixed".into());
        };
        let key = tokio::task::spawn_blocking(SigningKey::generate).await??;
        let active_since = self.current().signing(now).map(|k| k.activates_at);
        let activates_at =
            active_since.map_or(now + publish_delay, |at| at.max(now + publish_delay));
        let mut stored = key.to_stored(now, activates_at)?;
        if let Some(sealer) = &source.sealer {
            stored.private_key_pem = sealer.seal(&stored.kid, &stored.private_key_pem)?;
        }
        source.store.add_signing_key(&stored).await?;
        // Stored is done: a failure to read the keys back changes nothing for the replicas.
        let mut keys = self.current().stored.clone();
        match self.refresh(now, false).await {
            Ok(()) => keys = self.current().stored.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "the new signing key is stored but was not read back");
                keys.insert(0, stored);
            }
        }
        let status = signing_key_schedule(&keys, now, self.keep_retired);
        let kid = key.kid;
        status.into_iter().find(|s| s.kid == kid).ok_or_else(|| "the new key is not stored".into())
    }

    /// Every loaded key's state at `now`, in activation order.
    pub fn schedule(&self, now: OffsetDateTime) -> Vec<SigningKeyStatus> {
        signing_key_schedule(&self.current().stored, now, self.keep_retired)
    }

    /// The public keys at `now`: every key that still verifies, the newest first.
    pub fn published(&self, now: OffsetDateTime) -> Vec<PublishedKey> {
        let set = self.current();
        set.keys
            .iter()
            .rev()
            .filter(|k| k.verifies_at(now))
            .map(|k| k.key.published.clone())
            .collect()
    }
}

/// Whether a `kid` could be one of this deployment's (an RFC 7638 SHA-256 thumbprint), before
/// anything is reloaded for it.
fn plausible_kid(kid: &str) -> bool {
    kid.len() == 43 && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Signs with the ring's active key; verifies with any key the ring holds.
pub struct JwtTokenIssuer {
    issuer: String,
    audience: String,
    ring: Arc<KeyRing>,
    verified: VerifiedTokens,
}

/// Tokens whose signature and claims were checked already, under the SHA-256 of the token:
/// checked again, only their expiry and their key's schedule are. Bounded in size; an entry is
/// useless once its token has expired.
#[derive(Default)]
struct VerifiedTokens(std::sync::Mutex<HashMap<[u8; 32], (AccessTokenClaims, String)>>);

impl VerifiedTokens {
    const MAX_ENTRIES: usize = 50_000;

    fn get(&self, digest: &[u8; 32]) -> Option<(AccessTokenClaims, String)> {
        crate::sync::lock(&self.0).get(digest).cloned()
    }

    fn forget(&self, digest: &[u8; 32]) {
        crate::sync::lock(&self.0).remove(digest);
    }

    fn insert(&self, digest: [u8; 32], claims: AccessTokenClaims, kid: &str, now: OffsetDateTime) {
        let mut entries = crate::sync::lock(&self.0);
        if entries.len() >= Self::MAX_ENTRIES {
            // Once per filling, not per insert: unless the expired tokens free a tenth of the
            // room, everything goes.
            entries.retain(|_, (claims, _)| claims.expires_at > now);
            if entries.len() >= Self::MAX_ENTRIES - Self::MAX_ENTRIES / 10 {
                entries.clear();
            }
        }
        entries.insert(digest, (claims, kid.to_owned()));
    }
}

impl JwtTokenIssuer {
    /// Fixed keys: `keys[0]` signs; every key verifies.
    ///
    /// # Errors
    /// When `keys` is empty or a key cannot be encoded.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: &[SigningKey],
    ) -> Result<Self, SigningKeyError> {
        Ok(Self::with_ring(issuer, audience, Arc::new(KeyRing::fixed(keys)?)))
    }

    /// Over a shared, reloading key ring.
    pub fn with_ring(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        ring: Arc<KeyRing>,
    ) -> Self {
        let verified = VerifiedTokens::default();
        Self { issuer: issuer.into(), audience: audience.into(), ring, verified }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    fn check(
        &self,
        token: &str,
        scheduled: &ScheduledKey,
        alg: Algorithm,
        now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, TokenIssuerError> {
        let key = &scheduled.key;
        // The key is bound to its algorithm (RFC 8725 §3.1): nothing else is tried with it.
        if alg != key.algorithm || !scheduled.verifies_at(now) {
            return Err(TokenIssuerError::Invalid);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        // Expiry is checked below against the injected clock, not the system time.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|_| TokenIssuerError::Invalid)?;
        let claims = data.claims;
        if claims.exp <= now.unix_timestamp() {
            return Err(TokenIssuerError::Invalid);
        }
        let at =
            |secs| OffsetDateTime::from_unix_timestamp(secs).map_err(|_| TokenIssuerError::Invalid);
        Ok(AccessTokenClaims {
            subject: UserId::from_uuid(claims.sub),
            session: SessionId::from_uuid(claims.sid),
            issued_at: at(claims.iat)?,
            expires_at: at(claims.exp)?,
            token_id: claims.jti,
        })
    }
}

#[async_trait]
impl TokenIssuer for JwtTokenIssuer {
    async fn issue(&self, claims: &AccessTokenClaims) -> Result<IssuedToken, TokenIssuerError> {
        let key = self
            .ring
            .current()
            .signing(claims.issued_at)
            .cloned()
            .ok_or_else(|| TokenIssuerError::Internal("no signing key is loaded".into()))?;
        let body = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: claims.subject.as_uuid(),
            sid: claims.session.as_uuid(),
            iat: claims.issued_at.unix_timestamp(),
            exp: claims.expires_at.unix_timestamp(),
            jti: claims.token_id,
        };
        // The RSA private-key operation runs on a signing thread, off the request threads.
        let kid = key.kid.clone();
        let token = crate::background::on_signing_thread(move || {
            let header = JwsHeader { alg: "RS256", typ: ACCESS_TOKEN_TYPE, kid: &kid };
            sign_rs256(&key.signing, &header, &body)
        })
        .await
        .ok_or_else(|| TokenIssuerError::Internal("the signing thread failed".into()))??;
        Ok(IssuedToken {
            token: SecretString::new(token),
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
        })
    }

    async fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessTokenClaims, TokenIssuerError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((claims, kid)) = self.verified.get(&digest) {
            // Checked before: still unexpired, and its key not dropped since.
            let set = self.ring.current();
            let key_valid = set.by_kid.get(&kid).is_some_and(|key| key.verifies_at(now));
            if claims.expires_at > now && key_valid {
                return Ok(claims);
            }
            self.verified.forget(&digest);
            return Err(TokenIssuerError::Invalid);
        }
        let (claims, kid) = self.verify_signed(token, now).await?;
        self.verified.insert(digest, claims.clone(), &kid, now);
        Ok(claims)
    }

    fn published_keys(&self, now: OffsetDateTime) -> Vec<PublishedKey> {
        self.ring.published(now)
    }
}

impl JwtTokenIssuer {
    /// The whole check of a token not seen before: header, key, signature, claims. The claims,
    /// and the id of the key that verified them.
    async fn verify_signed(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<(AccessTokenClaims, String), TokenIssuerError> {
        let arrived = Instant::now();
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenIssuerError::Invalid)?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenIssuerError::Invalid);
        }
        let kid = header.kid.as_deref().ok_or(TokenIssuerError::Invalid)?;
        if let Some(key) = self.ring.current().by_kid.get(kid) {
            return Ok((self.check(token, key, header.alg, now)?, kid.to_owned()));
        }
        // A key another replica may have rotated in since this one last loaded.
        if !plausible_kid(kid) {
            return Err(TokenIssuerError::Invalid);
        }
        self.ring.reload_for_unknown_kid(arrived, now).await;
        let set = self.ring.current();
        let key = set.by_kid.get(kid).ok_or(TokenIssuerError::Invalid)?;
        Ok((self.check(token, key, header.alg, now)?, kid.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: OffsetDateTime) -> AccessTokenClaims {
        AccessTokenClaims {
            subject: UserId::new(),
            session: SessionId::random(),
            issued_at: now,
            expires_at: now + time::Duration::minutes(15),
            token_id: Uuid::new_v4(),
        }
    }

    #[tokio::test]
    async fn a_token_verifies_until_it_expires_and_only_for_its_audience() {
        let key = SigningKey::generate().unwrap();
        let issuer = JwtTokenIssuer::new("iss", "aud", std::slice::from_ref(&key)).unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let claims = claims(now);
        let token = issuer.issue(&claims).await.unwrap();
        assert_eq!(issuer.verify(token.token.expose(), now).await.unwrap(), claims);
        assert!(issuer.verify(token.token.expose(), claims.expires_at).await.is_err());
        let other = JwtTokenIssuer::new("iss", "other", &[key]).unwrap();
        assert!(other.verify(token.token.expose(), now).await.is_err());
    }

    #[test]
    fn keys_survive_a_pem_round_trip() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs1_pem(key.to_pkcs1_pem().unwrap().expose()).unwrap();
        assert_eq!(key.kid(), again.kid());
        assert_eq!(key.published(), again.published());
    }
}
