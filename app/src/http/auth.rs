//! Local login, the current user, logout.

use poem_openapi::payload::Json;
use poem_openapi::types::Password;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use codex_cloud_core::service::{Auth, LoginSuccess};

use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::security::Credentials;
use crate::statuses;

/// (No `Debug`: it holds a password.)
#[derive(Object)]
pub struct LoginRequest {
    /// The user's e-mail address (compared without regard to case).
    pub email: String,
    pub password: Password,
}

/// A Codex access token (RFC 9068 JWT) for the `Authorization: Bearer` header.
#[derive(Object)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

impl TokenResponse {
    pub fn from_login(login: &LoginSuccess) -> Self {
        Self {
            access_token: login.token.token.expose().to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: login.token.expires_in().whole_seconds(),
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
    /// The session is revoked; its tokens are refused from now on.
    #[oai(status = 204)]
    LoggedOut,
}

statuses!(LoginErrors:
    400 "The body is not valid JSON or lacks a field (`invalid_request`).",
    401 "Unknown user, wrong password or disabled user, indistinguishably (`invalid_credentials`).",
    413 "The body is too large (`payload_too_large`).",
    415 "The body is not `application/json` (`unsupported_media_type`).",
    500 "Internal error (`internal_error`).",
);
statuses!(LogoutErrors:
    401 "The access token is missing, invalid, expired or revoked (`invalid_token`).",
    403 "A cross-site request tried to use the session cookie (`cross_site_request`).",
    500 "Internal error (`internal_error`).",
);
statuses!(SessionErrors:
    401 "The access token is missing, invalid, expired or revoked (`invalid_token`).",
    500 "Internal error (`internal_error`).",
);

pub struct AuthApi {
    pub auth: Auth,
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
    ) -> Result<Json<TokenResponse>, ApiError<LoginErrors>> {
        let request = body.0;
        let login =
            self.auth.login_with_password(&request.email, request.password.as_str()).await?;
        Ok(Json(TokenResponse::from_login(&login)))
    }

    /// The current user
    #[oai(path = "/auth/me", method = "get", operation_id = "getCurrentUser")]
    async fn me(
        &self,
        credentials: Credentials,
    ) -> Result<Json<CurrentUser>, ApiError<SessionErrors>> {
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
    ) -> Result<LogoutResponse, ApiError<LogoutErrors>> {
        let principal = credentials.authenticate(&self.auth).await?;
        self.auth.logout(&principal).await?;
        Ok(LogoutResponse::LoggedOut)
    }
}
