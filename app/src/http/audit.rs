//! The audit trail, for administrators.

use std::collections::BTreeMap;

use crate::http::json::Json;
use crate::http::problems::{AdminRefused, BadParameter};
use codex_cloud_core::service::StoreFailed;
use poem_openapi::param::Query;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use codex_cloud_core::domain::{AuditEvent, AuditFilter, AuditKind, UserId};
use codex_cloud_core::service::{Accounts, Auth};

use crate::error_set;
use crate::http::ApiTags;
use crate::http::error::ApiError;
use crate::http::security::Credentials;

/// One entry of the audit trail. `detail` never holds a password, token, code, secret or cookie.
#[derive(Debug, Object)]
pub struct AuditEventView {
    pub id: Uuid,
    pub occurred_at: time::OffsetDateTime,
    /// `login.password`, `login.oidc`, `login.throttled`, `logout`, `refresh`,
    /// `refresh.reuse_detected`, `password.changed`, `user.created`, `user.disabled`,
    /// `user.enabled`, `identity.linked`, `identity.unlinked`, `sessions.revoked`,
    /// `invitation.created` or `invitation.revoked`.
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The account concerned.
    #[oai(skip_serializing_if_is_none)]
    pub user_id: Option<Uuid>,
    /// The administrator who acted, when not the user.
    #[oai(skip_serializing_if_is_none)]
    pub actor_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub client_address: Option<String>,
    /// Small facts: the problem `code` of a failure, a `session` id, an `issuer` and `subject`.
    pub detail: BTreeMap<String, String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            occurred_at: event.occurred_at,
            kind: event.kind.as_str().to_owned(),
            outcome: event.outcome.as_str().to_owned(),
            user_id: event.user_id.map(|u| u.as_uuid()),
            actor_id: event.actor_id.map(|u| u.as_uuid()),
            client_address: event.client_address.map(|a| a.to_string()),
            detail: event.detail.into_iter().collect(),
        }
    }
}

error_set!(ListAuditEventsProblem: BadParameter, AdminRefused, StoreFailed);

pub struct AuditApi {
    pub auth: Auth,
    pub accounts: Accounts,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AuditApi {
    /// The audit trail
    ///
    /// Newest first; `before` pages back in time (or use `offset`).
    #[oai(path = "/admin/audit-events", method = "get", operation_id = "listAuditEvents")]
    async fn list(
        &self,
        credentials: Credentials,
        /// Only events concerning this user.
        user_id: Query<Option<Uuid>>,
        /// Only events of this kind (e.g. `login.password`).
        kind: Query<Option<String>>,
        /// Only events that occurred before this time (RFC 3339).
        before: Query<Option<time::OffsetDateTime>>,
        #[oai(default, validator(minimum(value = "0"), maximum(value = "1000000000")))]
        offset: Query<u64>,
        /// At most 500.
        #[oai(default = "default_limit", validator(minimum(value = "0"), maximum(value = "500")))]
        limit: Query<u64>,
    ) -> Result<Json<Vec<AuditEventView>>, ApiError<ListAuditEventsProblem>> {
        let admin = credentials.authenticate_admin(&self.auth).await?;
        let kind = match kind.0.as_deref() {
            Some(raw) => Some(AuditKind::parse(raw).ok_or_else(|| {
                BadParameter(format!("`kind` {raw:?} is not a kind of audit event"))
            })?),
            None => None,
        };
        let filter =
            AuditFilter { user_id: user_id.0.map(UserId::from_uuid), kind, before: before.0 };
        let events = self.accounts.audit_events(&admin, &filter, offset.0, limit.0).await?;
        Ok(Json(events.into_iter().map(AuditEventView::from).collect()))
    }
}

fn default_limit() -> u64 {
    100
}
