//! How each error is answered: code (and so status) and detail, one arm per variant. Part of
//! the error module's job, kept in its own file for size.

use codex_cloud_core::service::{
    AuthenticateError, BeginOidcLoginError, CompleteOidcLoginError, CreateUserError,
    DisableUserError, IdentityLinkError, InvitationError, LoginError, LogoutError,
    ManageUsersError, NotAnAdmin, NotReady, OwnIdentityError, PasswordChangeError,
    ProviderLogoutError, RefreshError, SessionError, StartOidcLoginError, StoreFailed,
    UnlinkIdentityError, UserLookupError,
};

use crate::answers;
use crate::http::error::{ErrorCode, Problem};

fn problem(code: ErrorCode, detail: impl ToString) -> Problem {
    Problem::new(code, detail.to_string())
}

/// A path or query parameter the document's schema refuses, with why in plain words.
#[derive(Debug)]
pub struct BadParameter(pub String);

answers!(BadParameter {
    BadParameter(why) => InvalidRequest = problem(ErrorCode::InvalidRequest, why),
});

/// A request body that cannot be read as the operation's schema.
#[derive(Debug)]
pub enum BadBody {
    /// Why, in plain words naming the field.
    Invalid(String),
    /// Larger than this many bytes.
    TooLarge(usize),
    /// Not `application/json`.
    NotJson,
}

answers!(BadBody {
    BadBody::Invalid(why) => InvalidRequest = problem(ErrorCode::InvalidRequest, why),
    BadBody::TooLarge(limit) => PayloadTooLarge = problem(
        ErrorCode::PayloadTooLarge,
        format!("the request body must be at most {limit} bytes"),
    ),
    BadBody::NotJson => UnsupportedMediaType =
        problem(ErrorCode::UnsupportedMediaType, "the body must be `application/json`"),
});

/// A state-changing request from another site that relies on the session cookie.
#[derive(Debug)]
pub struct CrossSiteRequest;

answers!(CrossSiteRequest {
    CrossSiteRequest => CrossSiteRequest = problem(
        ErrorCode::CrossSiteRequest,
        "a cross-site request cannot use the session cookie",
    ),
});

/// An OpenID Connect route on a server without a provider.
#[derive(Debug)]
pub struct OidcNotConfigured;

answers!(OidcNotConfigured {
    OidcNotConfigured => OidcNotConfigured = problem(
        ErrorCode::OidcNotConfigured,
        "OpenID Connect login is not configured on this server",
    ),
});

/// Why an administrator's operation is refused before it starts.
#[derive(Debug)]
pub enum AdminRefused {
    Unauthenticated(AuthenticateError),
    NotAnAdmin(NotAnAdmin),
}

impl From<AuthenticateError> for AdminRefused {
    fn from(error: AuthenticateError) -> Self {
        Self::Unauthenticated(error)
    }
}

impl From<NotAnAdmin> for AdminRefused {
    fn from(error: NotAnAdmin) -> Self {
        Self::NotAnAdmin(error)
    }
}

answers!(AdminRefused {
    AdminRefused::Unauthenticated(e) => InvalidToken | InternalError | DatabaseUnavailable =
        e.into(),
    AdminRefused::NotAnAdmin(e) => Forbidden = problem(ErrorCode::Forbidden, e),
});

answers!(AuthenticateError {
    AuthenticateError::InvalidToken => InvalidToken = problem(
        ErrorCode::InvalidToken,
        "the access token is missing, invalid, expired or revoked",
    ),
    AuthenticateError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

/// Not ready, told to an anonymous caller: without the reason.
#[derive(Debug)]
pub struct NotReadyAnonymously;

answers!(NotReadyAnonymously {
    NotReadyAnonymously => NotReady = problem(ErrorCode::NotReady, "the service is not ready"),
});

answers!(NotReady {
    error => NotReady = {
        if let NotReady::Database(cause) = &error {
            tracing::warn!(error = %cause, "readiness: database unreachable");
        }
        problem(ErrorCode::NotReady, error)
    },
});

/// The reason goes to the log (and `/readyz`), not to the browser.
fn provider_unavailable(why: &str) -> Problem {
    tracing::warn!(reason = why, "login refused: the identity provider is unavailable");
    problem(
        ErrorCode::ProviderUnavailable,
        "the identity provider cannot be reached; try again later",
    )
}

fn provider_misconfigured(why: &str) -> Problem {
    tracing::error!(reason = why, "login refused: the identity provider is misconfigured");
    problem(
        ErrorCode::ProviderMisconfigured,
        "the identity provider's discovery document is not trusted",
    )
}

fn too_many_attempts(retry_after: time::Duration) -> Problem {
    let seconds = u64::try_from(retry_after.whole_seconds()).unwrap_or(1).max(1);
    problem(ErrorCode::TooManyAttempts, "too many failed attempts; try again later")
        .retry_after(seconds)
}

/// Password hashing is saturated: nothing was checked; try again in a moment.
fn server_busy(retry_after: std::time::Duration) -> Problem {
    problem(ErrorCode::ServerBusy, "the server is busy checking passwords; try again shortly")
        .retry_after(retry_after.as_secs().max(1))
}

answers!(LoginError {
    LoginError::InvalidCredentials => InvalidCredentials =
        problem(ErrorCode::InvalidCredentials, "invalid e-mail or password"),
    LoginError::Throttled { retry_after } => TooManyAttempts = too_many_attempts(retry_after),
    LoginError::Busy { retry_after } => ServerBusy = server_busy(retry_after),
    LoginError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(StoreFailed {
    StoreFailed(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(UserLookupError {
    UserLookupError::UnknownUser => UserNotFound =
        problem(ErrorCode::UserNotFound, "no such user"),
    UserLookupError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(DisableUserError {
    DisableUserError::UnknownUser => UserNotFound =
        problem(ErrorCode::UserNotFound, "no such user"),
    DisableUserError::LastAdmin => LastAdmin = problem(
        ErrorCode::LastAdmin,
        "the last enabled administrator cannot be disabled",
    ),
    DisableUserError::CannotDisableSelf => CannotDisableSelf = problem(
        ErrorCode::CannotDisableSelf,
        "an administrator cannot disable themselves",
    ),
    DisableUserError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(UnlinkIdentityError {
    UnlinkIdentityError::InvalidIdentity(e) => InvalidIdentity =
        problem(ErrorCode::InvalidIdentity, e),
    UnlinkIdentityError::UnknownIdentity => IdentityNotFound =
        problem(ErrorCode::IdentityNotFound, "no such external identity"),
    UnlinkIdentityError::Internal(e) => InternalError | DatabaseUnavailable =
        Problem::failed(&*e),
});

answers!(RefreshError {
    RefreshError::InvalidRefreshToken => InvalidRefreshToken = problem(
        ErrorCode::InvalidRefreshToken,
        "the refresh token is invalid, expired, spent or revoked",
    ),
    RefreshError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(PasswordChangeError {
    PasswordChangeError::InvalidCredentials => InvalidCredentials =
        problem(ErrorCode::InvalidCredentials, "the current password is wrong"),
    PasswordChangeError::Throttled { retry_after } => TooManyAttempts =
        too_many_attempts(retry_after),
    PasswordChangeError::Busy { retry_after } => ServerBusy = server_busy(retry_after),
    PasswordChangeError::InvalidPassword(e) => InvalidPassword =
        problem(ErrorCode::InvalidPassword, e),
    PasswordChangeError::Internal(e) => InternalError | DatabaseUnavailable =
        Problem::failed(&*e),
});

answers!(SessionError {
    SessionError::UnknownSession => SessionNotFound =
        problem(ErrorCode::SessionNotFound, "no such session"),
    SessionError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(LogoutError {
    LogoutError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(CreateUserError {
    CreateUserError::InvalidEmail(e) => InvalidEmail = problem(ErrorCode::InvalidEmail, e),
    CreateUserError::InvalidPassword(e) => InvalidPassword =
        problem(ErrorCode::InvalidPassword, e),
    CreateUserError::DuplicateEmail => EmailTaken = problem(
        ErrorCode::EmailTaken,
        "a user with this e-mail address already exists",
    ),
    CreateUserError::Busy { retry_after } => ServerBusy = server_busy(retry_after),
    CreateUserError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(ManageUsersError {
    ManageUsersError::UnknownUser => UserNotFound =
        problem(ErrorCode::UserNotFound, "no such user"),
    ManageUsersError::InvalidPassword(e) => InvalidPassword =
        problem(ErrorCode::InvalidPassword, e),
    ManageUsersError::Busy { retry_after } => ServerBusy = server_busy(retry_after),
    ManageUsersError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(IdentityLinkError {
    IdentityLinkError::InvalidIdentity(e) => InvalidIdentity =
        problem(ErrorCode::InvalidIdentity, e),
    IdentityLinkError::InvalidEmail(e) => InvalidEmail = problem(ErrorCode::InvalidEmail, e),
    IdentityLinkError::UnknownUser => UserNotFound =
        problem(ErrorCode::UserNotFound, "no such user"),
    IdentityLinkError::AlreadyLinked => IdentityAlreadyLinked = identity_already_linked(),
    IdentityLinkError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(BeginOidcLoginError {
    BeginOidcLoginError::Start(e) => InvalidReturnTo
        | ProviderUnavailable
        | ProviderMisconfigured
        | TooManyPendingLogins
        | InternalError
        | DatabaseUnavailable = e.into(),
    BeginOidcLoginError::InvalidInvitation => InvalidInvitation = invalid_invitation(),
});

answers!(StartOidcLoginError {
    StartOidcLoginError::InvalidReturnTo(e) => InvalidReturnTo =
        problem(ErrorCode::InvalidReturnTo, e),
    StartOidcLoginError::ProviderUnavailable(why) => ProviderUnavailable =
        provider_unavailable(&why),
    StartOidcLoginError::ProviderMisconfigured(why) => ProviderMisconfigured =
        provider_misconfigured(&why),
    StartOidcLoginError::TooManyPendingLogins { retry_after } => TooManyPendingLogins =
        too_many_pending_logins(retry_after),
    StartOidcLoginError::Internal(e) => InternalError | DatabaseUnavailable =
        Problem::failed(&*e),
});

answers!(CompleteOidcLoginError {
    CompleteOidcLoginError::InvalidState => InvalidState =
        problem(ErrorCode::InvalidState, CompleteOidcLoginError::InvalidState),
    CompleteOidcLoginError::ProviderDenied { error, description } => ProviderDenied = {
        let denied = CompleteOidcLoginError::ProviderDenied { error: error.clone(), description };
        let mut p = problem(ErrorCode::ProviderDenied, denied);
        p.provider_error = Some(error);
        p
    },
    CompleteOidcLoginError::IssuerMismatch => IssuerMismatch =
        problem(ErrorCode::IssuerMismatch, CompleteOidcLoginError::IssuerMismatch),
    CompleteOidcLoginError::MissingCode => InvalidRequest =
        problem(ErrorCode::InvalidRequest, CompleteOidcLoginError::MissingCode),
    CompleteOidcLoginError::IdTokenRejected(why) => IdTokenRejected = {
        tracing::warn!(reason = %why, "ID token rejected");
        problem(ErrorCode::IdTokenRejected, "the ID token was rejected")
    },
    CompleteOidcLoginError::IdentityNotLinked => IdentityNotLinked =
        problem(ErrorCode::IdentityNotLinked, CompleteOidcLoginError::IdentityNotLinked),
    CompleteOidcLoginError::InvalidInvitation => InvalidInvitation = invalid_invitation(),
    CompleteOidcLoginError::IdentityAlreadyLinked => IdentityAlreadyLinked =
        identity_already_linked(),
    CompleteOidcLoginError::ProviderError(why) => ProviderError = {
        tracing::warn!(reason = %why, "token endpoint failed");
        problem(ErrorCode::ProviderError, "the identity provider's token endpoint failed")
    },
    CompleteOidcLoginError::ProviderUnavailable(why) => ProviderUnavailable =
        provider_unavailable(&why),
    CompleteOidcLoginError::ProviderMisconfigured(why) => ProviderMisconfigured =
        provider_misconfigured(&why),
    CompleteOidcLoginError::KeysUnavailable => ProviderKeysUnavailable =
        problem(ErrorCode::ProviderKeysUnavailable, CompleteOidcLoginError::KeysUnavailable),
    CompleteOidcLoginError::Internal(e) => InternalError | DatabaseUnavailable =
        Problem::failed(&*e),
});

fn too_many_pending_logins(retry_after: time::Duration) -> Problem {
    // A flood would flood the log at a higher level.
    tracing::debug!("login refused: the client has too many logins in progress");
    let seconds = u64::try_from(retry_after.whole_seconds()).unwrap_or(1).max(1);
    problem(
        ErrorCode::TooManyPendingLogins,
        "too many logins from this client are in progress; try again later",
    )
    .retry_after(seconds)
}

fn invalid_invitation() -> Problem {
    problem(ErrorCode::InvalidInvitation, "the invitation is unknown, spent, revoked or expired")
}

fn identity_already_linked() -> Problem {
    problem(ErrorCode::IdentityAlreadyLinked, "this external identity is already linked to a user")
}

answers!(InvitationError {
    InvitationError::UnknownInvitation => InvitationNotFound =
        problem(ErrorCode::InvitationNotFound, "no such invitation"),
    InvitationError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(OwnIdentityError {
    OwnIdentityError::InvalidIdentity(e) => InvalidIdentity =
        problem(ErrorCode::InvalidIdentity, e),
    OwnIdentityError::UnknownIdentity => IdentityNotFound = problem(
        ErrorCode::IdentityNotFound,
        "no such external identity of the caller",
    ),
    OwnIdentityError::LastLoginMethod => LastLoginMethod =
        problem(ErrorCode::LastLoginMethod, OwnIdentityError::LastLoginMethod),
    OwnIdentityError::Internal(e) => InternalError | DatabaseUnavailable = Problem::failed(&*e),
});

answers!(ProviderLogoutError {
    ProviderLogoutError::InvalidReturnTo(e) => InvalidReturnTo =
        problem(ErrorCode::InvalidReturnTo, e),
    ProviderLogoutError::ProviderUnavailable(why) => ProviderUnavailable =
        provider_unavailable(&why),
    ProviderLogoutError::ProviderMisconfigured(why) => ProviderMisconfigured =
        provider_misconfigured(&why),
    ProviderLogoutError::Internal(e) => InternalError | DatabaseUnavailable =
        Problem::failed(&*e),
});
