//! The caller's own links to external identities: list them, remove one.

use crate::http::json::Json;
use crate::http::problems::{BadParameter, CrossSiteRequest};
use codex_cloud_core::service::{AuthenticateError, OwnIdentityError, StoreFailed};
use poem_openapi::OpenApi;
use poem_openapi::param::Query;

use codex_cloud_core::service::{Auth, IdentityLinks};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::admin::IdentityView;
use crate::http::error::ApiError;
use crate::http::security::Credentials;
use crate::http::sessions::Done;

error_set!(ListOwnIdentitiesProblem: AuthenticateError, StoreFailed);
error_set!(UnlinkOwnIdentityProblem: BadParameter, CrossSiteRequest, AuthenticateError, OwnIdentityError);

pub struct IdentitiesApi {
    pub auth: Auth,
    pub links: IdentityLinks,
}

#[OpenApi(tag = "ApiTags::Auth")]
impl IdentitiesApi {
    /// The caller's linked external identities
    ///
    /// Oldest first. `GET /auth/oidc/link` links another.
    #[oai(path = "/auth/identities", method = "get", operation_id = "listOwnIdentities")]
    async fn list(
        &self,
        credentials: Credentials,
    ) -> Result<Json<Vec<IdentityView>>, ApiError<ListOwnIdentitiesProblem>> {
        let principal = credentials.authenticate(&self.auth).await?;
        let identities = self.links.own_identities(&principal).await?;
        Ok(Json(identities.into_iter().map(IdentityView::from).collect()))
    }

    /// Unlink one of the caller's external identities
    ///
    /// The sessions started through it end. Refused when it is the caller's last way to sign in
    /// (no password and no other identity).
    #[oai(path = "/auth/identities", method = "delete", operation_id = "unlinkOwnIdentity")]
    async fn unlink(
        &self,
        credentials: Credentials,
        /// The provider's issuer, exactly as linked.
        issuer: Query<String>,
        /// The provider's `sub`.
        subject: Query<String>,
    ) -> Result<Done, ApiError<UnlinkOwnIdentityProblem>> {
        let principal = credentials.authenticate(&self.auth).await?;
        self.links.unlink_own_identity(&principal, &issuer.0, &subject.0).await?;
        Ok(Done::Done)
    }
}
