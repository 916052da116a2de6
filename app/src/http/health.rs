//! Liveness and readiness.

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use codex_cloud_core::service::ReadinessCheck;

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
    pub readiness: ReadinessCheck,
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
        self.readiness.check().await?;
        Ok(Json(Health { status: "ready".to_owned() }))
    }
}
