//! Contract cases for token signing keys: the first key, rotated-in keys (concurrent rotations
//! all land), deleting a dropped key, and sealing a plain key in place.

use codex_cloud_core::domain::{SecretString, StoredSigningKey};
use codex_cloud_tests::TestStore;

use super::at;

contract_tests!(
    a_plain_key_is_sealed_once_and_only_while_it_is_still_plain,
    rotated_keys_are_stored_after_the_first_and_come_back_newest_first,
    concurrent_rotations_all_land,
    a_deleted_key_is_gone_and_only_that_one,
);

fn key(kid: &str, pem: &str) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        algorithm: "RS256".to_owned(),
        private_key_pem: SecretString::new(pem),
        created_at: at(0),
        activates_at: at(0),
    }
}

async fn a_plain_key_is_sealed_once_and_only_while_it_is_still_plain(t: TestStore) {
    let store = t.store();
    let plain = SecretString::new("-----BEGIN RSA PRIVATE KEY-----\nplain\n");
    store.add_first_signing_key(&key("kid-1", plain.expose())).await.expect("first key");
    let sealed = SecretString::new("sealed:v1:AAAA");
    let other = SecretString::new("sealed:v1:BBBB");

    assert!(!store.seal_signing_key("kid-2", &plain, &sealed).await.expect("other id"));
    assert!(store.seal_signing_key("kid-1", &plain, &sealed).await.expect("seal"));
    assert!(
        !store.seal_signing_key("kid-1", &plain, &other).await.expect("again"),
        "a replica that read the plain key too changes nothing"
    );

    let stored = store.signing_keys().await.expect("keys");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].private_key_pem.expose(), sealed.expose());
    assert_eq!(stored[0].kid, "kid-1");
}

async fn rotated_keys_are_stored_after_the_first_and_come_back_newest_first(t: TestStore) {
    let store = t.store();
    store.add_first_signing_key(&key("kid-1", "pem-1")).await.expect("first key");
    let mut next = key("kid-2", "pem-2");
    next.created_at = at(10);
    next.activates_at = at(3610);
    store.add_signing_key(&next).await.expect("rotate");
    store.add_first_signing_key(&key("kid-3", "pem-3")).await.expect("a late first key");

    let stored = store.signing_keys().await.expect("keys");
    let kids: Vec<&str> = stored.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["kid-2", "kid-1"], "a first key after a rotation changes nothing");
    assert_eq!((stored[0].created_at, stored[0].activates_at), (at(10), at(3610)));
    assert_eq!((stored[1].created_at, stored[1].activates_at), (at(0), at(0)));
    assert_eq!(stored[0].private_key_pem.expose(), "pem-2");
    assert!(store.add_signing_key(&next).await.is_err(), "a key id is stored once");
}

async fn concurrent_rotations_all_land(t: TestStore) {
    let store = t.store();
    store.add_first_signing_key(&key("kid-0", "pem-0")).await.expect("first key");
    let mut rotations = tokio::task::JoinSet::new();
    for i in 1..=6 {
        let store = store.clone();
        rotations
            .spawn(async move { store.add_signing_key(&key(&format!("kid-{i}"), "pem")).await });
    }
    while let Some(result) = rotations.join_next().await {
        result.expect("no panic").expect("every rotation lands");
    }
    assert_eq!(store.signing_keys().await.expect("keys").len(), 7);
}

async fn a_deleted_key_is_gone_and_only_that_one(t: TestStore) {
    let store = t.store();
    store.add_first_signing_key(&key("kid-1", "pem-1")).await.expect("first key");
    store.add_signing_key(&key("kid-2", "pem-2")).await.expect("rotate");
    assert!(store.delete_signing_key("kid-1").await.expect("delete"));
    assert!(!store.delete_signing_key("kid-1").await.expect("again"), "gone already");
    let stored = store.signing_keys().await.expect("keys");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].kid, "kid-2");
}
