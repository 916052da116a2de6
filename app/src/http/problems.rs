//! How each use case's errors are answered: status, stable code and detail. Part of the error
//! module's job, kept in its own file for size.

use poem::http::StatusCode;

use codex_cloud_core::service::{
    AuditTrailError, AuthenticateError, BeginOidcLoginError, CompleteOidcLoginError,
    CreateUserError, IdentityLinkError, InvitationError, LoginError, LogoutError, ManageUsersError,
    NotAnAdmin, NotReady, OwnIdentityError, PasswordChangeError, ProviderLogoutError, RefreshError,
    SessionError,
};

use crate::http::error::Problem;

fn problem(status: StatusCode, code: &str, detail: impl ToString) -> Problem {
    Problem::new(status, code, detail.to_string())
}

pub fn invalid_token() -> Problem {
    problem(
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "the access token is missing, invalid, expired or revoked",
    )
}

impl From<NotAnAdmin> for Problem {
    fn from(error: NotAnAdmin) -> Self {
        problem(StatusCode::FORBIDDEN, "forbidden", error)
    }
}

pub fn cross_site_request() -> Problem {
    problem(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        "a cross-site request cannot use the session cookie",
    )
}

pub fn payload_too_large(limit: usize) -> Problem {
    problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body must be at most {limit} bytes"),
    )
}

pub fn oidc_not_configured() -> Problem {
    problem(
        StatusCode::NOT_FOUND,
        "oidc_not_configured",
        "OpenID Connect login is not configured on this server",
    )
}

/// Not ready, without the reason (for anonymous callers).
pub fn not_ready_anonymously() -> Problem {
    problem(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the service is not ready")
}

impl From<NotReady> for Problem {
    fn from(error: NotReady) -> Self {
        match &error {
            NotReady::Database(cause) => {
                tracing::warn!(error = %cause, "readiness: database unreachable");
            }
            NotReady::ProviderUnavailable(_) | NotReady::ProviderMisconfigured(_) => {}
        }
        problem(StatusCode::SERVICE_UNAVAILABLE, "not_ready", error)
    }
}

/// The reason goes to the log (and `/readyz`), not to the browser.
fn provider_unavailable(why: &str) -> Problem {
    tracing::warn!(reason = why, "login refused: the identity provider is unavailable");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "provider_unavailable",
        "the identity provider cannot be reached; try again later",
    )
}

fn provider_misconfigured(why: &str) -> Problem {
    tracing::error!(reason = why, "login refused: the identity provider is misconfigured");
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "provider_misconfigured",
        "the identity provider's discovery document is not trusted",
    )
}

fn too_many_attempts(retry_after: time::Duration) -> Problem {
    let seconds = u64::try_from(retry_after.whole_seconds()).unwrap_or(1).max(1);
    problem(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "too many failed attempts; try again later",
    )
    .retry_after(seconds)
}

/// Password hashing is saturated: nothing was checked; try again in a moment.
fn server_busy(retry_after: std::time::Duration) -> Problem {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_busy",
        "the server is busy checking passwords; try again shortly",
    )
    .retry_after(retry_after.as_secs().max(1))
}

fn invalid_credentials() -> Problem {
    problem(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid e-mail or password")
}

impl From<LoginError> for Problem {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => invalid_credentials(),
            LoginError::Throttled { retry_after } => too_many_attempts(retry_after),
            LoginError::Busy { retry_after } => server_busy(retry_after),
            LoginError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<AuditTrailError> for Problem {
    fn from(error: AuditTrailError) -> Self {
        Problem::failed(&*error.0)
    }
}

impl From<RefreshError> for Problem {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidRefreshToken => problem(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "the refresh token is invalid, expired, spent or revoked",
            ),
            RefreshError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<PasswordChangeError> for Problem {
    fn from(error: PasswordChangeError) -> Self {
        match error {
            PasswordChangeError::InvalidCredentials => problem(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "the current password is wrong",
            ),
            PasswordChangeError::Throttled { retry_after } => too_many_attempts(retry_after),
            PasswordChangeError::Busy { retry_after } => server_busy(retry_after),
            PasswordChangeError::InvalidPassword(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_password", e)
            }
            PasswordChangeError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<SessionError> for Problem {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::UnknownSession => {
                problem(StatusCode::NOT_FOUND, "session_not_found", "no such session")
            }
            SessionError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<AuthenticateError> for Problem {
    fn from(error: AuthenticateError) -> Self {
        match error {
            AuthenticateError::InvalidToken => invalid_token(),
            AuthenticateError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<CreateUserError> for Problem {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::InvalidEmail(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_email", e)
            }
            CreateUserError::InvalidPassword(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_password", e)
            }
            CreateUserError::DuplicateEmail => problem(
                StatusCode::CONFLICT,
                "email_taken",
                "a user with this e-mail address already exists",
            ),
            CreateUserError::Busy { retry_after } => server_busy(retry_after),
            CreateUserError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<ManageUsersError> for Problem {
    fn from(error: ManageUsersError) -> Self {
        match error {
            ManageUsersError::UnknownUser => {
                problem(StatusCode::NOT_FOUND, "user_not_found", "no such user")
            }
            ManageUsersError::LastAdmin => problem(
                StatusCode::CONFLICT,
                "last_admin",
                "the last enabled administrator cannot be disabled",
            ),
            ManageUsersError::CannotDisableSelf => problem(
                StatusCode::CONFLICT,
                "cannot_disable_self",
                "an administrator cannot disable themselves",
            ),
            ManageUsersError::InvalidPassword(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_password", e)
            }
            ManageUsersError::Busy { retry_after } => server_busy(retry_after),
            ManageUsersError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<IdentityLinkError> for Problem {
    fn from(error: IdentityLinkError) -> Self {
        match error {
            IdentityLinkError::InvalidIdentity(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_identity", e)
            }
            IdentityLinkError::InvalidEmail(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_email", e)
            }
            IdentityLinkError::UnknownUser => {
                problem(StatusCode::NOT_FOUND, "user_not_found", "no such user")
            }
            IdentityLinkError::UnknownIdentity => {
                problem(StatusCode::NOT_FOUND, "identity_not_found", "no such external identity")
            }
            IdentityLinkError::AlreadyLinked => identity_already_linked(),
            IdentityLinkError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<BeginOidcLoginError> for Problem {
    fn from(error: BeginOidcLoginError) -> Self {
        match error {
            BeginOidcLoginError::InvalidReturnTo(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_return_to", e)
            }
            BeginOidcLoginError::InvalidInvitation => invalid_invitation(),
            BeginOidcLoginError::ProviderUnavailable(why) => provider_unavailable(&why),
            BeginOidcLoginError::ProviderMisconfigured(why) => provider_misconfigured(&why),
            BeginOidcLoginError::TooManyPendingLogins { retry_after } => {
                // A flood would flood the log at a higher level.
                tracing::debug!("login refused: the client has too many logins in progress");
                let seconds = u64::try_from(retry_after.whole_seconds()).unwrap_or(1).max(1);
                problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_pending_logins",
                    "too many logins from this client are in progress; try again later",
                )
                .retry_after(seconds)
            }
            BeginOidcLoginError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<CompleteOidcLoginError> for Problem {
    fn from(error: CompleteOidcLoginError) -> Self {
        use CompleteOidcLoginError as E;
        let detail = error.to_string();
        match error {
            E::InvalidState => problem(StatusCode::BAD_REQUEST, "invalid_state", detail),
            E::ProviderDenied { error, .. } => {
                let mut p = problem(StatusCode::BAD_REQUEST, "provider_denied", detail);
                p.provider_error = Some(error);
                p
            }
            E::IssuerMismatch => problem(StatusCode::BAD_REQUEST, "issuer_mismatch", detail),
            E::MissingCode => problem(StatusCode::BAD_REQUEST, "invalid_request", detail),
            E::IdTokenRejected(_) => {
                tracing::warn!(reason = %detail, "ID token rejected");
                problem(StatusCode::UNAUTHORIZED, "id_token_rejected", "the ID token was rejected")
            }
            E::IdentityNotLinked => problem(StatusCode::FORBIDDEN, "identity_not_linked", detail),
            E::InvalidInvitation => invalid_invitation(),
            E::IdentityAlreadyLinked => identity_already_linked(),
            E::ProviderError(why) => {
                tracing::warn!(reason = %why, "token endpoint failed");
                problem(
                    StatusCode::BAD_GATEWAY,
                    "provider_error",
                    "the identity provider's token endpoint failed",
                )
            }
            E::ProviderUnavailable(why) => provider_unavailable(&why),
            E::ProviderMisconfigured(why) => provider_misconfigured(&why),
            E::KeysUnavailable => {
                problem(StatusCode::SERVICE_UNAVAILABLE, "provider_keys_unavailable", detail)
            }
            E::Internal(e) => Problem::failed(&*e),
        }
    }
}

fn invalid_invitation() -> Problem {
    problem(
        StatusCode::BAD_REQUEST,
        "invalid_invitation",
        "the invitation is unknown, spent, revoked or expired",
    )
}

fn identity_already_linked() -> Problem {
    problem(
        StatusCode::CONFLICT,
        "identity_already_linked",
        "this external identity is already linked to a user",
    )
}

impl From<InvitationError> for Problem {
    fn from(error: InvitationError) -> Self {
        match error {
            InvitationError::UnknownUser => {
                problem(StatusCode::NOT_FOUND, "user_not_found", "no such user")
            }
            InvitationError::UnknownInvitation => {
                problem(StatusCode::NOT_FOUND, "invitation_not_found", "no such invitation")
            }
            InvitationError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<OwnIdentityError> for Problem {
    fn from(error: OwnIdentityError) -> Self {
        match error {
            OwnIdentityError::InvalidIdentity(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_identity", e)
            }
            OwnIdentityError::UnknownIdentity => problem(
                StatusCode::NOT_FOUND,
                "identity_not_found",
                "no such external identity of the caller",
            ),
            OwnIdentityError::LastLoginMethod => {
                problem(StatusCode::CONFLICT, "last_login_method", error)
            }
            OwnIdentityError::Internal(e) => Problem::failed(&*e),
        }
    }
}

impl From<ProviderLogoutError> for Problem {
    fn from(error: ProviderLogoutError) -> Self {
        match error {
            ProviderLogoutError::InvalidReturnTo(e) => {
                problem(StatusCode::BAD_REQUEST, "invalid_return_to", e)
            }
            ProviderLogoutError::ProviderUnavailable(why) => provider_unavailable(&why),
            ProviderLogoutError::ProviderMisconfigured(why) => provider_misconfigured(&why),
            ProviderLogoutError::Internal(e) => Problem::failed(&*e),
        }
    }
}
