//! How callers prove who they are: a bearer access token, or the session cookie set by a
//! browser OpenID Connect login (an opaque session credential, never a token).

use poem::web::cookie::{Cookie, SameSite};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use codex_cloud_core::service::{Admin, Auth, Principal};

use crate::http::error::Problem;
use crate::http::middleware::ClientAddress;

/// The session cookie set after a browser login that asked to return to a page.
pub const SESSION_COOKIE: &str = "codex_session";

/// A Codex access token in `Authorization: Bearer …`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

/// The browser's session credential in the `codex_session` cookie.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "codex_session", key_in = "cookie")]
pub struct SessionCookie(ApiKey);

/// Either way of proving a session.
#[derive(SecurityScheme)]
pub enum Credentials {
    BearerToken(BearerToken),
    SessionCookie(SessionCookie),
}

impl Credentials {
    /// The caller, or the problem to answer with (401 `invalid_token`, 500). A cookie use
    /// slides the session's idle timeout.
    pub async fn authenticate(&self, auth: &Auth) -> Result<Principal, Problem> {
        let address = ClientAddress::current();
        let principal = match self {
            Self::BearerToken(bearer) => auth.authenticate_token(&bearer.0.token, address).await,
            Self::SessionCookie(cookie) => auth.authenticate_cookie(&cookie.0.key, address).await,
        };
        principal.map_err(Problem::from)
    }

    /// Whether the session cookie proved it.
    pub fn is_cookie(&self) -> bool {
        matches!(self, Self::SessionCookie(_))
    }

    /// The caller's administration capability (403 `forbidden` for anyone else).
    pub async fn authenticate_admin(&self, auth: &Auth) -> Result<Admin, Problem> {
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
