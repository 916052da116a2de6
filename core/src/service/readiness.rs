//! Whether this process can serve: its store answers and, with OpenID Connect on, the provider
//! has been discovered and trusted.

use std::sync::Arc;

use crate::ports::{OidcProvider, ProviderStatus, Readiness, StoreError};

/// Why the process is not ready, for operators.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database is unreachable")]
    Database(#[source] StoreError),
    #[error("the identity provider is unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("the identity provider is misconfigured: {0}")]
    ProviderMisconfigured(String),
}

#[derive(Clone)]
pub struct ReadinessCheck {
    store: Arc<dyn Readiness>,
    provider: Option<Arc<dyn OidcProvider>>,
}

impl ReadinessCheck {
    pub fn new(store: Arc<dyn Readiness>, provider: Option<Arc<dyn OidcProvider>>) -> Self {
        Self { store, provider }
    }

    /// # Errors
    /// `NotReady` with the reason.
    pub async fn check(&self) -> Result<(), NotReady> {
        self.store.ping().await.map_err(NotReady::Database)?;
        match self.provider.as_ref().map(|p| p.status()) {
            None | Some(ProviderStatus::Ready) => Ok(()),
            Some(ProviderStatus::Unavailable(why)) => Err(NotReady::ProviderUnavailable(why)),
            Some(ProviderStatus::Misconfigured(why)) => Err(NotReady::ProviderMisconfigured(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;

    use super::{NotReady, ReadinessCheck};
    use crate::ports::{Readiness, StoreError};

    struct Ping(bool);

    #[async_trait]
    impl Readiness for Ping {
        async fn ping(&self) -> Result<(), StoreError> {
            if self.0 { Ok(()) } else { Err(StoreError::new("down")) }
        }
    }

    #[tokio::test]
    async fn ready_follows_the_store_when_no_provider_is_configured() {
        assert!(ReadinessCheck::new(Arc::new(Ping(true)), None).check().await.is_ok());
        let down = ReadinessCheck::new(Arc::new(Ping(false)), None).check().await;
        assert!(matches!(down, Err(NotReady::Database(_))), "{down:?}");
    }
}
