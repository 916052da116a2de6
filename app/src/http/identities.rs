//! The caller's own links to external identities: list them, remove one.

use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

use codex_cloud_core::service::{Auth, IdentityLinks};

use crate::http::ApiTags;
use crate::http::admin::IdentityView;
use crate::http::error::ApiError;
use crate::http::security::Credentials;
use crate::http::sessions::Done;
use crate::statuses;

statuses!(ListErrors:
    401 "The access token or session cookie is missing, invalid, expired or revoked (`invalid_token`).",
    500 "Internal error (`internal_error`).",
    503 "The database cannot be reached (`database_unavailable`); try again after `Retry-After` seconds.",
);
statuses!(UnlinkErrors:
    400 "`issuer` or `subject` is missing or malformed (`invalid_request`, `invalid_identity`).",
    401 "The access token or session cookie is missing, invalid, expired or revoked (`invalid_token`).",
    403 "A cross-site request tried to use the session cookie (`cross_site_request`).",
    404 "The caller has no such identity (`identity_not_found`).",
    409 "It is the caller's last way to sign in: no password and no other identity (`last_login_method`).",
    500 "Internal error (`internal_error`).",
    503 "The database cannot be reached (`database_unavailable`); try again after `Retry-After` seconds.",
);

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
    ) -> Result<Json<Vec<IdentityView>>, ApiError<ListErrors>> {
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
    ) -> Result<Done, ApiError<UnlinkErrors>> {
        let principal = credentials.authenticate(&self.auth).await?;
        self.links.unlink_own_identity(&principal, &issuer.0, &subject.0).await?;
        Ok(Done::Done)
    }
}
