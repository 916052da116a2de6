//! Local login, refresh tokens, the current user, fresh tokens for the browser, logout.

use crate::http::json::Json;
use crate::http::problems::{BadBody, CrossSiteRequest};
use codex_cloud_core::service::{AuthenticateError, LoginError, LogoutError, RefreshError};
use poem::web::cookie::CookieJar;
use poem_openapi::types::Password;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use codex_cloud_core::domain::IssuedToken;
use codex_cloud_core::service::{Auth, LoginSuccess};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::middleware::{ClientAddress, record_user};
use crate::http::security::{self, BrowserSession, Credentials};

// No `Debug`: it holds a password.
/// An e-mail address and password to log in with.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user's e-mail address (compared without regard to case).
    pub email: String,
    pub password: Password,
}

// No `Debug`: it holds a refresh token.
/// A refresh token to spend.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A Codex access token (RFC 9068 JWT) for the `Authorization: Bearer` header, and the
/// session's next refresh token.
#[derive(Object)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: `POST /auth/refresh` spends it and returns the next one. Absent from
    /// `POST /auth/token`.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
}

impl TokenResponse {
    pub fn from_login(login: &LoginSuccess) -> Self {
        Self {
            refresh_token: login.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            ..Self::access_only(&login.token)
        }
    }

    fn access_only(token: &IssuedToken) -> Self {
        Self {
            access_token: token.token.expose().to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: token.expires_in().whole_seconds(),
            refresh_token: None,
        }
    }
}

#[derive(Debug, Object)]
pub struct CurrentUser {
    pub id: Uuid,
    pub email: String,
    pub is_admin: bool,
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The session is revoked; its tokens are refused from now on, and the session cookie is
    /// cleared.
    #[oai(status = 204)]
    LoggedOut,
}

error_set!(LoginProblem: BadBody, LoginError);
error_set!(RefreshProblem: BadBody, RefreshError);
error_set!(SessionTokenProblem: CrossSiteRequest, AuthenticateError);
error_set!(LogoutProblem: CrossSiteRequest, AuthenticateError, LogoutError);
error_set!(CurrentUserProblem: AuthenticateError);

pub struct AuthApi {
    pub auth: Auth,
    /// Whether cookies get the `Secure` attribute.
    pub secure_cookies: bool,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Log in with e-mail and password
    ///
    /// Starts a session and returns its access token.
    #[oai(path = "/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        body: Json<LoginRequest>,
    ) -> Result<Json<TokenResponse>, ApiError<LoginProblem>> {
        let request = body.0;
        let (password, client) = (request.password.as_str(), ClientAddress::current());
        let login = self.auth.login_with_password(&request.email, password, client).await?;
        record_user(login.user.id);
        Ok(Json(TokenResponse::from_login(&login)))
    }

    /// Trade a refresh token for new tokens
    ///
    /// Spends the refresh token and returns a new access token and the session's next refresh
    /// token. A refresh token presented twice ends its whole session.
    #[oai(path = "/auth/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(
        &self,
        body: Json<RefreshRequest>,
    ) -> Result<Json<TokenResponse>, ApiError<RefreshProblem>> {
        let login = self.auth.refresh(&body.0.refresh_token, ClientAddress::current()).await?;
        record_user(login.user.id);
        Ok(Json(TokenResponse::from_login(&login)))
    }

    /// A fresh access token for the browser's session
    ///
    /// For single-page apps: the session cookie set by a browser login buys an access token.
    #[oai(path = "/auth/token", method = "post", operation_id = "sessionToken")]
    async fn token(
        &self,
        cookie: BrowserSession,
    ) -> Result<Json<TokenResponse>, ApiError<SessionTokenProblem>> {
        let credentials = Credentials::from(cookie);
        let principal = credentials.authenticate(&self.auth).await?;
        let token = self.auth.access_token_for(&principal).await?;
        Ok(Json(TokenResponse::access_only(&token)))
    }

    /// The current user
    #[oai(path = "/auth/me", method = "get", operation_id = "getCurrentUser")]
    async fn me(
        &self,
        credentials: Credentials,
    ) -> Result<Json<CurrentUser>, ApiError<CurrentUserProblem>> {
        let user = credentials.authenticate(&self.auth).await?.user;
        Ok(Json(CurrentUser {
            id: user.id.as_uuid(),
            email: user.email.to_string(),
            is_admin: user.is_admin,
        }))
    }

    /// Log out
    ///
    /// Revokes the caller's session: its tokens are refused everywhere from now on.
    #[oai(path = "/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        credentials: Credentials,
        cookies: &CookieJar,
    ) -> Result<LogoutResponse, ApiError<LogoutProblem>> {
        let principal = credentials.authenticate(&self.auth).await?;
        self.auth.logout(&principal).await?;
        let name = security::session_cookie_name(self.secure_cookies);
        cookies.add(security::cookie(name, "", time::Duration::ZERO, self.secure_cookies));
        Ok(LogoutResponse::LoggedOut)
    }
}
