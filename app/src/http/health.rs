//! Liveness and readiness.

use crate::http::json::Json;
use crate::http::problems::NotReadyAnonymously;
use codex_cloud_core::service::NotReady;
use poem_openapi::{Object, OpenApi};

use codex_cloud_core::service::{Auth, ReadinessCheck};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::middleware::RequestContext;

#[derive(Debug, Object)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
}

error_set!(ReadyProblem: NotReady, NotReadyAnonymously);

pub struct HealthApi {
    pub readiness: ReadinessCheck,
    pub auth: Auth,
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
    async fn readyz(&self, req: &poem::Request) -> Result<Json<Health>, ApiError<ReadyProblem>> {
        let Err(not_ready) = self.readiness.check().await else {
            return Ok(Json(Health { status: "ready".to_owned() }));
        };
        // The reason is for operators: the log, and administrators' tokens.
        if self.is_admin(req).await {
            return Err(not_ready.into());
        }
        Err(NotReadyAnonymously.into())
    }
}

impl HealthApi {
    /// Whether the request carries an administrator's bearer token.
    async fn is_admin(&self, req: &poem::Request) -> bool {
        let token = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        let Some(token) = token else { return false };
        let principal = self.auth.authenticate_token(token, RequestContext::current().client).await;
        principal.is_ok_and(|p| p.admin().is_ok())
    }
}
