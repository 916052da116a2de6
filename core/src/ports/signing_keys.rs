//! The private keys that sign Codex access tokens, shared by every replica.

use async_trait::async_trait;

use crate::domain::{SecretString, StoredSigningKey};
use crate::ports::StoreError;

/// Stores token signing keys.
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every stored key, newest first.
    ///
    /// # Errors
    /// When the store fails.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Stores `key` as the first signing key, unless a first key is stored already: of replicas
    /// racing to create the first key, exactly one succeeds and the others change nothing.
    ///
    /// # Errors
    /// When the store fails.
    async fn add_first_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;

    /// Stores `key` after every stored key (a rotation); concurrent calls all succeed.
    ///
    /// # Errors
    /// When the store fails (a key with the same id is a failure too).
    async fn add_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;

    /// Deletes the key `kid` (once no token it signed can still be valid); whether it was there.
    ///
    /// # Errors
    /// When the store fails.
    async fn delete_signing_key(&self, kid: &str) -> Result<bool, StoreError>;

    /// Replaces the stored private key of `kid` by `sealed` (its encrypted form), if it still
    /// is `plain`; whether it was replaced (a replica may have sealed it first).
    ///
    /// # Errors
    /// When the store fails.
    async fn seal_signing_key(
        &self,
        kid: &str,
        plain: &SecretString,
        sealed: &SecretString,
    ) -> Result<bool, StoreError>;
}
