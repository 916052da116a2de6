//! Liveness and readiness.

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use codex_cloud_core::service::{Auth, ReadinessCheck};

use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::middleware::RequestContext;
use crate::statuses;

#[derive(Debug, Object)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: String,
}

statuses!(ReadyErrors:
    503 "Not ready: the database or the identity provider cannot be used (`not_ready`); the reason is in `detail` for administrators' bearer tokens only.",
);

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
    async fn readyz(&self, req: &poem::Request) -> Result<Json<Health>, ApiError<ReadyErrors>> {
        let Err(not_ready) = self.readiness.check().await else {
            return Ok(Json(Health { status: "ready".to_owned() }));
        };
        // The reason is for operators: the log, and administrators' tokens.
        let problem = crate::http::error::Problem::from(not_ready);
        if self.is_admin(req).await {
            return Err(problem.into());
        }
        Err(crate::http::problems::not_ready_anonymously().into())
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
