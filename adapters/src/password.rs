//! Argon2id password hashing on the blocking pool, with bounded concurrency.

use std::sync::Arc;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use async_trait::async_trait;
use tokio::sync::Semaphore;

use codex_cloud_core::domain::{Password, PasswordHash};
use codex_cloud_core::ports::{PasswordHasher, PasswordHasherError};

/// Argon2id with the crate defaults: m=19456 KiB, t=2, p=1 (OWASP's recommended minimum).
///
/// Each hash takes ~19 MiB for tens of milliseconds, so at most `max_concurrent` run at once;
/// further callers wait for a permit instead of exhausting memory.
#[derive(Clone)]
pub struct Argon2PasswordHasher {
    permits: Arc<Semaphore>,
    dummy: Arc<str>,
}

impl Argon2PasswordHasher {
    pub fn new(max_concurrent: usize) -> Result<Self, PasswordHasherError> {
        let dummy = Argon2::default()
            .hash_password(b"codex dummy password for unknown users")
            .map_err(|e| PasswordHasherError::Internal(e.to_string().into()))?
            .to_string();
        Ok(Self { permits: Arc::new(Semaphore::new(max_concurrent.max(1))), dummy: dummy.into() })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordHasherError> {
        let internal = |e: String| PasswordHasherError::Internal(e.into());
        // The permit moves into the blocking job: if the caller goes away (a client hanging
        // up), the hash still counts against the limit until it really ends.
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|e| internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| internal(e.to_string()))
    }
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHasherError> {
        let password = password.clone();
        let phc = self
            .run(move || Argon2::default().hash_password(password.expose().as_bytes()))
            .await?
            .map_err(|e| PasswordHasherError::Internal(e.to_string().into()))?;
        Ok(PasswordHash::new(phc.to_string()))
    }

    async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, PasswordHasherError> {
        let password = password.clone();
        let known = hash.is_some();
        let phc = hash.map_or_else(|| self.dummy.to_string(), |h| h.as_str().to_owned());
        self.run(move || {
            let Ok(parsed) = argon2::PasswordHash::new(&phc) else {
                return false;
            };
            let matches =
                Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok();
            matches && known
        })
        .await
    }

    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else {
            return true;
        };
        let Ok(params) = argon2::Params::try_from(&parsed) else {
            return true;
        };
        let wanted = argon2::Params::default();
        parsed.algorithm != argon2::Algorithm::Argon2id.ident()
            || params.m_cost() < wanted.m_cost()
            || params.t_cost() < wanted.t_cost()
            || params.p_cost() < wanted.p_cost()
    }
}
