//! Liveness and readiness.

use std::sync::Arc;

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use codex_cloud_core::ports::{IdentityStore, OidcProvider, ProviderStatus};

use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::statuses;

#[derive(Debug, Object)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
}

statuses!(ReadyErrors:
    503 "Not ready: the database or the identity provider cannot be used (`not_ready`).",
);

pub struct HealthApi {
    pub store: Arc<dyn IdentityStore>,
    pub provider: Option<Arc<dyn OidcProvider>>,
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness: the process is up
    #[oai(path = "/healthz", method = "get", operation_id = "health")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health { status: "ok".to_owned() })
    }

    /// Readiness: the database is reachable and, when OpenID Connect is on, the provider is discovered
    #[oai(path = "/readyz", method = "get", operation_id = "ready")]
    async fn readyz(&self) -> Result<Json<Health>, ApiError<ReadyErrors>> {
        let not_ready = |why: String| ApiError::from(crate::http::problems::not_ready(why));
        if let Err(e) = self.store.ping().await {
            tracing::warn!(error = %e, "readiness: database unreachable");
            return Err(not_ready("the database is unreachable".to_owned()));
        }
        match self.provider.as_ref().map(|p| p.status()) {
            None | Some(ProviderStatus::Ready) => Ok(Json(Health { status: "ready".to_owned() })),
            Some(ProviderStatus::Unavailable(why)) => {
                Err(not_ready(format!("the identity provider is unavailable: {why}")))
            }
            Some(ProviderStatus::Misconfigured(why)) => {
                Err(not_ready(format!("the identity provider is misconfigured: {why}")))
            }
        }
    }
}
