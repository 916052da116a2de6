//! The one place where errors become HTTP: RFC 9457 `application/problem+json` bodies with a
//! stable machine-readable `code`, and the per-operation lists of error statuses that the OpenAPI
//! document declares.

use std::fmt;
use std::marker::PhantomData;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// How long a client is asked to wait when the database cannot be reached.
pub const DATABASE_RETRY_AFTER_SECONDS: u64 = 5;

/// An RFC 9457 problem document.
#[derive(Clone, Debug, Object)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:codex:problem:<code>`.
    #[oai(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// A stable machine-readable code, e.g. `invalid_credentials`.
    pub code: String,
    /// The provider's error code, for `provider_denied`.
    #[oai(skip_serializing_if_is_none)]
    pub provider_error: Option<String>,
    /// Seconds to wait, sent as the `Retry-After` header (429).
    #[oai(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<Option<String>>) -> Self {
        Self {
            kind: format!("urn:codex:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            provider_error: None,
            retry_after: None,
        }
    }

    /// With a `Retry-After` header of this many seconds.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The response carrying this problem.
    pub fn response(&self) -> Response {
        let body = self.to_json().map(|v| v.to_string()).unwrap_or_default();
        let mut response = Response::builder()
            .status(self.status_code())
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body);
        response.extensions_mut().insert(ProblemCode(self.code.clone()));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(poem::http::header::RETRY_AFTER, poem::http::HeaderValue::from(seconds));
        }
        if self.status == 401 {
            response.headers_mut().insert(
                poem::http::header::WWW_AUTHENTICATE,
                poem::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }

    /// 503 `database_unavailable` with `Retry-After` when the cause is an unreachable database
    /// (the same request may work once it is back); otherwise 500, as `internal`.
    pub fn failed(cause: &(dyn std::error::Error + 'static)) -> Self {
        if codex_cloud_core::service::is_store_unavailable(cause) {
            tracing::warn!(error = %cause, "the database cannot be reached");
            let detail = "the database cannot be reached; try again shortly".to_owned();
            return Self::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", detail)
                .retry_after(DATABASE_RETRY_AFTER_SECONDS);
        }
        Self::internal(&cause)
    }

    /// 500, without the cause (which is logged here instead).
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", None)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.code)
    }
}

impl std::error::Error for Problem {}

impl poem::error::ResponseError for Problem {
    fn status(&self) -> StatusCode {
        self.status_code()
    }

    fn as_response(&self) -> Response {
        self.response()
    }
}

/// The `code` of the problem a response carries, for the access log and the metrics.
#[derive(Clone, Debug)]
pub struct ProblemCode(pub String);

/// The error statuses one operation can answer with, for the OpenAPI document.
pub trait ErrorStatuses: Send + Sync + 'static {
    const STATUSES: &'static [(u16, &'static str)];
}

/// A problem answered by an operation whose possible error statuses are `S`.
pub struct ApiError<S: ErrorStatuses> {
    problem: Problem,
    _statuses: PhantomData<S>,
}

impl<S: ErrorStatuses> ApiError<S> {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<Option<String>>) -> Self {
        Self::from_problem(Problem::new(status, code, detail))
    }
}

impl<S: ErrorStatuses> ApiError<S> {
    fn from_problem(problem: Problem) -> Self {
        debug_assert!(
            S::STATUSES.iter().any(|(status, _)| *status == problem.status),
            "status {} is not declared",
            problem.status
        );
        Self { problem, _statuses: PhantomData }
    }
}

impl<S: ErrorStatuses> fmt::Debug for ApiError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.problem, f)
    }
}

impl<S: ErrorStatuses> From<ApiError<S>> for poem::Error {
    fn from(error: ApiError<S>) -> Self {
        poem::Error::from(error.problem)
    }
}

impl<S: ErrorStatuses> IntoResponse for ApiError<S> {
    fn into_response(self) -> Response {
        self.problem.response()
    }
}

impl<S: ErrorStatuses> ApiResponse for ApiError<S> {
    fn meta() -> MetaResponses {
        let responses = S::STATUSES
            .iter()
            .map(|(status, description)| MetaResponse {
                description,
                status: Some(*status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: PROBLEM_CONTENT_TYPE,
                    schema: Problem::schema_ref(),
                }],
                // 429 always says how long to wait, and so do 503 `server_busy` and
                // `database_unavailable`.
                headers: if *status == 429
                    || (*status == 503
                        && (description.contains("`server_busy`")
                            || description.contains("`database_unavailable`")))
                {
                    vec![retry_after_header()]
                } else {
                    vec![]
                },
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn retry_after_header() -> MetaHeader {
    MetaHeader {
        name: "Retry-After".to_owned(),
        description: Some("Whole seconds to wait before trying again.".to_owned()),
        required: true,
        deprecated: false,
        schema: u64::schema_ref(),
    }
}

/// Declares a set of error statuses: `statuses!(LoginErrors: 400 "why", 401 "why");`
#[macro_export]
macro_rules! statuses {
    ($name:ident: $($status:literal $description:literal),+ $(,)?) => {
        pub struct $name;
        impl $crate::http::error::ErrorStatuses for $name {
            const STATUSES: &'static [(u16, &'static str)] = &[$(($status, $description)),+];
        }
    };
}

/// A payload parser's reason without the type it was parsing.
fn plain_reason(reason: &str) -> String {
    let reason = match reason.strip_prefix("failed to parse \"") {
        Some(rest) => rest.split_once("\": ").map_or(rest, |(_, why)| why),
        None => reason,
    };
    reason.trim_end_matches('.').to_owned()
}

/// Turns every error that escapes an endpoint (unknown route, wrong method, unreadable body,
/// missing credentials, …) into a problem document. Problems pass through unchanged.
pub fn problem_for(error: poem::Error) -> Response {
    if let Some(problem) = error.downcast_ref::<Problem>() {
        return problem.response();
    }
    let status = error.status();
    let code = match status {
        StatusCode::BAD_REQUEST => "invalid_request",
        StatusCode::UNAUTHORIZED => "invalid_token",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::LENGTH_REQUIRED => "length_required",
        s if s.is_server_error() => {
            return Problem::internal(&error).response();
        }
        _ => "invalid_request",
    };
    let detail = match status {
        StatusCode::UNAUTHORIZED => "a valid bearer access token is required".to_owned(),
        StatusCode::NOT_FOUND => "no such resource".to_owned(),
        _ => match error.downcast_ref::<poem_openapi::error::ParseRequestPayloadError>() {
            // `failed to parse "LoginRequest": unknown field `x`.` says what, without the
            // parser's type names.
            Some(payload) => format!("the body is not valid: {}", plain_reason(&payload.reason)),
            None => error.to_string(),
        },
    };
    Problem::new(status, code, detail).response()
}

impl<S: ErrorStatuses, E: Into<Problem>> From<E> for ApiError<S> {
    fn from(error: E) -> Self {
        Self::from_problem(error.into())
    }
}
