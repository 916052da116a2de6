//! How callers prove who they are: a bearer access token, or the session cookie set by a
//! browser OpenID Connect login (an opaque session credential, never a token).

use poem::web::cookie::{Cookie, SameSite};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use codex_cloud_core::service::{Admin, Auth, AuthenticateError, Principal};

use crate::http::middleware::RequestContext;
use crate::http::problems::AdminRefused;

/// The session cookie set after a browser login that asked to return to a page, when the public
/// origin is http.
pub const SESSION_COOKIE: &str = "codex_session";
/// Its name when the public origin is https (RFC 6265bis: Secure, `Path=/`, no `Domain`, so no
/// sibling host can plant or overwrite it).
pub const HOST_SESSION_COOKIE: &str = "__Host-codex_session";

/// The session cookie's name for this public origin.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { HOST_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// A Codex access token in `Authorization: Bearer …`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

/// The browser's session credential in the `codex_session` cookie (public origin on http).
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "codex_session", key_in = "cookie")]
pub struct SessionCookie(ApiKey);

/// The browser's session credential in the `__Host-codex_session` cookie (public origin on
/// https).
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "__Host-codex_session", key_in = "cookie")]
pub struct HostSessionCookie(ApiKey);

/// Either way of proving a session.
#[derive(SecurityScheme)]
pub enum Credentials {
    BearerToken(BearerToken),
    SessionCookie(SessionCookie),
    HostSessionCookie(HostSessionCookie),
}

/// A session cookie, of either name (`POST /auth/token` takes nothing else).
#[derive(SecurityScheme)]
pub enum BrowserSession {
    SessionCookie(SessionCookie),
    HostSessionCookie(HostSessionCookie),
}

impl From<BrowserSession> for Credentials {
    fn from(cookie: BrowserSession) -> Self {
        match cookie {
            BrowserSession::SessionCookie(c) => Self::SessionCookie(c),
            BrowserSession::HostSessionCookie(c) => Self::HostSessionCookie(c),
        }
    }
}

impl Credentials {
    /// The caller, or why not. A cookie use slides the session's idle timeout.
    pub async fn authenticate(&self, auth: &Auth) -> Result<Principal, AuthenticateError> {
        let context = RequestContext::current();
        let address = context.client;
        let principal = match self {
            Self::BearerToken(bearer) => auth.authenticate_token(&bearer.0.token, address).await,
            // Over https only the `__Host-` cookie counts: the plain name could be planted.
            Self::SessionCookie(_) if context.secure_cookies => {
                return Err(AuthenticateError::InvalidToken);
            }
            Self::SessionCookie(cookie) => auth.authenticate_cookie(&cookie.0.key, address).await,
            Self::HostSessionCookie(cookie) => {
                auth.authenticate_cookie(&cookie.0.key, address).await
            }
        };
        let principal = principal?;
        crate::http::middleware::record_user(principal.user.id);
        Ok(principal)
    }

    /// Whether a session cookie proved it.
    pub fn is_cookie(&self) -> bool {
        !matches!(self, Self::BearerToken(_))
    }

    /// The caller's administration capability (refused for anyone else).
    pub async fn authenticate_admin(&self, auth: &Auth) -> Result<Admin, AdminRefused> {
        Ok(self.authenticate(auth).await?.admin()?)
    }
}

/// An HttpOnly, SameSite=Lax cookie at `/` that lives `max_age` (zero: deleted).
pub fn cookie(name: &str, value: &str, max_age: time::Duration, secure: bool) -> Cookie {
    let mut cookie = Cookie::new_with_str(name, value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(secure);
    cookie.set_path("/");
    cookie.set_max_age(std::time::Duration::try_from(max_age).unwrap_or_default());
    cookie
}
