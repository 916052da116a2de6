//! Contract cases for token signing keys: the first key, and sealing a plain key in place.

use codex_cloud_core::domain::{SecretString, StoredSigningKey};
use codex_cloud_tests::TestStore;

use super::at;

contract_tests!(a_plain_key_is_sealed_once_and_only_while_it_is_still_plain);

fn key(kid: &str, pem: &str) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        algorithm: "RS256".to_owned(),
        private_key_pem: SecretString::new(pem),
        created_at: at(0),
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
