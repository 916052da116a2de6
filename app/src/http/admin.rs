//! Administration for administrators' tokens: users, and their links to external identities.

use crate::http::json::Json;
use crate::http::problems::{AdminRefused, BadBody, BadParameter, CrossSiteRequest};
use codex_cloud_core::service::{
    CreateUserError, DisableUserError, IdentityLinkError, ManageUsersError, StoreFailed,
    UnlinkIdentityError, UserLookupError,
};
use poem_openapi::param::{Path, Query};
use poem_openapi::types::Password;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use codex_cloud_core::domain::{ExternalIdentity, User, UserId};
use codex_cloud_core::service::{Accounts, Auth, CreateUser, IdentityLinks, LinkIdentity};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::security::Credentials;

const MAX_PAGE: u64 = 500;

#[derive(Debug, Object)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub is_admin: bool,
    pub disabled: bool,
    /// Whether the user can log in with a password (else only through a linked identity).
    pub has_password: bool,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.to_string(),
            is_admin: user.is_admin,
            disabled: user.disabled,
            has_password: user.password_hash.is_some(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

// No `Debug`: it holds a password.
/// A user to create.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct NewUserRequest {
    pub email: String,
    /// Must meet the password policy (`CODEX_PASSWORD_MIN_LENGTH`, not a common password, not
    /// containing the e-mail name). Omit for a user who signs in only through a linked identity.
    pub password: Option<Password>,
    #[oai(default)]
    pub is_admin: bool,
}

#[derive(Debug, Object)]
pub struct IdentityView {
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub user_id: Uuid,
    /// The e-mail address the provider knows the user by (informational); absent when none was
    /// given, never `null`.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    pub created_at: time::OffsetDateTime,
}

impl From<ExternalIdentity> for IdentityView {
    fn from(identity: ExternalIdentity) -> Self {
        Self {
            id: identity.id,
            issuer: identity.issuer.to_string(),
            subject: identity.subject.to_string(),
            user_id: identity.user_id.as_uuid(),
            email: identity.email.map(|e| e.to_string()),
            created_at: identity.created_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct LinkRequest {
    /// The provider's issuer, byte for byte as its ID tokens give it (for the configured
    /// provider, `CODEX_OIDC_ISSUER`).
    pub issuer: String,
    /// The provider's `sub` for the user.
    pub subject: String,
    pub email: Option<String>,
}

#[derive(ApiResponse)]
pub enum Created<T: poem_openapi::types::ToJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(Json<T>),
}

#[derive(ApiResponse)]
pub enum Unlinked {
    /// Done: the link is removed, the password set, or the sessions ended.
    #[oai(status = 204)]
    Unlinked,
}

// No `Debug`: it holds a password.
/// A new password, set by an administrator.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct PasswordReset {
    pub password: Password,
}

error_set!(ListUsersProblem: BadParameter, AdminRefused, StoreFailed);
error_set!(CreateUserProblem: BadBody, CrossSiteRequest, AdminRefused, CreateUserError);
error_set!(GetUserProblem: BadParameter, AdminRefused, UserLookupError);
error_set!(DisableUserProblem: BadParameter, CrossSiteRequest, AdminRefused, DisableUserError);
error_set!(EnableUserProblem: BadParameter, CrossSiteRequest, AdminRefused, UserLookupError);
error_set!(ResetPasswordProblem: BadParameter, BadBody, CrossSiteRequest, AdminRefused, ManageUsersError);
error_set!(RevokeUserSessionsProblem: BadParameter, CrossSiteRequest, AdminRefused, UserLookupError);
error_set!(ListUserIdentitiesProblem: BadParameter, AdminRefused, UserLookupError);
error_set!(LinkUserIdentityProblem: BadParameter, BadBody, CrossSiteRequest, AdminRefused, IdentityLinkError);
error_set!(UnlinkUserIdentityProblem: BadParameter, CrossSiteRequest, AdminRefused, UnlinkIdentityError);

pub struct AdminApi {
    pub auth: Auth,
    pub accounts: Accounts,
    pub links: IdentityLinks,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// List users
    #[oai(path = "/admin/users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        credentials: Credentials,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "1000000000")))]
        offset: Query<u64>,
        /// At most 500.
        #[oai(default = "default_limit", validator(minimum(value = "0"), maximum(value = "500")))]
        limit: Query<u64>,
    ) -> Result<Json<Vec<UserView>>, ApiError<ListUsersProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let users = self.accounts.list_users(&admin, offset.0, limit.0.min(MAX_PAGE)).await?;
        Ok(Json(users.into_iter().map(UserView::from).collect()))
    }

    /// Create a user
    #[oai(path = "/admin/users", method = "post", operation_id = "createUser")]
    async fn create_user(
        &self,
        credentials: Credentials,
        body: Json<NewUserRequest>,
    ) -> Result<Created<UserView>, ApiError<CreateUserProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let request = CreateUser {
            email: &body.email,
            password: body.password.as_ref().map(|p| p.as_str()),
            is_admin: body.is_admin,
        };
        let user = self.accounts.create_user(&admin, request).await?;
        Ok(Created::Created(Json(user.into())))
    }

    /// Get a user
    #[oai(path = "/admin/users/:user_id", method = "get", operation_id = "getUser")]
    async fn get_user(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<Json<UserView>, ApiError<GetUserProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        Ok(Json(self.accounts.user(&admin, UserId::from_uuid(user_id.0)).await?.into()))
    }

    /// Disable a user
    ///
    /// The user can no longer log in, and all of their sessions end at once (enabling the user
    /// again revives none of them). The last enabled administrator cannot be disabled, nor can
    /// the caller.
    #[oai(path = "/admin/users/:user_id/disable", method = "post", operation_id = "disableUser")]
    async fn disable_user(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<Json<UserView>, ApiError<DisableUserProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        Ok(Json(self.accounts.disable_user(&admin, UserId::from_uuid(user_id.0)).await?.into()))
    }

    /// Enable a user
    #[oai(path = "/admin/users/:user_id/enable", method = "post", operation_id = "enableUser")]
    async fn enable_user(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<Json<UserView>, ApiError<EnableUserProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        Ok(Json(self.accounts.enable_user(&admin, UserId::from_uuid(user_id.0)).await?.into()))
    }

    /// Set a user's password
    ///
    /// An administrator's reset: the password must meet the policy, and all of the user's
    /// sessions end.
    #[oai(path = "/admin/users/:user_id/password", method = "post", operation_id = "resetPassword")]
    async fn reset_password(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
        body: Json<PasswordReset>,
    ) -> Result<Unlinked, ApiError<ResetPasswordProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let id = UserId::from_uuid(user_id.0);
        self.accounts.set_password(&admin, id, body.0.password.as_str()).await?;
        Ok(Unlinked::Unlinked)
    }

    /// End all of a user's sessions
    #[oai(
        path = "/admin/users/:user_id/sessions",
        method = "delete",
        operation_id = "revokeUserSessions"
    )]
    async fn revoke_sessions(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<Unlinked, ApiError<RevokeUserSessionsProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        self.accounts.revoke_sessions(&admin, UserId::from_uuid(user_id.0)).await?;
        Ok(Unlinked::Unlinked)
    }

    /// List a user's external identities
    #[oai(
        path = "/admin/users/:user_id/identities",
        method = "get",
        operation_id = "listUserIdentities"
    )]
    async fn list_identities(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<Json<Vec<IdentityView>>, ApiError<ListUserIdentitiesProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let identities =
            self.links.identities_of_user(&admin, UserId::from_uuid(user_id.0)).await?;
        Ok(Json(identities.into_iter().map(IdentityView::from).collect()))
    }

    /// Link an external identity to a user
    ///
    /// Never done automatically: an identity provider's e-mail claim links nothing.
    #[oai(
        path = "/admin/users/:user_id/identities",
        method = "post",
        operation_id = "linkUserIdentity"
    )]
    async fn link_identity(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
        body: Json<LinkRequest>,
    ) -> Result<Created<IdentityView>, ApiError<LinkUserIdentityProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let request = LinkIdentity {
            issuer: &body.issuer,
            subject: &body.subject,
            user_id: UserId::from_uuid(user_id.0),
            email: body.email.as_deref(),
        };
        let identity = self.links.link_identity(&admin, request).await?;
        Ok(Created::Created(Json(identity.into())))
    }

    /// Unlink an external identity from a user
    #[oai(
        path = "/admin/users/:user_id/identities",
        method = "delete",
        operation_id = "unlinkUserIdentity"
    )]
    async fn unlink_identity(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
        issuer: Query<String>,
        subject: Query<String>,
    ) -> Result<Unlinked, ApiError<UnlinkUserIdentityProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let user_id = UserId::from_uuid(user_id.0);
        self.links.unlink_identity_of(&admin, user_id, &issuer.0, &subject.0).await?;
        Ok(Unlinked::Unlinked)
    }
}

fn default_limit() -> u64 {
    100
}
