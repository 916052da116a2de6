//! Middleware: a request body cap, security headers, and an access log that never records query
//! strings (they carry authorization codes and states).

use std::net::IpAddr;
use std::time::Instant;

use poem::http::{HeaderValue, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument as _;

use crate::config::TrustedProxies;
use crate::http::error::{Problem, ProblemCode};
use crate::http::problems::{BadBody, BadParameter, CrossSiteRequest};
use crate::http::security::{HOST_SESSION_COOKIE, SESSION_COOKIE};

/// Reads the body of operations that take one, refusing it with 413 when larger than the limit
/// (announced by `Content-Length` or not); any other request's body is never read.
pub struct BodyLimit {
    pub limit: usize,
    pub routes: RouteTemplates,
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: usize,
    routes: RouteTemplates,
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint { inner, limit: self.limit, routes: self.routes.clone() }
    }
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        if !self.routes.takes_body(&self.routes.of(req.uri().path()), req.method().as_str()) {
            req.set_body(Body::empty());
            return self.inner.call(req).await;
        }
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| len > self.limit as u64) {
            return Err(Problem::from(BadBody::TooLarge(self.limit)).into());
        }
        let body = req.take_body();
        let bytes = body.into_bytes_limit(self.limit).await.map_err(|e| {
            let refused = match e {
                poem::error::ReadBodyError::PayloadTooLarge => BadBody::TooLarge(self.limit),
                _ => BadBody::Invalid("the body could not be read to its end".to_owned()),
            };
            poem::Error::from(Problem::from(refused))
        })?;
        req.set_body(Body::from(bytes));
        self.inner.call(req).await
    }
}

/// Refuses cross-site state-changing requests authenticated by the session cookie: a request
/// other than GET/HEAD/OPTIONS that carries the session cookie and no bearer token passes only
/// with `Sec-Fetch-Site: same-origin` or an `Origin` equal to the public origin (scheme, host
/// and port); with neither it is 403 `cross_site_request`. Logging in and refreshing do not use
/// the cookie.
pub struct CookieCsrfGuard {
    /// `https://codex.example.com`, as `Origin` headers spell it.
    pub public_origin: String,
}

pub struct CookieCsrfGuardEndpoint<E> {
    inner: E,
    public_origin: String,
}

impl<E: Endpoint> Middleware<E> for CookieCsrfGuard {
    type Output = CookieCsrfGuardEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CookieCsrfGuardEndpoint { inner, public_origin: self.public_origin.clone() }
    }
}

/// Only a bearer token stands in for the cookie (a browser may add cached Basic credentials to a
/// cross-site request by itself).
fn has_bearer_token(req: &Request) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
}

fn has_session_cookie(req: &Request) -> bool {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim_start)
        .any(|pair| {
            pair.starts_with(&format!("{SESSION_COOKIE}="))
                || pair.starts_with(&format!("{HOST_SESSION_COOKIE}="))
        })
}

/// The route that begins linking a provider account to the signed-in user.
const LINK_PATH: &str = "/auth/oidc/link";

fn is_cross_site_cookie_request(req: &Request, public_origin: &str) -> bool {
    use poem::http::Method;
    // Beginning to link a provider account changes the account too: a page on another site
    // must not start it in the user's browser (it could link an identity of its choosing).
    let link = req.uri().path() == LINK_PATH;
    if (!link && matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS))
        || has_bearer_token(req)
        || matches!(req.uri().path(), "/auth/login" | "/auth/refresh")
        || !has_session_cookie(req)
    {
        return false;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    // A navigation the user made themselves (typed, bookmarked) says `none`.
    let same_origin = header("sec-fetch-site").is_some_and(|v| {
        v.eq_ignore_ascii_case("same-origin") || (link && v.eq_ignore_ascii_case("none"))
    }) || header("origin")
        .is_some_and(|origin| origin.eq_ignore_ascii_case(public_origin));
    !same_origin
}

impl<E: Endpoint> Endpoint for CookieCsrfGuardEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if is_cross_site_cookie_request(&req, &self.public_origin) {
            return Err(Problem::from(CrossSiteRequest).into());
        }
        self.inner.call(req).await
    }
}

/// The content security policy of API responses: nothing may load, nothing may frame them.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI's: its own inline script and styles, the document from this origin, and nothing
/// else.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// `Strict-Transport-Security` when the public origin is https.
pub const HSTS: &str = "max-age=31536000";

/// Headers every response carries; HSTS when the public origin is https.
pub struct SecurityHeaders {
    pub https: bool,
}

pub struct SecurityHeadersEndpoint<E> {
    inner: E,
    https: bool,
}

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SecurityHeadersEndpoint { inner, https: self.https }
    }
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let is_docs = req.uri().path().starts_with("/docs");
        let mut response = self.inner.call(req).await?.into_response();
        let headers = response.headers_mut();
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        let csp = if is_docs { DOCS_CSP } else { API_CSP };
        headers.insert("content-security-policy", HeaderValue::from_static(csp));
        if self.https {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
        }
        if !is_docs {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Ok(response)
    }
}

/// Swagger UI's page (about 1.7 MB, compressed by the layer inside this one when the client
/// accepts it) revalidated instead of fetched again: `Cache-Control: no-cache`, a weak `ETag` of
/// the bytes as sent (so each encoding has its own), `Vary: Accept-Encoding`, and 304 Not
/// Modified, without a body or content headers, for an `If-None-Match` that names it. The tag of
/// each `Accept-Encoding` seen is remembered, so a 304 costs neither rendering nor compression.
#[derive(Default)]
pub struct DocsValidators;

pub struct DocsValidatorsEndpoint<E> {
    inner: E,
    /// `Accept-Encoding` as sent → the tag of the answer it got (a few entries at most).
    tags: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// How many `Accept-Encoding` variants keep their tag (any more start the memory over).
const DOCS_TAGS: usize = 32;

impl<E: Endpoint> Middleware<E> for DocsValidators {
    type Output = DocsValidatorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        DocsValidatorsEndpoint { inner, tags: Default::default() }
    }
}

impl<E> DocsValidatorsEndpoint<E> {
    fn tags(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.tags.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A 304 for `tag`: validators and caching headers only.
fn not_modified(tag: &str) -> Response {
    let mut response = Response::builder().status(poem::http::StatusCode::NOT_MODIFIED).finish();
    let headers = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

fn names_tag(if_none_match: Option<&str>, tag: &str) -> bool {
    if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
}

impl<E: Endpoint> Endpoint for DocsValidatorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let header_text =
            |name| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let wanted = header_text(header::IF_NONE_MATCH);
        let encoding = header_text(header::ACCEPT_ENCODING).unwrap_or_default();
        let known = self.tags().get(&encoding).cloned();
        let reads = matches!(*req.method(), poem::http::Method::GET | poem::http::Method::HEAD);
        if let Some(tag) = known.filter(|tag| reads && names_tag(wanted.as_deref(), tag)) {
            return Ok(not_modified(&tag));
        }
        let response = self.inner.call(req).await?.into_response();
        if response.status() != poem::http::StatusCode::OK {
            return Ok(response);
        }
        let (mut parts, body) = response.into_parts();
        let bytes = body.into_bytes().await?;
        let tag = format!("W/\"{:016x}\"", fnv1a(&bytes));
        {
            let mut tags = self.tags();
            if tags.len() >= DOCS_TAGS {
                tags.clear();
            }
            tags.insert(encoding, tag.clone());
        }
        if names_tag(wanted.as_deref(), &tag) {
            return Ok(not_modified(&tag));
        }
        if let Ok(value) = HeaderValue::from_str(&tag) {
            parts.headers.insert(header::ETAG, value);
        }
        parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        parts.headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        Ok(Response::from_parts(parts, Body::from(bytes)))
    }
}

/// FNV-1a (64 bits): a content tag that is the same on every replica and build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A panic in a handler becomes an opaque 500 problem (and a log line), never a dropped connection.
#[derive(Clone)]
pub struct PanicToProblem;

impl poem::middleware::PanicHandler for PanicToProblem {
    type Response = Response;

    fn get_response(&self, _panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
        Problem::internal(&"a request handler panicked").response()
    }
}

/// The route templates of the API (`/admin/users/{user_id}`), for logs and metrics: a path is
/// named by its template, never by itself, so ids stay out of labels.
#[derive(Clone, Debug, Default)]
pub struct RouteTemplates {
    templates: Vec<Vec<String>>,
    /// The methods of each template, as an `Allow` header value.
    allowed: std::collections::HashMap<String, String>,
    /// The operations that take a request body: (template, method in upper case).
    bodies: std::collections::HashSet<(String, String)>,
}

impl RouteTemplates {
    /// From the paths of an OpenAPI document.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let split = |path: &str| path.split('/').map(str::to_owned).collect();
        Self {
            templates: paths.into_iter().map(split).collect(),
            allowed: Default::default(),
            bodies: Default::default(),
        }
    }

    /// With the operations that take a request body: (template, method).
    pub fn with_bodies<'a>(mut self, bodies: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let bodies = bodies.into_iter().map(|(t, m)| (t.to_owned(), m.to_ascii_uppercase()));
        self.bodies.extend(bodies);
        self
    }

    /// Whether the operation `method` on `template` reads a request body.
    pub fn takes_body(&self, template: &str, method: &str) -> bool {
        self.bodies.iter().any(|(t, m)| t == template && m == method)
    }

    /// With the methods each template answers (for `Allow` on 405 answers).
    pub fn with_methods<'a>(routes: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> Self {
        let routes: Vec<(&str, Vec<String>)> = routes.into_iter().collect();
        let mut templates = Self::new(routes.iter().map(|(path, _)| *path));
        for (path, methods) in routes {
            let mut methods: Vec<String> = methods.iter().map(|m| m.to_ascii_uppercase()).collect();
            // The router answers HEAD wherever it answers GET.
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".to_owned());
            }
            methods.sort();
            templates.allowed.insert(path.to_owned(), methods.join(", "));
        }
        templates
    }

    /// The `Allow` value of a template: its methods.
    pub fn allow(&self, template: &str) -> Option<&str> {
        self.allowed.get(template).map(String::as_str)
    }

    /// The template `path` matches (literal segments preferred over parameters), `/docs` for
    /// Swagger UI, or `unmatched`.
    pub fn of(&self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        let literal_matches = |template: &Vec<String>| -> Option<usize> {
            if template.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (t, s) in template.iter().zip(&segments) {
                if t.starts_with('{') && t.ends_with('}') && !s.is_empty() {
                    continue;
                }
                if t != s {
                    return None;
                }
                literal += 1;
            }
            Some(literal)
        };
        let best = self
            .templates
            .iter()
            .filter_map(|t| Some((literal_matches(t)?, t)))
            .max_by_key(|m| m.0);
        match best {
            Some((_, template)) => template.join("/"),
            None if path == "/openapi.json" => path.to_owned(),
            None if path == "/docs" || path.starts_with("/docs/") => "/docs".to_owned(),
            None => "unmatched".to_owned(),
        }
    }
}

/// The request id header: a valid incoming one is kept, otherwise one is made.
pub const REQUEST_ID: &str = "x-request-id";

/// An incoming request id is kept when it is 1 to 128 characters of letters, digits and
/// `-_.:`; anything else is replaced (it would otherwise reach the logs as the client wrote it).
fn request_id(req: &Request) -> String {
    let valid = |id: &&str| {
        (1..=128).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(valid)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Gives each request an id (kept from a valid `X-Request-Id`, else new), returned in the
/// response header and carried with the method, the route template and, once known, the user id
/// by every log line of the request (a `request` span); ends with one access-log line with the
/// status and latency. Query strings are never logged.
pub struct AccessLog {
    pub routes: RouteTemplates,
}

pub struct AccessLogEndpoint<E> {
    inner: E,
    routes: RouteTemplates,
}

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AccessLogEndpoint { inner, routes: self.routes.clone() }
    }
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let id = request_id(&req);
        let route = self.routes.of(req.uri().path());
        let method = req.method().clone();
        // At ERROR level, so that the span (and its id) is there whatever level lines pass.
        let span = tracing::error_span!(
            "request",
            request_id = %id,
            method = %method,
            route = %route,
            user_id = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self.inner.call(req).instrument(span.clone()).await;
        let mut response = match result {
            Ok(response) => response.into_response(),
            Err(error) => error.into_response(),
        };
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        // RFC 9110 §15.5.6: a 405 says which methods the resource answers.
        if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.routes.allow(&route)
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        let status = response.status().as_u16();
        let elapsed = started.elapsed().as_secs_f64();
        let code = response.extensions().get::<ProblemCode>().map(|c| c.0.as_str());
        crate::metrics::record_request(&route, method.as_str(), status, elapsed, code);
        let elapsed_ms = elapsed * 1000.0;
        span.in_scope(|| match &code {
            Some(code) => tracing::info!(status, code, elapsed_ms, "request"),
            None => tracing::info!(status, elapsed_ms, "request"),
        });
        Ok(response)
    }
}

/// Names the authenticated user on the request's log lines.
pub fn record_user(user: impl std::fmt::Display) {
    tracing::Span::current().record("user_id", tracing::field::display(user));
}

/// CORS (the Fetch standard) for the configured origins only: a preflight (`OPTIONS` with
/// `Access-Control-Request-Method`) from one of them is answered here with 204 and what it may
/// do; its other requests get `Access-Control-Allow-Origin` (and `-Allow-Credentials` when
/// configured) on their answers. Requests from any other origin, or none, pass through without a
/// CORS header, so the browser keeps their answers from the page. Every answer varies on
/// `Origin` while origins are configured.
pub struct Cors {
    pub origins: Vec<String>,
    pub credentials: bool,
}

pub struct CorsEndpoint<E> {
    inner: E,
    origins: std::collections::HashSet<String>,
    credentials: bool,
}

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        let origins = self.origins.iter().cloned().collect();
        CorsEndpoint { inner, origins, credentials: self.credentials }
    }
}

/// The methods the API answers, for preflights.
const CORS_METHODS: &str = "GET, POST, DELETE";
/// The request headers a page may send (besides the CORS-safelisted ones).
const CORS_REQUEST_HEADERS: [&str; 3] = ["authorization", "content-type", "x-request-id"];
/// The response headers a page may read (besides the CORS-safelisted ones).
const CORS_EXPOSED_HEADERS: &str = "retry-after, www-authenticate, x-request-id";
/// How long a browser may cache a preflight, in seconds.
const CORS_MAX_AGE: &str = "600";

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        if self.origins.is_empty() {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|origin| self.origins.contains(*origin))
            .map(str::to_owned);
        let preflight = req.method() == poem::http::Method::OPTIONS
            && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let mut response = match (&origin, preflight) {
            (Some(_), true) => self.preflight(&req),
            _ => match self.inner.call(req).await {
                Ok(response) => response.into_response(),
                Err(error) => error.into_response(),
            },
        };
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if self.credentials {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
            if !preflight {
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(CORS_EXPOSED_HEADERS),
                );
            }
        }
        Ok(response)
    }
}

impl<E> CorsEndpoint<E> {
    /// 204 with the methods and headers a page of an allowed origin may use; a request for a
    /// header outside them gets none of them allowed, so the browser stops there.
    fn preflight(&self, req: &Request) -> Response {
        let requested = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let requested: Vec<&str> =
            requested.split(',').map(str::trim).filter(|h| !h.is_empty()).collect();
        let mut response = Response::builder()
            .status(poem::http::StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS)
            .header(header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE)
            .finish();
        if requested.iter().all(|h| CORS_REQUEST_HEADERS.contains(h)) {
            response.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, x-request-id"),
            );
        }
        let vary = "Access-Control-Request-Method, Access-Control-Request-Headers";
        response.headers_mut().append(header::VARY, HeaderValue::from_static(vary));
        response
    }
}

/// The client's address, as the throttles and the audit trail see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The socket peer, or, only when the peer is a trusted proxy, the right-most address of
    /// `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn of(req: &Request, trusted: &TrustedProxies) -> Self {
        let peer = match req.remote_addr().0 {
            poem::Addr::SocketAddr(address) => Some(address.ip()),
            _ => None,
        };
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        Self(resolve(peer, &forwarded, trusted))
    }
}

/// Walks `X-Forwarded-For` from the right, skipping trusted proxies; the first other entry is
/// the client. An entry that is not an address stops the walk (anything left of it could be
/// forged): the last trusted hop stands for the client then.
fn resolve(peer: Option<IpAddr>, forwarded: &[&str], trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        match parse_forwarded(entry) {
            Some(address) if trusted.contains(address) => client = address,
            Some(address) => return Some(address),
            None => break,
        }
    }
    Some(client)
}

/// What every handler may need to know about the request being handled, besides its own
/// parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's address (see `ClientAddress`).
    pub client: Option<IpAddr>,
    /// Whether the public origin is https (cookies carry `__Host-` names).
    pub secure_cookies: bool,
}

tokio::task_local! {
    /// The context of the request being handled (set by `RequestContexts`).
    static REQUEST_CONTEXT: RequestContext;
}

impl RequestContext {
    /// The context of the request being handled (the default outside one).
    pub fn current() -> Self {
        REQUEST_CONTEXT.try_with(|context| *context).unwrap_or_default()
    }
}

impl ClientAddress {
    /// The address of the client of the request being handled, if known.
    pub fn current() -> Option<IpAddr> {
        RequestContext::current().client
    }
}

/// Works out the `RequestContext` of each request, for the handlers to read with
/// `RequestContext::current`.
pub struct RequestContexts {
    pub trusted_proxies: TrustedProxies,
    pub secure_cookies: bool,
}

pub struct RequestContextsEndpoint<E> {
    inner: E,
    trusted: TrustedProxies,
    secure_cookies: bool,
}

impl<E: Endpoint> Middleware<E> for RequestContexts {
    type Output = RequestContextsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestContextsEndpoint {
            inner,
            trusted: self.trusted_proxies.clone(),
            secure_cookies: self.secure_cookies,
        }
    }
}

impl<E: Endpoint> Endpoint for RequestContextsEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let client = ClientAddress::of(&req, &self.trusted).0;
        let context = RequestContext { client, secure_cookies: self.secure_cookies };
        REQUEST_CONTEXT.scope(context, self.inner.call(req)).await
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry.parse().ok().or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// Parameter errors in the words of the document: the name it gives the parameter
/// (`user_id`, never the router's `param0`) and what it must be, never a parser's internals.
pub struct PlainParameterErrors {
    pub routes: RouteTemplates,
}

impl<E: Endpoint> Middleware<E> for PlainParameterErrors {
    type Output = PlainParameterErrorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        PlainParameterErrorsEndpoint { inner, routes: self.routes.clone() }
    }
}

pub struct PlainParameterErrorsEndpoint<E> {
    inner: E,
    routes: RouteTemplates,
}

impl<E: Endpoint> Endpoint for PlainParameterErrorsEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let path = req.uri().path().to_owned();
        let error = match self.inner.call(req).await {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        let (name, reason) =
            if let Some(e) = error.downcast_ref::<poem_openapi::error::ParsePathError>() {
                // Path parameters are extracted as `param0`, `param1`, … in template order.
                let index = e.name.strip_prefix("param").and_then(|n| n.parse::<usize>().ok());
                let template = self.routes.of(&path);
                let names: Vec<&str> = template
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                    .collect();
                let name = index.and_then(|i| names.get(i).copied()).unwrap_or(e.name).to_owned();
                (name, e.reason.clone())
            } else if let Some(e) = error.downcast_ref::<poem_openapi::error::ParseParamError>() {
                (e.name.to_owned(), e.reason.clone())
            } else {
                return Err(error);
            };
        let detail = format!("`{name}` {}", plain_parameter_reason(&reason));
        Err(Problem::from(BadParameter(detail)).into())
    }
}

/// What a parameter must be, from the parser's reason for refusing it.
fn plain_parameter_reason(reason: &str) -> String {
    let bound = |kind: &str| {
        let rest = reason.split(&format!("{kind}(")).nth(1)?;
        rest.split([',', ')']).next().map(str::trim).map(str::to_owned)
    };
    if reason.contains("expects an input value") {
        "is required".to_owned()
    } else if let Some(max) = bound("maximum") {
        format!("must be at most {max}")
    } else if let Some(min) = bound("minimum") {
        format!("must be at least {min}")
    } else if reason.contains("uuid") {
        "must be a UUID".to_owned()
    } else if reason.contains("uint") {
        "must be a whole number, 0 or more".to_owned()
    } else if reason.contains("integer") {
        "must be a whole number".to_owned()
    } else if reason.contains("boolean") {
        "must be true or false".to_owned()
    } else {
        "is not valid".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(peer: &str, forwarded: &[&str], trusted: &str) -> Option<IpAddr> {
        let trusted = TrustedProxies::parse(trusted).unwrap_or_default();
        resolve(peer.parse().ok(), forwarded, &trusted)
    }

    fn ip(raw: &str) -> Option<IpAddr> {
        raw.parse().ok()
    }

    #[test]
    fn a_path_is_named_by_its_template_literal_segments_first() {
        let routes = RouteTemplates::new([
            "/admin/users/{user_id}",
            "/admin/users/{user_id}/identities",
            "/auth/sessions/{session_id}",
            "/auth/sessions/current",
            "/auth/me",
        ]);
        let id = "0b6f8a3e-2d7c-4a51-9a0e-3f1c2b4d5e6f";
        assert_eq!(routes.of(&format!("/admin/users/{id}")), "/admin/users/{user_id}");
        assert_eq!(
            routes.of(&format!("/admin/users/{id}/identities")),
            "/admin/users/{user_id}/identities"
        );
        assert_eq!(routes.of("/auth/sessions/current"), "/auth/sessions/current");
        assert_eq!(routes.of("/auth/sessions/abc"), "/auth/sessions/{session_id}");
        assert_eq!(routes.of("/auth/me"), "/auth/me");
        assert_eq!(routes.of("/admin/users/"), "unmatched", "an empty parameter is no match");
        assert_eq!(routes.of("/docs/index.css"), "/docs");
        assert_eq!(routes.of("/openapi.json"), "/openapi.json");
        assert_eq!(routes.of("/wp-login.php"), "unmatched", "no path becomes a label");
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        assert_eq!(client("192.0.2.1", &["203.0.113.7"], ""), ip("192.0.2.1"));
        assert_eq!(client("10.0.0.1", &["203.0.113.7"], "10.0.0.0/8"), ip("203.0.113.7"));
    }

    #[test]
    fn the_right_most_untrusted_forwarded_address_is_the_client() {
        let forwarded = ["198.51.100.9", "203.0.113.7", "10.0.0.2"];
        assert_eq!(client("10.0.0.1", &forwarded, "10.0.0.0/8"), ip("203.0.113.7"));
        assert_eq!(client("10.0.0.1", &["203.0.113.7:4711"], "10.0.0.0/8"), ip("203.0.113.7"));
        assert_eq!(client("10.0.0.1", &["[2001:db8::1]:80"], "10.0.0.0/8"), ip("2001:db8::1"));
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_the_walk_at_the_last_trusted_hop() {
        let forwarded = ["203.0.113.7", "unknown", "10.0.0.2"];
        assert_eq!(client("10.0.0.1", &forwarded, "10.0.0.0/8"), ip("10.0.0.2"));
        assert_eq!(client("10.0.0.1", &[], "10.0.0.0/8"), ip("10.0.0.1"));
    }
}
