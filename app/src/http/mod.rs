//! The HTTP layer: poem-openapi operations (thin: parse → use case → map), the OpenAPI document
//! and Swagger UI, and the middleware every request passes through.

pub mod admin;
pub mod auth;
pub mod error;
pub mod health;
pub mod keys;
mod middleware;
pub mod oidc;
pub(crate) mod problems;
pub mod security;

use std::sync::Arc;

use poem::middleware::{CatchPanic, CookieJarManager};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::{OpenApiService, Tags};

use codex_cloud_core::ports::{IdentityStore, OidcProvider};
use codex_cloud_core::service::{Auth, OidcLogin};

pub use keys::{Jwk, JwkSet};

/// Largest request body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Tags)]
pub enum ApiTags {
    /// Local login, sessions and the current user
    Auth,
    /// Login through the configured OpenID Connect provider
    Oidc,
    /// User and external identity administration (administrators only)
    Admin,
    /// Liveness and readiness
    Health,
    /// Public keys of Codex access tokens
    Keys,
}

/// Everything the HTTP layer needs, assembled by the composition root.
#[derive(Clone)]
pub struct HttpParts {
    pub auth: Auth,
    pub store: Arc<dyn IdentityStore>,
    pub oidc: Option<OidcLogin>,
    pub jwks: JwkSet,
    /// Whether cookies get the `Secure` attribute (the OpenID redirect URI is https).
    pub secure_cookies: bool,
}

type Apis = (auth::AuthApi, oidc::OidcApi, admin::AdminApi, health::HealthApi, keys::KeysApi);

/// The documented API.
pub fn api(parts: HttpParts) -> OpenApiService<Apis, ()> {
    let provider: Option<Arc<dyn OidcProvider>> = parts.oidc.as_ref().map(|o| o.provider().clone());
    let apis = (
        auth::AuthApi { auth: parts.auth.clone() },
        oidc::OidcApi { oidc: parts.oidc.clone(), secure_cookies: parts.secure_cookies },
        admin::AdminApi { auth: parts.auth.clone() },
        health::HealthApi { store: parts.store.clone(), provider },
        keys::KeysApi { jwks: parts.jwks.clone() },
    );
    OpenApiService::new(apis, "Codex Cloud Backend", env!("CARGO_PKG_VERSION")).description(
        "Authenticates Codex Cloud users locally (e-mail and password) or through an external \
             OpenID Connect provider, and issues Codex sessions and access tokens. Errors are \
             RFC 9457 `application/problem+json` documents with a stable `code`.",
    )
}

/// The whole HTTP service: the API, `/openapi.json`, `/docs`, and the middleware.
pub fn endpoint(parts: HttpParts) -> impl Endpoint + use<> {
    let api = api(parts);
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    Route::new()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", api)
        .with(middleware::BodyLimit(MAX_BODY_BYTES))
        .with(middleware::CookieCsrfGuard)
        .catch_all_error(|e| async move { error::problem_for(e) })
        .with(middleware::SecurityHeaders)
        .with(CookieJarManager::new())
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .with(middleware::AccessLog)
}
