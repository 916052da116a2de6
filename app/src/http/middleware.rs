//! Middleware: a request body cap, security headers, and an access log that never records query
//! strings (they carry authorization codes and states).

use std::time::Instant;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::http::error::Problem;

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

fn too_large(limit: usize) -> poem::Error {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body must be at most {limit} bytes"),
    )
    .into()
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
            return Err(too_large(self.limit));
        }
        let body = req.take_body();
        let bytes = body.into_bytes_limit(self.limit).await.map_err(|_| too_large(self.limit))?;
        req.set_body(Body::from(bytes));
        self.inner.call(req).await
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
