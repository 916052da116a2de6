//! Middleware: a request body cap, security headers, and an access log that never records query
//! strings (they carry authorization codes and states).

use std::net::IpAddr;
use std::time::Instant;

use poem::http::{HeaderValue, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::config::TrustedProxies;
use crate::http::error::Problem;
use crate::http::problems;
use crate::http::security::SESSION_COOKIE;

/// Refuses bodies larger than the limit with 413, whether announced by `Content-Length` or not.
pub struct BodyLimit(pub usize);

pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: usize,
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint { inner, limit: self.0 }
    }
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| len > self.limit as u64) {
            return Err(problems::payload_too_large(self.limit).into());
        }
        let body = req.take_body();
        let bytes = body
            .into_bytes_limit(self.limit)
            .await
            .map_err(|_| poem::Error::from(problems::payload_too_large(self.limit)))?;
        req.set_body(Body::from(bytes));
        self.inner.call(req).await
    }
}

/// Refuses cross-site state-changing requests authenticated by the session cookie: a request
/// other than GET/HEAD/OPTIONS that carries `codex_session`, no `Authorization` header, and an
/// `Origin` whose host is not this server's `Host` gets 403 `cross_site_request`. (SameSite=Lax
/// already keeps the cookie off cross-site requests; this also covers sibling subdomains.)
pub struct CookieCsrfGuard;

pub struct CookieCsrfGuardEndpoint<E>(E);

impl<E: Endpoint> Middleware<E> for CookieCsrfGuard {
    type Output = CookieCsrfGuardEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CookieCsrfGuardEndpoint(inner)
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

fn is_cross_site_cookie_request(req: &Request) -> bool {
    use poem::http::Method;
    // Logging in and refreshing do not use the session cookie.
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || has_bearer_token(req)
        || matches!(req.uri().path(), "/auth/login" | "/auth/refresh")
    {
        return false;
    }
    let has_session_cookie = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim_start().starts_with(&format!("{SESSION_COOKIE}=")));
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    // HTTP/2 carries the authority in the URI instead of a Host header.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default();
    has_session_cookie && !origin_host.eq_ignore_ascii_case(host)
}

impl<E: Endpoint> Endpoint for CookieCsrfGuardEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if is_cross_site_cookie_request(&req) {
            return Err(problems::cross_site_request().into());
        }
        self.0.call(req).await
    }
}

/// Headers every response carries.
pub struct SecurityHeaders;

pub struct SecurityHeadersEndpoint<E>(E);

impl<E: Endpoint> Middleware<E> for SecurityHeaders {
    type Output = SecurityHeadersEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SecurityHeadersEndpoint(inner)
    }
}

impl<E: Endpoint> Endpoint for SecurityHeadersEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let is_docs = req.uri().path().starts_with("/docs");
        let mut response = self.0.call(req).await?.into_response();
        let headers = response.headers_mut();
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
        if !is_docs {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Ok(response)
    }
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

/// One log line per request: method, path (never the query), status, duration.
pub struct AccessLog;

pub struct AccessLogEndpoint<E>(E);

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AccessLogEndpoint(inner)
    }
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let started = Instant::now();
        let response = self.0.call(req).await.map(IntoResponse::into_response);
        let status = match &response {
            Ok(r) => r.status(),
            Err(e) => e.status(),
        };
        tracing::info!(
            %method,
            path,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
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

tokio::task_local! {
    /// The client address of the request being handled (set by `ClientAddresses`).
    static CLIENT_ADDRESS: ClientAddress;
}

impl ClientAddress {
    /// The address of the client of the request being handled, if known.
    pub fn current() -> Option<IpAddr> {
        CLIENT_ADDRESS.try_with(|address| address.0).ok().flatten()
    }
}

/// Works out the `ClientAddress` of each request, for the handlers to read with
/// `ClientAddress::current`.
pub struct ClientAddresses(pub TrustedProxies);

pub struct ClientAddressesEndpoint<E> {
    inner: E,
    trusted: TrustedProxies,
}

impl<E: Endpoint> Middleware<E> for ClientAddresses {
    type Output = ClientAddressesEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ClientAddressesEndpoint { inner, trusted: self.0.clone() }
    }
}

impl<E: Endpoint> Endpoint for ClientAddressesEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let address = ClientAddress::of(&req, &self.trusted);
        CLIENT_ADDRESS.scope(address, self.inner.call(req)).await
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry.parse().ok().or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
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
