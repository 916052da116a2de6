//! The HTTP layer: poem-openapi operations (thin: parse → use case → map), the OpenAPI document
//! and Swagger UI, and the middleware every request passes through.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod error;
pub mod health;
pub mod identities;
pub mod invitations;
pub mod json;
pub mod keys;
pub mod middleware;
pub mod oidc;
pub mod problems;
pub mod security;
pub mod sessions;

use std::collections::HashMap;
use std::marker::PhantomData;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::middleware::{CatchPanic, CookieJarManager};
use poem::web::CompressionAlgo;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::registry::{MetaApi, Registry};
use poem_openapi::{OpenApi, OpenApiService, Tags};

use crate::bootstrap::Services;

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

type Apis = (
    auth::AuthApi,
    sessions::SessionsApi,
    oidc::OidcApi,
    identities::IdentitiesApi,
    audit::AuditApi,
    admin::AdminApi,
    invitations::InvitationsApi,
    health::HealthApi,
    keys::KeysApi,
);

/// The documented API over these services.
pub fn api(services: Services) -> OpenApiService<Apis, ()> {
    let apis = (
        auth::AuthApi { auth: services.auth.clone(), secure_cookies: services.secure_cookies },
        sessions::SessionsApi { auth: services.auth.clone() },
        oidc::OidcApi {
            auth: services.auth.clone(),
            oidc: services.oidc,
            secure_cookies: services.secure_cookies,
        },
        identities::IdentitiesApi { auth: services.auth.clone(), links: services.links.clone() },
        audit::AuditApi { auth: services.auth.clone(), accounts: services.accounts.clone() },
        admin::AdminApi {
            auth: services.auth.clone(),
            accounts: services.accounts,
            links: services.links,
        },
        invitations::InvitationsApi {
            auth: services.auth.clone(),
            invitations: services.invitations,
        },
        health::HealthApi { readiness: services.readiness, auth: services.auth.clone() },
        keys::KeysApi { auth: services.auth },
    );
    describe(OpenApiService::new(apis, TITLE, env!("CARGO_PKG_VERSION")))
}

/// The OpenAPI document (JSON), without any service behind it: no database, no keys.
pub fn document() -> String {
    let service: OpenApiService<DocumentOnly<Apis>, ()> =
        OpenApiService::new(DocumentOnly(PhantomData), TITLE, env!("CARGO_PKG_VERSION"));
    describe(service).spec()
}

const TITLE: &str = "Codex Cloud Backend";

fn describe<T: OpenApi>(service: OpenApiService<T, ()>) -> OpenApiService<T, ()> {
    service.description(
        "Authenticates Codex Cloud users locally (e-mail and password) or through an external \
             OpenID Connect provider, and issues Codex sessions and access tokens. Errors are \
             RFC 9457 `application/problem+json` documents with a stable `code`. Every response \
             carries `X-Request-Id` (the request's own when valid: 1 to 128 letters, digits and \
             `-_.:`; otherwise a new one), which the server's log lines name. Pages on other \
             origins may read answers only from the origins the operator allows (CORS; none by \
             default).",
    )
}

/// The route templates of every operation, read from the document once.
fn route_templates() -> middleware::RouteTemplates {
    static TEMPLATES: std::sync::OnceLock<middleware::RouteTemplates> = std::sync::OnceLock::new();
    TEMPLATES
        .get_or_init(|| {
            let document: serde_json::Value = serde_json::from_str(&document()).unwrap_or_default();
            let Some(paths) = document["paths"].as_object() else {
                return middleware::RouteTemplates::default();
            };
            let routes = paths.iter().map(|(path, operations)| {
                let methods = operations.as_object().map(|o| o.keys().cloned().collect());
                (path.as_str(), methods.unwrap_or_default())
            });
            middleware::RouteTemplates::with_methods(routes)
        })
        .clone()
}

/// The operations of `T` for the document only: it describes them and routes nothing.
struct DocumentOnly<T>(PhantomData<T>);

impl<T: OpenApi> OpenApi for DocumentOnly<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, _routes: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {}
}

/// The whole HTTP service: the API, `/openapi.json`, `/docs`, and the middleware.
pub fn endpoint(services: Services) -> impl Endpoint + use<> {
    let trusted_proxies = services.trusted_proxies.clone();
    let (public_origin, secure_cookies) = (services.public_origin.clone(), services.secure_cookies);
    let (cors_origins, cors_credentials) =
        (services.cors_allowed_origins.clone(), services.cors_allow_credentials);
    let api = api(services);
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    Route::new()
        .at("/openapi.json", spec)
        .nest(
            "/docs",
            docs.with(
                // poem misreads `zstd` in Accept-Encoding: the other three only.
                poem::middleware::Compression::new().algorithms([
                    CompressionAlgo::BR,
                    CompressionAlgo::GZIP,
                    CompressionAlgo::DEFLATE,
                ]),
            )
            .with(middleware::DocsValidators),
        )
        .nest("/", api.with(middleware::PlainParameterErrors { routes: route_templates() }))
        .with(middleware::BodyLimit(MAX_BODY_BYTES))
        .with(middleware::CookieCsrfGuard { public_origin })
        .with(middleware::RequestContexts { trusted_proxies, secure_cookies })
        .catch_all_error(|e| async move { error::problem_for(e) })
        .with(middleware::SecurityHeaders { https: secure_cookies })
        .with(CookieJarManager::new())
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .with(middleware::Cors { origins: cors_origins, credentials: cors_credentials })
        .with(middleware::AccessLog { routes: route_templates() })
}
