//! The one place where errors become HTTP: RFC 9457 `application/problem+json` bodies with a
//! stable machine-readable `code`, and what each operation declares it can answer.
//!
//! Every code has one status. Every error a use case (or the request's own parsing) can end
//! in implements [`Answer`], whose codes come from the same exhaustive `match` that turns it
//! into a problem ([`answers!`]). An operation's error set ([`error_set!`]) names the error
//! types it can meet: the handler can only `?` those (there is no conversion from anything
//! else), and the document declares exactly their codes, as an enum, under their statuses.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// How long a client is asked to wait when the database cannot be reached.
pub const DATABASE_RETRY_AFTER_SECONDS: u64 = 5;

macro_rules! error_codes {
    ($($variant:ident = $status:literal $code:literal $retry:literal $about:literal,)+) => {
        /// Every stable error code, with its status.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ErrorCode {
            $($variant),+
        }

        impl ErrorCode {
            /// The code as problems spell it, e.g. `invalid_credentials`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code),+
                }
            }

            /// The status every problem with this code has.
            pub const fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status),+
                }
            }

            /// Whether problems with this code always say how long to wait (`Retry-After`).
            pub const fn retry_after(self) -> bool {
                match self {
                    $(Self::$variant => $retry),+
                }
            }

            /// What the code means, for the document.
            pub const fn about(self) -> &'static str {
                match self {
                    $(Self::$variant => $about),+
                }
            }
        }
    };
}

error_codes! {
    InvalidRequest = 400 "invalid_request" false "a parameter or the body is malformed or breaks a rule of its schema; `detail` names it",
    InvalidEmail = 400 "invalid_email" false "the e-mail address is malformed",
    InvalidPassword = 400 "invalid_password" false "the password breaks a rule of the password policy, named in `detail`",
    InvalidIdentity = 400 "invalid_identity" false "the issuer or subject is malformed",
    InvalidReturnTo = 400 "invalid_return_to" false "`return_to` is not a relative path starting with a single `/`",
    InvalidInvitation = 400 "invalid_invitation" false "the invitation is unknown, spent, revoked or expired",
    InvalidState = 400 "invalid_state" false "the state is missing, unknown, expired, replayed or from another browser",
    ProviderDenied = 400 "provider_denied" false "the provider answered with an error, in `provider_error`",
    IssuerMismatch = 400 "issuer_mismatch" false "`iss` is not the configured issuer",
    InvalidToken = 401 "invalid_token" false "the access token or session cookie is missing, invalid, expired or revoked",
    InvalidCredentials = 401 "invalid_credentials" false "unknown user, wrong password or disabled user, indistinguishably",
    InvalidRefreshToken = 401 "invalid_refresh_token" false "the refresh token is unknown, spent, expired or revoked (a spent one also ends its session)",
    IdTokenRejected = 401 "id_token_rejected" false "the provider's ID token failed verification",
    Forbidden = 403 "forbidden" false "the caller is not an administrator",
    CrossSiteRequest = 403 "cross_site_request" false "a request from another site tried to use the session cookie",
    IdentityNotLinked = 403 "identity_not_linked" false "the identity is not linked to an enabled Codex user",
    NotFound = 404 "not_found" false "no such route",
    UserNotFound = 404 "user_not_found" false "no such user",
    IdentityNotFound = 404 "identity_not_found" false "no such external identity",
    SessionNotFound = 404 "session_not_found" false "no such session of the caller",
    InvitationNotFound = 404 "invitation_not_found" false "no such invitation",
    OidcNotConfigured = 404 "oidc_not_configured" false "OpenID Connect is not configured on this server",
    MethodNotAllowed = 405 "method_not_allowed" false "the route does not answer this method (`Allow` lists those it does)",
    EmailTaken = 409 "email_taken" false "a user with this e-mail address already exists",
    LastAdmin = 409 "last_admin" false "the user is the last enabled administrator",
    CannotDisableSelf = 409 "cannot_disable_self" false "an administrator cannot disable themselves",
    IdentityAlreadyLinked = 409 "identity_already_linked" false "the external identity is linked to a user already: nothing was linked, and an invitation stays unspent",
    LastLoginMethod = 409 "last_login_method" false "it is the caller's last way to sign in: no password and no other identity",
    PayloadTooLarge = 413 "payload_too_large" false "the body is larger than 64 KiB",
    UnsupportedMediaType = 415 "unsupported_media_type" false "the body is not `application/json`",
    TooManyAttempts = 429 "too_many_attempts" true "too many failed attempts for this account or from this address; wait `Retry-After` seconds",
    TooManyPendingLogins = 429 "too_many_pending_logins" true "this client (address, IPv6 per /64) has 1000 logins in progress begun in the last 10 minutes; wait `Retry-After` seconds",
    InternalError = 500 "internal_error" false "an internal error (logged with the request id)",
    ProviderError = 502 "provider_error" false "the provider's token endpoint failed or timed out",
    DatabaseUnavailable = 503 "database_unavailable" true "the database cannot be reached or stayed locked; try again after `Retry-After` seconds",
    ServerBusy = 503 "server_busy" true "password hashing is saturated: nothing was checked or changed; wait `Retry-After` seconds",
    ProviderUnavailable = 503 "provider_unavailable" false "the identity provider is not discovered",
    ProviderMisconfigured = 503 "provider_misconfigured" false "the identity provider's discovery document is refused",
    ProviderKeysUnavailable = 503 "provider_keys_unavailable" false "the identity provider's signing keys cannot be fetched",
    NotReady = 503 "not_ready" false "the database or the identity provider cannot be used; the reason is in `detail` for administrators' bearer tokens only",
}

/// An RFC 9457 problem document.
#[derive(Clone, Debug)]
pub struct Problem {
    pub status: u16,
    pub code: ErrorCode,
    /// What went wrong this time, for people.
    pub detail: Option<String>,
    /// The provider's error code, for `provider_denied`.
    pub provider_error: Option<String>,
    /// Seconds to wait, sent as the `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<Option<String>>) -> Self {
        Self {
            status: code.status(),
            code,
            detail: detail.into(),
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

    /// The body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("urn:codex:problem:{}", self.code.as_str()),
            "title": self.status_code().canonical_reason().unwrap_or("Error"),
            "status": self.status,
            "code": self.code.as_str(),
        });
        if let Some(detail) = &self.detail {
            body["detail"] = detail.as_str().into();
        }
        if let Some(provider_error) = &self.provider_error {
            body["provider_error"] = provider_error.as_str().into();
        }
        body
    }

    /// The response carrying this problem.
    pub fn response(&self) -> Response {
        let mut response = Response::builder()
            .status(self.status_code())
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(self.to_json().to_string());
        response.extensions_mut().insert(ProblemCode(self.code));
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
            tracing::warn!(error = %cause, "the database cannot be reached or stayed locked");
            let detail =
                "the database cannot be reached or stayed locked; try again shortly".to_owned();
            return Self::new(ErrorCode::DatabaseUnavailable, detail)
                .retry_after(DATABASE_RETRY_AFTER_SECONDS);
        }
        Self::internal(&cause)
    }

    /// 500, without the cause (which is logged here instead).
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::InternalError, None)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.code.as_str())
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
#[derive(Clone, Copy, Debug)]
pub struct ProblemCode(pub ErrorCode);

/// An error an operation can meet, and every code it can be answered with.
pub trait Answer: Into<Problem> {
    const CODES: &'static [ErrorCode];
}

/// Maps an error type to problems, one arm per variant, each naming the codes its problem can
/// have; the codes of the type are those of its arms.
///
/// `answers!(LoginError { LoginError::InvalidCredentials => InvalidCredentials = …, })`
#[macro_export]
macro_rules! answers {
    ($error:ty { $($pattern:pat => $($code:ident)|+ = $problem:expr),+ $(,)? }) => {
        impl $crate::http::error::Answer for $error {
            const CODES: &'static [$crate::http::error::ErrorCode] =
                &[$($($crate::http::error::ErrorCode::$code),+),+];
        }

        impl From<$error> for $crate::http::error::Problem {
            fn from(error: $error) -> Self {
                match error {
                    $($pattern => {
                        let problem: $crate::http::error::Problem = $problem;
                        debug_assert!(
                            matches!(problem.code, $($crate::http::error::ErrorCode::$code)|+),
                            "{} is not declared for this arm",
                            problem.code.as_str()
                        );
                        problem
                    }),+
                }
            }
        }
    };
}

/// The errors one operation can meet, named by their types.
pub trait ErrorSet: Send + Sync + 'static {
    /// The name of the operation's problem schema.
    const NAME: &'static str;
    /// Every code the operation can answer with.
    fn codes() -> Vec<ErrorCode>;
}

/// Declares an operation's error set: `error_set!(LoginProblem: BadBody, LoginError);`. The
/// handler can `?` exactly these types; the document declares exactly their codes.
#[macro_export]
macro_rules! error_set {
    ($name:ident: $($source:ty),+ $(,)?) => {
        pub struct $name;

        impl $crate::http::error::ErrorSet for $name {
            const NAME: &'static str = stringify!($name);

            fn codes() -> Vec<$crate::http::error::ErrorCode> {
                let mut codes = Vec::new();
                $(codes.extend_from_slice(
                    <$source as $crate::http::error::Answer>::CODES,
                );)+
                codes.sort();
                codes.dedup();
                codes
            }
        }

        $(impl From<$source> for $crate::http::error::ApiError<$name> {
            fn from(error: $source) -> Self {
                $crate::http::error::ApiError::from_problem(error.into())
            }
        })+
    };
}

/// A problem answered by an operation whose error set is `S`.
pub struct ApiError<S: ErrorSet> {
    problem: Problem,
    _set: PhantomData<S>,
}

impl<S: ErrorSet> ApiError<S> {
    /// Only through the set's `From` conversions.
    #[doc(hidden)]
    pub fn from_problem(problem: Problem) -> Self {
        Self { problem, _set: PhantomData }
    }
}

impl<S: ErrorSet> fmt::Debug for ApiError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.problem, f)
    }
}

impl<S: ErrorSet> From<ApiError<S>> for poem::Error {
    fn from(error: ApiError<S>) -> Self {
        poem::Error::from(error.problem)
    }
}

impl<S: ErrorSet> IntoResponse for ApiError<S> {
    fn into_response(self) -> Response {
        self.problem.response()
    }
}

/// A string made once for the life of the process (the document's texts are built from parts).
fn interned(text: String) -> &'static str {
    static TEXTS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut texts = TEXTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = texts.iter().find(|known| **known == text) {
        return known;
    }
    let text: &'static str = Box::leak(text.into_boxed_str());
    texts.push(text);
    text
}

impl<S: ErrorSet> ApiResponse for ApiError<S> {
    fn meta() -> MetaResponses {
        let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
        for code in S::codes() {
            by_status.entry(code.status()).or_default().push(code);
        }
        let responses = by_status
            .into_iter()
            .map(|(status, codes)| {
                let about: Vec<String> =
                    codes.iter().map(|c| format!("`{}`: {}.", c.as_str(), c.about())).collect();
                MetaResponse {
                    description: interned(about.join(" ")),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_CONTENT_TYPE,
                        schema: MetaSchemaRef::Reference(S::NAME.to_owned()),
                    }],
                    headers: if codes.iter().any(|c| c.retry_after()) {
                        vec![retry_after_header(codes.iter().all(|c| c.retry_after()))]
                    } else {
                        vec![]
                    },
                }
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        if registry.schemas.contains_key(S::NAME) {
            return;
        }
        let codes = S::codes();
        let string = || MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")));
        let mut code = MetaSchema::new("string");
        code.description = Some("A stable machine-readable code.");
        code.enum_items = codes.iter().map(|c| c.as_str().into()).collect();
        let mut status = MetaSchema::new_with_format("integer", "int32");
        status.description = Some("The HTTP status code.");
        status.enum_items = {
            let mut statuses: Vec<u16> = codes.iter().map(|c| c.status()).collect();
            statuses.dedup();
            statuses.into_iter().map(Into::into).collect()
        };
        let mut schema = MetaSchema::new("object");
        schema.description = Some("An RFC 9457 problem document.");
        schema.properties = vec![
            ("type", described(string(), "`urn:codex:problem:` and the code.")),
            ("title", described(string(), "The status's reason phrase.")),
            ("status", MetaSchemaRef::Inline(Box::new(status))),
            ("detail", described(string(), "What went wrong this time, for people.")),
            ("code", MetaSchemaRef::Inline(Box::new(code))),
        ];
        schema.required = vec!["type", "title", "status", "code"];
        if codes.contains(&ErrorCode::ProviderDenied) {
            let about = "The provider's error code (`provider_denied` only).";
            schema.properties.push(("provider_error", described(string(), about)));
        }
        registry.schemas.insert(S::NAME.to_owned(), schema);
    }
}

fn described(schema: MetaSchemaRef, description: &'static str) -> MetaSchemaRef {
    match schema {
        MetaSchemaRef::Inline(mut schema) => {
            schema.description = Some(description);
            MetaSchemaRef::Inline(schema)
        }
        reference => reference,
    }
}

fn retry_after_header(required: bool) -> MetaHeader {
    MetaHeader {
        name: "Retry-After".to_owned(),
        description: Some("Whole seconds to wait before trying again.".to_owned()),
        required,
        deprecated: false,
        schema: u64::schema_ref(),
    }
}

/// Turns every error that escapes an endpoint (unknown route, wrong method, unreadable body,
/// missing credentials, …) into a problem document. Problems pass through unchanged.
pub fn problem_for(error: poem::Error) -> Response {
    if let Some(problem) = error.downcast_ref::<Problem>() {
        return problem.response();
    }
    let status = error.status();
    let (code, detail) = match status {
        // Parameters and bodies are explained where they are parsed; anything else in the
        // framework's words would speak its internals.
        StatusCode::BAD_REQUEST => {
            (ErrorCode::InvalidRequest, "the request is malformed".to_owned())
        }
        StatusCode::UNAUTHORIZED => {
            (ErrorCode::InvalidToken, "a valid bearer access token is required".to_owned())
        }
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, error.to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, error.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            return Problem::from(crate::http::problems::BadBody::NotJson).response();
        }
        s if s.is_server_error() => return Problem::internal(&error).response(),
        _ => {
            let mut problem = Problem::new(ErrorCode::InvalidRequest, error.to_string());
            problem.status = status.as_u16();
            return problem.response();
        }
    };
    Problem::new(code, detail).response()
}
