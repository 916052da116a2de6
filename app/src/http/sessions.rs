//! The caller's own sessions and password.

use crate::http::json::Json;
use crate::http::problems::{BadBody, BadParameter, CrossSiteRequest};
use codex_cloud_core::service::{
    AuthenticateError, PasswordChangeError, SessionError, StoreFailed,
};
use poem_openapi::param::Path;
use poem_openapi::types::Password;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use codex_cloud_core::domain::SessionId;
use codex_cloud_core::service::{Auth, SessionView};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::security::Credentials;

/// How a session began.
#[derive(Debug, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SessionMethodView {
    Password,
    Oidc,
}

/// A live session of the caller.
#[derive(Debug, Object)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: time::OffsetDateTime,
    pub last_used_at: time::OffsetDateTime,
    /// When it ends unless used again (the idle timeout, capped by the maximum age).
    pub expires_at: time::OffsetDateTime,
    pub method: SessionMethodView,
    /// Whether this request uses it.
    pub current: bool,
}

impl From<SessionView> for SessionInfo {
    fn from(view: SessionView) -> Self {
        let method = match view.session.method.as_str() {
            "oidc" => SessionMethodView::Oidc,
            _ => SessionMethodView::Password,
        };
        Self {
            id: view.session.id.as_uuid(),
            created_at: view.session.created_at,
            last_used_at: view.session.last_used_at,
            expires_at: view.ends_at,
            method,
            current: view.current,
        }
    }
}

// No `Debug`: it holds passwords.
/// The caller's current password and the new one.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: Password,
    pub new_password: Password,
}

#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 204)]
    Done,
}

error_set!(ListSessionsProblem: AuthenticateError, StoreFailed);
error_set!(RevokeSessionProblem: BadParameter, CrossSiteRequest, AuthenticateError, SessionError);
error_set!(ChangePasswordProblem: BadBody, CrossSiteRequest, AuthenticateError, PasswordChangeError);

pub struct SessionsApi {
    pub auth: Auth,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl SessionsApi {
    /// The caller's live sessions
    #[oai(path = "/auth/sessions", method = "get", operation_id = "listSessions")]
    async fn list(
        &self,
        credentials: Credentials,
    ) -> Result<Json<Vec<SessionInfo>>, ApiError<ListSessionsProblem>> {
        let principal = credentials.authenticate(&self.auth).await?;
        let sessions = self.auth.sessions(&principal).await?;
        Ok(Json(sessions.into_iter().map(SessionInfo::from).collect()))
    }

    /// End one of the caller's sessions
    #[oai(path = "/auth/sessions/:session_id", method = "delete", operation_id = "revokeSession")]
    async fn revoke(
        &self,
        credentials: Credentials,
        session_id: Path<Uuid>,
    ) -> Result<Done, ApiError<RevokeSessionProblem>> {
        let principal = credentials.authenticate(&self.auth).await?;
        self.auth.revoke_own_session(&principal, SessionId::from_uuid(session_id.0)).await?;
        Ok(Done::Done)
    }

    /// Change the caller's password
    ///
    /// Throttled like a login. Ends every other session of the caller.
    #[oai(path = "/auth/password", method = "post", operation_id = "changePassword")]
    async fn change_password(
        &self,
        credentials: Credentials,
        body: Json<PasswordChange>,
    ) -> Result<Done, ApiError<ChangePasswordProblem>> {
        let principal = credentials.authenticate(&self.auth).await?;
        let (current, new) = (body.0.current_password, body.0.new_password);
        let client = principal.address;
        self.auth.change_password(&principal, current.as_str(), new.as_str(), client).await?;
        Ok(Done::Done)
    }
}
