//! Invitations (administrators): a single-use URL that links the provider account of whoever
//! opens it to a chosen user.

use crate::http::json::Json;
use crate::http::problems::{AdminRefused, BadParameter, CrossSiteRequest, OidcNotConfigured};
use codex_cloud_core::service::{InvitationError, UserLookupError};
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use codex_cloud_core::domain::{Invitation, InvitationStatus, UserId};
use codex_cloud_core::service::{Auth, Invitations, IssuedInvitation};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::security::Credentials;

/// A new invitation. `url` is shown only here: the server keeps a digest of its token.
#[derive(Debug, Object)]
pub struct NewInvitation {
    pub id: Uuid,
    /// The public origin plus `/auth/oidc/login?invitation=<token>`: opening it begins a
    /// provider login that links the provider account to the invited user.
    pub url: String,
    pub expires_at: time::OffsetDateTime,
}

impl From<IssuedInvitation> for NewInvitation {
    fn from(issued: IssuedInvitation) -> Self {
        Self { id: issued.invitation.id, url: issued.url, expires_at: issued.invitation.expires_at }
    }
}

/// Where an invitation stands.
#[derive(Debug, Enum)]
#[oai(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Spent,
    Expired,
}

/// An invitation, without its URL.
#[derive(Debug, Object)]
pub struct InvitationView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: time::OffsetDateTime,
    pub expires_at: time::OffsetDateTime,
    /// When a provider login redeemed it; absent while unspent.
    #[oai(skip_serializing_if_is_none)]
    pub spent_at: Option<time::OffsetDateTime>,
    pub status: InvitationState,
}

impl InvitationView {
    fn new(invitation: Invitation, status: InvitationStatus) -> Self {
        let status = match status {
            InvitationStatus::Pending => InvitationState::Pending,
            InvitationStatus::Spent => InvitationState::Spent,
            InvitationStatus::Expired => InvitationState::Expired,
        };
        Self {
            id: invitation.id,
            user_id: invitation.user_id.as_uuid(),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
            spent_at: invitation.spent_at,
            status,
        }
    }
}

#[derive(ApiResponse)]
pub enum InvitationCreated {
    /// Created: hand `url` to the invited person.
    #[oai(status = 201)]
    Created(Json<NewInvitation>),
}

#[derive(ApiResponse)]
pub enum Revoked {
    /// Revoked: its URL no longer works.
    #[oai(status = 204)]
    Revoked,
}

error_set!(CreateInvitationProblem: BadParameter, CrossSiteRequest, AdminRefused, OidcNotConfigured, UserLookupError);
error_set!(ListInvitationsProblem: BadParameter, AdminRefused, OidcNotConfigured, UserLookupError);
error_set!(RevokeInvitationProblem: BadParameter, CrossSiteRequest, AdminRefused, OidcNotConfigured, InvitationError);

pub struct InvitationsApi {
    pub auth: Auth,
    /// Present when OpenID Connect is configured.
    pub invitations: Option<Invitations>,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl InvitationsApi {
    /// Invite a user to link their provider account
    ///
    /// The URL is single use and expires after `CODEX_INVITATION_TTL` seconds. Opening it begins
    /// a provider login; at the callback an identity linked to nobody is linked to this user
    /// (audited as `identity.linked`), the invitation is spent, and a session starts.
    #[oai(
        path = "/admin/users/:user_id/invitations",
        method = "post",
        operation_id = "createInvitation"
    )]
    async fn create(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<InvitationCreated, ApiError<CreateInvitationProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let issued = self
            .invitations
            .as_ref()
            .ok_or(OidcNotConfigured)?
            .invite(&admin, UserId::from_uuid(user_id.0))
            .await?;
        Ok(InvitationCreated::Created(Json(issued.into())))
    }

    /// List a user's invitations
    ///
    /// Newest first, spent and expired ones included; never their URLs.
    #[oai(
        path = "/admin/users/:user_id/invitations",
        method = "get",
        operation_id = "listInvitations"
    )]
    async fn list(
        &self,
        credentials: Credentials,
        user_id: Path<Uuid>,
    ) -> Result<Json<Vec<InvitationView>>, ApiError<ListInvitationsProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let invitations = self.invitations.as_ref().ok_or(OidcNotConfigured)?;
        let list = invitations.invitations_of_user(&admin, UserId::from_uuid(user_id.0)).await?;
        Ok(Json(list.into_iter().map(|(i, status)| InvitationView::new(i, status)).collect()))
    }

    /// Revoke an invitation
    #[oai(
        path = "/admin/invitations/:invitation_id",
        method = "delete",
        operation_id = "revokeInvitation"
    )]
    async fn revoke(
        &self,
        credentials: Credentials,
        invitation_id: Path<Uuid>,
    ) -> Result<Revoked, ApiError<RevokeInvitationProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        self.invitations.as_ref().ok_or(OidcNotConfigured)?.revoke(&admin, invitation_id.0).await?;
        Ok(Revoked::Revoked)
    }
}
