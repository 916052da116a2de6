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
pub mod rules;
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

/// The OpenAPI document (JSON) for a server whose new passwords have at least
/// `password_min_chars` characters, without any service behind it: no database, no keys.
pub fn document(password_min_chars: usize) -> String {
    let service: OpenApiService<DocumentOnly<Apis>, ()> =
        OpenApiService::new(DocumentOnly(PhantomData), TITLE, env!("CARGO_PKG_VERSION"));
    finish(&describe(service).spec(), password_min_chars)
}

/// What poem-openapi's document leaves out or cannot know: that public operations need no
/// credentials (`security: []`), the server (this origin), the license, that request bodies
/// take no other fields, and the rules the use cases enforce on fields and parameters
/// (with the configured minimum length of new passwords).
fn finish(spec: &str, password_min_chars: usize) -> String {
    let Ok(mut document) = serde_json::from_str::<serde_json::Value>(spec) else {
        return spec.to_owned();
    };
    document["servers"] = serde_json::json!([{ "url": "/", "description": "This server" }]);
    document["info"]["license"] = serde_json::json!({
        "name": "Apache-2.0",
        "url": "https://www.apache.org/licenses/LICENSE-2.0",
    });
    if let Some(paths) = document["paths"].as_object_mut() {
        let parameter_rules = rules::parameters();
        let mut bodies = Vec::new();
        for operation in paths
            .values_mut()
            .filter_map(|p| p.as_object_mut())
            .flat_map(|p| p.values_mut().filter_map(|o| o.as_object_mut()))
        {
            operation.entry("security").or_insert_with(|| serde_json::json!([]));
            // A JSON answer poem-openapi leaves undescribed.
            for response in operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
                .into_iter()
                .flat_map(|r| r.values_mut())
            {
                if response["description"].as_str().is_some_and(str::is_empty) {
                    response["description"] = "Success.".into();
                }
            }
            for parameter in
                operation.get_mut("parameters").and_then(|p| p.as_array_mut()).into_iter().flatten()
            {
                let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                if let Some((_, keywords)) = parameter_rules.iter().find(|(n, _)| *n == name) {
                    merge(&mut parameter["schema"], keywords);
                }
            }
            let body = &operation.get("requestBody").map(|b| b["content"].clone());
            if let Some(schema) = body.as_ref().and_then(|c| {
                c[json::JSON_CONTENT_TYPE]["schema"]["$ref"].as_str().map(str::to_owned)
            }) {
                bodies.push(schema.trim_start_matches("#/components/schemas/").to_owned());
            }
        }
        for schema in bodies {
            document["components"]["schemas"][&schema]["additionalProperties"] = false.into();
        }
    }
    let fields = rules::body_fields(password_min_chars).into_iter().chain(rules::response_fields());
    for (schema, field, keywords) in fields {
        let property = &mut document["components"]["schemas"][schema]["properties"][field];
        if property.is_object() {
            merge(property, &keywords);
        }
    }
    serde_json::to_string_pretty(&document).unwrap_or_else(|_| spec.to_owned())
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

/// Adds `keywords` to a schema.
fn merge(schema: &mut serde_json::Value, keywords: &serde_json::Value) {
    if let (Some(schema), Some(keywords)) = (schema.as_object_mut(), keywords.as_object()) {
        schema.extend(keywords.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// The route templates of every operation, read from the document once.
fn route_templates() -> middleware::RouteTemplates {
    static TEMPLATES: std::sync::OnceLock<middleware::RouteTemplates> = std::sync::OnceLock::new();
    TEMPLATES
        .get_or_init(|| {
            let document: serde_json::Value =
                serde_json::from_str(&document(0)).unwrap_or_default();
            let Some(paths) = document["paths"].as_object() else {
                return middleware::RouteTemplates::default();
            };
            let routes = paths.iter().map(|(path, operations)| {
                let methods = operations.as_object().map(|o| o.keys().cloned().collect());
                (path.as_str(), methods.unwrap_or_default())
            });
            // The document and Swagger UI, outside the document.
            let described = ["/openapi.json", "/docs"].map(|p| (p, vec!["get".to_owned()]));
            let routes = routes.chain(described);
            let bodies = paths.iter().flat_map(|(path, operations)| {
                let operations = operations.as_object().into_iter().flatten();
                operations
                    .filter(|(_, operation)| operation.get("requestBody").is_some())
                    .map(move |(method, _)| (path.as_str(), method.as_str()))
            });
            middleware::RouteTemplates::with_methods(routes).with_bodies(bodies)
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
    let password_min_chars = services.password_min_chars;
    let api = api(services);
    let spec = api.spec();
    let document = finish(&spec, password_min_chars);
    // Swagger UI embeds the document as poem-openapi wrote it: it gets the finished one.
    let docs_html = api.swagger_ui_html().replacen(&spec, &document, 1);
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone()));
    debug_assert!(document.len() < 2 * spec.len(), "the finished document is the same one");
    let openapi_json = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type(json::JSON_CONTENT_TYPE).body(document.clone())
    });
    Route::new()
        .at("/openapi.json", poem::get(openapi_json))
        .nest(
            "/docs",
            Route::new()
                .at("/", poem::get(docs))
                .with(
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
        .with(middleware::BodyLimit { limit: MAX_BODY_BYTES, routes: route_templates() })
        .with(middleware::CookieCsrfGuard { public_origin })
        .with(middleware::RequestContexts { trusted_proxies, secure_cookies })
        .catch_all_error(|e| async move { error::problem_for(e) })
        .with(middleware::SecurityHeaders { https: secure_cookies })
        .with(CookieJarManager::new())
        .with(CatchPanic::new().with_handler(middleware::PanicToProblem))
        .with(middleware::Cors { origins: cors_origins, credentials: cors_credentials })
        .with(middleware::AccessLog { routes: route_templates() })
}
