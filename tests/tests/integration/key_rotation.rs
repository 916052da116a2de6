//! Token signing keys over their life, through the adapters every replica runs: a rotated-in
//! key is published before it signs, the key it replaces verifies until its tokens have expired
//! and is then deleted, a replica verifies a key rotated in elsewhere before its next scheduled
//! reload, rotated keys are sealed, and a key verifies only tokens of its own algorithm.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use codex_cloud_adapters::memory::InMemoryStore;
use codex_cloud_adapters::{JwtTokenIssuer, KeyRing, KeySealer, UNKNOWN_KID_RELOAD_COOLDOWN};
use codex_cloud_core::domain::{
    AccessTokenClaims, IssuedToken, PublishedKey, SecretString, SessionId, SigningKeyState,
    StoredSigningKey, UserId,
};
use codex_cloud_core::ports::{SigningKeyStore, StoreError, TokenIssuer};
use codex_cloud_tests::app::{T0, TestApp};
use codex_cloud_tests::keys::signing_key;

const KEEP: Duration = Duration::seconds(100);

fn claims(issued_at: OffsetDateTime) -> AccessTokenClaims {
    AccessTokenClaims {
        subject: UserId::new(),
        session: SessionId::random(),
        issued_at,
        expires_at: issued_at + Duration::minutes(1),
        token_id: Uuid::new_v4(),
    }
}

fn kid_of(token: &IssuedToken) -> String {
    jsonwebtoken::decode_header(token.token.expose()).unwrap().kid.unwrap()
}

fn kids(keys: &[PublishedKey]) -> Vec<String> {
    keys.iter().map(|k| k.kid.clone()).collect()
}

/// A replica: its own key ring over the shared store.
async fn replica(store: &Arc<InMemoryStore>) -> (Arc<KeyRing>, JwtTokenIssuer) {
    let ring = Arc::new(KeyRing::load(store.clone(), None, KEEP, T0).await.unwrap());
    (ring.clone(), JwtTokenIssuer::with_ring("iss", "aud", ring))
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_the_old_one_verifies_until_dropped() {
    let store = Arc::new(InMemoryStore::new());
    let (ring, issuer) = replica(&store).await;
    let long_lived = AccessTokenClaims { expires_at: T0 + Duration::hours(1), ..claims(T0) };
    let old_token = issuer.issue(&long_lived).await.unwrap();
    let old = kid_of(&old_token);

    let status = ring.rotate(T0, Duration::seconds(50)).await.unwrap();
    assert_eq!(status.state, SigningKeyState::Next);
    assert_eq!(status.activates_at, T0 + Duration::seconds(50));
    let new = status.kid;
    assert_eq!(kids(&issuer.published_keys(T0)), [new.clone(), old.clone()]);
    let before = claims(T0 + Duration::seconds(49));
    assert_eq!(kid_of(&issuer.issue(&before).await.unwrap()), old, "a next key does not sign yet");
    let new_token = issuer.issue(&claims(T0 + Duration::seconds(50))).await.unwrap();
    assert_eq!(kid_of(&new_token), new, "it signs from its activation");

    let later = T0 + Duration::seconds(149);
    ring.reload(later).await.unwrap();
    assert!(issuer.verify(old_token.token.expose(), later).await.is_ok(), "retired verifies");
    let states: Vec<_> = ring.schedule(later).iter().map(|s| s.state).collect();
    assert_eq!(states, [SigningKeyState::Retired, SigningKeyState::Active]);
    assert_eq!(ring.schedule(later)[0].dropped_at, Some(T0 + Duration::seconds(150)));

    let dropped = T0 + Duration::seconds(150);
    assert!(issuer.verify(old_token.token.expose(), dropped).await.is_err(), "dropped");
    assert_eq!(kids(&issuer.published_keys(dropped)), std::slice::from_ref(&new));
    KeyRing::load(store.clone(), None, KEEP, dropped).await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap().len(), 2, "loading alone deletes nothing");
    ring.reload(dropped).await.unwrap();
    let stored: Vec<String> =
        store.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(stored, std::slice::from_ref(&new), "a dropped key is deleted");
    let fresh = issuer.issue(&claims(dropped)).await.unwrap();
    assert!(issuer.verify(fresh.token.expose(), dropped).await.is_ok());
}

#[tokio::test]
async fn a_replica_verifies_a_key_rotated_in_elsewhere_before_its_next_reload() {
    let store = Arc::new(InMemoryStore::new());
    let ((ring_a, a), (_, b)) = (replica(&store).await, replica(&store).await);
    ring_a.rotate(T0, Duration::ZERO).await.unwrap();
    let token = a.issue(&claims(T0)).await.unwrap();
    assert_ne!(kid_of(&token), kid_of(&b.issue(&claims(T0)).await.unwrap()), "b has not reloaded");

    assert!(b.verify(token.token.expose(), T0).await.is_ok());
    assert_eq!(
        kid_of(&b.issue(&claims(T0)).await.unwrap()),
        kid_of(&token),
        "and now signs with it"
    );
}

#[tokio::test]
async fn a_rotation_from_a_clock_behind_never_activates_before_the_active_key() {
    let store = Arc::new(InMemoryStore::new());
    let (ring, _) = replica(&store).await;
    let status = ring.rotate(T0 - Duration::hours(1), Duration::ZERO).await.unwrap();
    assert_eq!(status.activates_at, T0, "not before the key it replaces");
    let states: Vec<_> = ring.schedule(T0).into_iter().map(|s| (s.kid, s.state)).collect();
    assert_eq!(states.last(), Some(&(status.kid, SigningKeyState::Active)));
}

/// The in-memory store, counting reads of the signing keys.
struct CountingKeys {
    inner: InMemoryStore,
    reads: AtomicUsize,
}

#[async_trait]
impl SigningKeyStore for CountingKeys {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.signing_keys().await
    }
    async fn add_first_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.inner.add_first_signing_key(key).await
    }
    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.inner.add_signing_key(key).await
    }
    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError> {
        self.inner.delete_signing_key(kid).await
    }
    async fn seal_signing_key(
        &self,
        kid: &str,
        plain: &SecretString,
        sealed: &SecretString,
    ) -> Result<bool, StoreError> {
        self.inner.seal_signing_key(kid, plain, sealed).await
    }
}

/// A token under a well-formed key id nobody has.
fn unknown_kid_token() -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes().repeat(2)));
    let encoding =
        EncodingKey::from_rsa_pem(signing_key().to_pkcs1_pem().unwrap().expose().as_bytes())
            .unwrap();
    jsonwebtoken::encode(&header, &json!({ "sub": "x" }), &encoding).unwrap()
}

#[tokio::test(start_paused = true)]
async fn tokens_under_unknown_keys_reread_the_store_at_most_once_a_second() {
    let store = Arc::new(CountingKeys { inner: InMemoryStore::new(), reads: AtomicUsize::new(0) });
    let ring = Arc::new(KeyRing::load(store.clone(), None, KEEP, T0).await.unwrap());
    let issuer = Arc::new(JwtTokenIssuer::with_ring("iss", "aud", ring));
    let loaded = store.reads.load(Ordering::SeqCst);
    assert_eq!(unknown_kid_token().split('.').count(), 3);

    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let issuer = issuer.clone();
        flood.spawn(async move { issuer.verify(&unknown_kid_token(), T0).await.is_err() });
    }
    while let Some(refused) = flood.join_next().await {
        assert!(refused.unwrap());
    }
    assert_eq!(store.reads.load(Ordering::SeqCst), loaded + 1, "fifty at once read once");

    let first = tokio::time::Instant::now();
    tokio::time::advance(std::time::Duration::from_millis(200)).await;
    assert!(issuer.verify(&unknown_kid_token(), T0).await.is_err());
    assert_eq!(store.reads.load(Ordering::SeqCst), loaded + 2);
    assert!(first.elapsed() >= UNKNOWN_KID_RELOAD_COOLDOWN, "the next read waited its turn");
}

#[tokio::test(start_paused = true)]
async fn a_serving_backend_picks_up_a_rotation_within_the_reload_interval() {
    let every = std::time::Duration::from_secs(60);
    let app = TestApp::builder().configure(|s| s.signing_key_reload_interval = every).build().await;
    app.backend.spawn_background_tasks();
    let elsewhere = KeyRing::load(app.store.stores().signing_keys, None, KEEP, T0).await.unwrap();
    let rotated = elsewhere.rotate(T0, Duration::ZERO).await.unwrap();
    let published = || kids(&app.services.auth.published_keys());
    assert!(!published().contains(&rotated.kid), "not before a reload");

    tokio::time::sleep(std::time::Duration::from_secs(59)).await;
    assert!(!published().contains(&rotated.kid), "nor before the interval has passed");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(published().contains(&rotated.kid), "read again after the interval");
}

#[tokio::test]
async fn a_rotated_key_is_stored_sealed_and_opens_on_another_replica() {
    const KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let store = Arc::new(InMemoryStore::new());
    let sealer = || Some(KeySealer::from_base64(KEK).unwrap());
    let a = KeyRing::load(store.clone(), sealer(), KEEP, T0).await.unwrap();
    let status = a.rotate(T0, Duration::ZERO).await.unwrap();
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|k| KeySealer::is_sealed(k.private_key_pem.expose())));

    let b = KeyRing::load(store.clone(), sealer(), KEEP, T0).await.unwrap();
    let active = b.schedule(T0).into_iter().find(|s| s.state == SigningKeyState::Active);
    assert_eq!(active.map(|s| s.kid), Some(status.kid));
    assert!(KeyRing::load(store.clone(), None, KEEP, T0).await.is_err(), "sealed needs the key");
}

#[tokio::test]
async fn a_key_verifies_only_tokens_of_its_own_algorithm() {
    let store = Arc::new(InMemoryStore::new());
    let key = signing_key();
    store.add_first_signing_key(&key.to_stored(T0, T0).unwrap()).await.unwrap();
    let (_, issuer) = replica(&store).await;
    let encoding = EncodingKey::from_rsa_pem(key.to_pkcs1_pem().unwrap().expose().as_bytes());
    let encoding = encoding.unwrap();
    let body = json!({
        "iss": "iss", "aud": "aud", "sub": Uuid::new_v4(), "sid": Uuid::new_v4(),
        "iat": T0.unix_timestamp(), "exp": (T0 + Duration::minutes(5)).unix_timestamp(),
        "jti": Uuid::new_v4(),
    });
    let token = |alg| {
        let mut header = Header::new(alg);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid().to_owned());
        jsonwebtoken::encode(&header, &body, &encoding).unwrap()
    };
    assert!(issuer.verify(&token(Algorithm::RS256), T0).await.is_ok(), "its own algorithm");
    for other in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        assert!(issuer.verify(&token(other), T0).await.is_err(), "{other:?} under an RS256 key");
    }
}
