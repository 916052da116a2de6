//! `IdentityLinkStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, FromQueryResult, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationTrait,
};
use uuid::Uuid;

use codex_cloud_core::domain::{
    AuditEvent, Email, ExternalIdentity, Issuer, NewExternalIdentity, Subject, User, UserId,
};
use codex_cloud_core::ports::{
    IdentityLinkStore, LinkStoreError, OwnUnlink, RevokeScope, StoreError,
};

use crate::store::audit;
use crate::store::entity::{external_identities, users};
use crate::store::sessions::revoke_in;
use crate::store::users::user_from_row;
use crate::store::{
    SeaOrmStore, Violation, begin_write, corrupt, internal, sqlite_read, violation,
};

use external_identities::{Column, Entity};

pub(super) fn identity_from_row(
    row: external_identities::Model,
) -> Result<ExternalIdentity, StoreError> {
    let email = match row.email.as_deref() {
        Some(raw) => Some(Email::parse(raw).map_err(|_| corrupt("external_identities", "email"))?),
        None => None,
    };
    Ok(ExternalIdentity {
        id: row.id,
        issuer: Issuer::new(row.issuer).map_err(|_| corrupt("external_identities", "issuer"))?,
        subject: Subject::new(row.subject)
            .map_err(|_| corrupt("external_identities", "subject"))?,
        user_id: UserId::from_uuid(row.user_id),
        email,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub(super) fn identity_row(identity: &NewExternalIdentity) -> external_identities::ActiveModel {
    external_identities::ActiveModel {
        id: Set(Uuid::now_v7()),
        issuer: Set(identity.issuer.as_str().to_owned()),
        subject: Set(identity.subject.as_str().to_owned()),
        user_id: Set(identity.user_id.as_uuid()),
        email: Set(identity.email.as_ref().map(|e| e.as_str().to_owned())),
        created_at: Set(identity.created_at),
        updated_at: Set(identity.created_at),
    }
}

pub(super) fn link_error(error: sea_orm::DbErr) -> LinkStoreError {
    match violation(&error) {
        Some(Violation::Unique(_)) => LinkStoreError::AlreadyLinked,
        Some(Violation::ForeignKey) => LinkStoreError::UnknownUser,
        None => LinkStoreError::Internal(internal(error).0),
    }
}

impl SeaOrmStore {
    /// Deletes the link of (issuer, subject), only if it belongs to `owner` when one is given,
    /// and records `event` (with the link's user) in the same transaction when it did.
    async fn delete_link(
        &self,
        issuer: &Issuer,
        subject: &Subject,
        owner: Option<UserId>,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let mut delete = Entity::delete_many()
            .filter(Column::Issuer.eq(issuer.as_str()))
            .filter(Column::Subject.eq(subject.as_str()));
        if let Some(owner) = owner {
            delete = delete.filter(Column::UserId.eq(owner.as_uuid()));
        }
        let deleted = delete.exec_with_returning(&txn).await.map_err(internal)?;
        let Some(row) = deleted.into_iter().next() else {
            txn.rollback().await.map_err(internal)?;
            return Ok(false);
        };
        let scope = RevokeScope::Identity { issuer: issuer.clone(), subject: subject.clone() };
        let revoked = revoke_in(&txn, &scope, event.occurred_at).await?;
        let mut event = event.clone().detail("sessions_revoked", revoked);
        event.user_id.get_or_insert(UserId::from_uuid(row.user_id));
        audit::write(&txn, &event).await?;
        txn.commit().await.map_err(internal)?;
        Ok(true)
    }

    /// Inserts a link (updating the existing one with `on_conflict`) and its audit event.
    async fn insert_link(
        &self,
        identity: &NewExternalIdentity,
        on_conflict: Option<OnConflict>,
        event: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(link_error)?;
        // A link moved to another user takes the sessions started through it along: they end.
        let before = Entity::find()
            .filter(Column::Issuer.eq(identity.issuer.as_str()))
            .filter(Column::Subject.eq(identity.subject.as_str()))
            .one(&txn)
            .await
            .map_err(link_error)?;
        let mut insert = Entity::insert(identity_row(identity));
        if let Some(on_conflict) = on_conflict {
            insert = insert.on_conflict(on_conflict);
        }
        let row = insert.exec_with_returning(&txn).await.map_err(link_error)?;
        if before.is_some_and(|b| b.user_id != row.user_id) {
            let scope = RevokeScope::Identity {
                issuer: identity.issuer.clone(),
                subject: identity.subject.clone(),
            };
            revoke_in(&txn, &scope, event.occurred_at).await?;
        }
        audit::write(&txn, event).await?;
        txn.commit().await.map_err(link_error)?;
        Ok(identity_from_row(row)?)
    }
}

#[async_trait]
impl IdentityLinkStore for SeaOrmStore {
    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
        event: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        self.insert_link(&identity, None, event).await
    }

    async fn link_or_update_identity(
        &self,
        identity: NewExternalIdentity,
        event: &AuditEvent,
    ) -> Result<ExternalIdentity, LinkStoreError> {
        let on_conflict = OnConflict::columns([Column::Issuer, Column::Subject])
            .update_columns([Column::UserId, Column::Email, Column::UpdatedAt])
            .to_owned();
        self.insert_link(&identity, Some(on_conflict), event).await
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.delete_link(issuer, subject, None, event).await
    }

    async fn unlink_identity_of(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        self.delete_link(issuer, subject, Some(user), event).await
    }

    async fn unlink_own_identity(
        &self,
        user: UserId,
        issuer: &Issuer,
        subject: &Subject,
        event: &AuditEvent,
    ) -> Result<OwnUnlink, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        // Writing the user's row first makes concurrent removals for one user take turns (a row
        // lock on PostgreSQL, the database's write lock on SQLite), so the count below is exact.
        let owner = users::Entity::update_many()
            .col_expr(users::Column::UpdatedAt, Expr::col(users::Column::UpdatedAt))
            .filter(users::Column::Id.eq(user.as_uuid()))
            .exec_with_returning(&txn)
            .await
            .map_err(internal)?;
        let Some(owner) = owner.into_iter().next() else {
            txn.rollback().await.map_err(internal)?;
            return Ok(OwnUnlink::NotLinked);
        };
        let deleted = Entity::delete_many()
            .filter(Column::Issuer.eq(issuer.as_str()))
            .filter(Column::Subject.eq(subject.as_str()))
            .filter(Column::UserId.eq(user.as_uuid()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if deleted.rows_affected == 0 {
            txn.rollback().await.map_err(internal)?;
            return Ok(OwnUnlink::NotLinked);
        }
        let others = Entity::find()
            .filter(Column::UserId.eq(user.as_uuid()))
            .limit(1)
            .count(&txn)
            .await
            .map_err(internal)?;
        if others == 0 && owner.password_hash.is_none() {
            txn.rollback().await.map_err(internal)?;
            return Ok(OwnUnlink::LastLoginMethod);
        }
        let scope = RevokeScope::Identity { issuer: issuer.clone(), subject: subject.clone() };
        let revoked = revoke_in(&txn, &scope, event.occurred_at).await?;
        audit::write(&txn, &event.clone().detail("sessions_revoked", revoked)).await?;
        txn.commit().await.map_err(internal)?;
        Ok(OwnUnlink::Removed)
    }

    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(id.as_uuid()))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        rows.into_iter().map(identity_from_row).collect()
    }

    async fn user_by_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<User>, StoreError> {
        let linked = users::Entity::find()
            .join(JoinType::InnerJoin, external_identities::Relation::User.def().rev())
            .filter(external_identities::Column::Issuer.eq(issuer.as_str()))
            .filter(external_identities::Column::Subject.eq(subject.as_str()))
            .limit(1);
        let found = match self.db.get_database_backend() {
            // Every provider login asks: on a kept connection (see `sqlite_read`).
            DbBackend::Sqlite => {
                let rows = sqlite_read(self, linked.as_query()).await.map_err(internal)?;
                let row = rows.first().map(|row| users::Model::from_query_result(row, ""));
                row.transpose().map_err(internal)?
            }
            _ => linked.one(&self.db).await.map_err(internal)?,
        };
        found.map(user_from_row).transpose()
    }
}
