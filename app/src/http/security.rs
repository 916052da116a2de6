//! How callers prove who they are: a bearer access token, or the session cookie set by a
//! browser OpenID Connect login (which carries the same token).

use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};

use codex_cloud_core::service::{Admin, Auth, Principal};

use crate::http::error::Problem;

/// The session cookie set after a browser login that asked to return to a page.
pub const SESSION_COOKIE: &str = "codex_session";

/// A Codex access token in `Authorization: Bearer …`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

/// A Codex access token in the `codex_session` cookie.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "codex_session", key_in = "cookie")]
pub struct SessionCookie(ApiKey);

/// Either way of presenting a Codex access token.
#[derive(SecurityScheme)]
pub enum Credentials {
    BearerToken(BearerToken),
    SessionCookie(SessionCookie),
}

impl Credentials {
    fn token(&self) -> &str {
        match self {
            Self::BearerToken(bearer) => &bearer.0.token,
            Self::SessionCookie(cookie) => &cookie.0.key,
        }
    }

    /// The caller, or the problem to answer with (401 `invalid_token`, 500).
    pub async fn authenticate(&self, auth: &Auth) -> Result<Principal, Problem> {
        auth.authenticate_token(self.token()).await.map_err(Problem::from)
    }

    /// The caller's administration capability (403 `forbidden` for anyone else).
    pub async fn authenticate_admin(&self, auth: &Auth) -> Result<Admin, Problem> {
        Ok(self.authenticate(auth).await?.admin()?)
    }
}
