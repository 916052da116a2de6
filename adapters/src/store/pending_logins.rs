//! `PendingLoginStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use time::OffsetDateTime;

use codex_cloud_core::domain::{
    Issuer, LoginPurpose, PendingLogin, ReturnTo, SecretString, SessionId, StateDigest,
};
use codex_cloud_core::ports::{PendingLoginStore, PendingLoginStoreError, StoreError};

use crate::store::entity::pending_logins::{ActiveModel, Column, Entity, Model};
use crate::store::{SeaOrmStore, Violation, corrupt, internal, violation};

fn hex(digest: &StateDigest) -> String {
    digest.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn login_from_row(state: &StateDigest, row: Model) -> Result<PendingLogin, StoreError> {
    let return_to = match row.return_to.as_deref() {
        Some(raw) => {
            Some(ReturnTo::parse(raw).map_err(|_| corrupt("pending_logins", "return_to"))?)
        }
        None => None,
    };
    let purpose = match (row.invitation_id, row.link_session_id) {
        (None, None) => LoginPurpose::Login,
        (Some(invitation), None) => LoginPurpose::Invitation(invitation),
        (None, Some(session)) => LoginPurpose::Link(SessionId::from_uuid(session)),
        (Some(_), Some(_)) => return Err(corrupt("pending_logins", "invitation_id")),
    };
    Ok(PendingLogin {
        state: state.clone(),
        nonce: SecretString::new(row.nonce),
        pkce_verifier: SecretString::new(row.pkce_verifier),
        issuer: Issuer::new(row.issuer).map_err(|_| corrupt("pending_logins", "issuer"))?,
        return_to,
        created_at: row.created_at,
        client_key: row.client_key,
        purpose,
    })
}

#[async_trait]
impl PendingLoginStore for SeaOrmStore {
    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), PendingLoginStoreError> {
        let row = ActiveModel {
            state_digest: Set(hex(&login.state)),
            nonce: Set(login.nonce.expose().to_owned()),
            pkce_verifier: Set(login.pkce_verifier.expose().to_owned()),
            issuer: Set(login.issuer.as_str().to_owned()),
            return_to: Set(login.return_to.as_ref().map(|r| r.as_str().to_owned())),
            created_at: Set(login.created_at),
            client_key: Set(login.client_key.clone()),
            invitation_id: Set(match login.purpose {
                LoginPurpose::Invitation(id) => Some(id),
                _ => None,
            }),
            link_session_id: Set(match login.purpose {
                LoginPurpose::Link(session) => Some(session.as_uuid()),
                _ => None,
            }),
        };
        Entity::insert(row).exec(&self.db).await.map(|_| ()).map_err(|e| match violation(&e) {
            Some(Violation::Unique(_)) => PendingLoginStoreError::DuplicateState,
            _ => PendingLoginStoreError::Internal(internal(e).0),
        })
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        // One `DELETE … RETURNING`: of two concurrent callers, only one gets the row.
        let row = Entity::delete_by_id(hex(state))
            .exec_with_returning(&self.db)
            .await
            .map_err(internal)?;
        row.map(|row| login_from_row(state, row)).transpose()
    }

    async fn count_pending_logins_of(
        &self,
        client_key: &str,
        since: OffsetDateTime,
        at_most: u64,
    ) -> Result<u64, StoreError> {
        // `SELECT COUNT(*) FROM (SELECT … LIMIT at_most)` through the (client_key, created_at)
        // index: bounded work, whatever the table holds.
        Entity::find()
            .filter(Column::ClientKey.eq(client_key))
            .filter(Column::CreatedAt.gte(since))
            .limit(at_most)
            .count(&self.db)
            .await
            .map_err(internal)
    }

    async fn purge_pending_logins(
        &self,
        before: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        let batch_keys = Query::select()
            .column(Column::StateDigest)
            .from(Entity)
            .cond_where(Column::CreatedAt.lt(before))
            .limit(batch)
            .to_owned();
        let deleted = Entity::delete_many()
            .filter(Column::StateDigest.in_subquery(batch_keys))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected)
    }
}
