//! `InvitationStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use uuid::Uuid;

use codex_cloud_core::domain::{
    AuditEvent, ExternalIdentity, Invitation, NewExternalIdentity, TokenDigest, UserId,
    VerifiedIdentity,
};
use codex_cloud_core::ports::{InvitationStore, InvitationStoreError, RedeemError, StoreError};

use crate::store::audit;
use crate::store::entity::{external_identities, invitations, users};
use crate::store::identity_links::{identity_from_row, identity_row};
use crate::store::{SeaOrmStore, Violation, begin_write, corrupt, internal, violation};

use invitations::{ActiveModel, Column, Entity, Model};

fn invitation_from_row(row: Model) -> Result<Invitation, StoreError> {
    let token = TokenDigest::from_hex(&row.token_digest)
        .ok_or_else(|| corrupt("invitations", "token_digest"))?;
    Ok(Invitation {
        id: row.id,
        user_id: UserId::from_uuid(row.user_id),
        token,
        created_at: row.created_at,
        expires_at: row.expires_at,
        spent_at: row.spent_at,
    })
}

#[async_trait]
impl InvitationStore for SeaOrmStore {
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        event: &AuditEvent,
    ) -> Result<(), InvitationStoreError> {
        let row = ActiveModel {
            id: Set(invitation.id),
            user_id: Set(invitation.user_id.as_uuid()),
            token_digest: Set(invitation.token.to_hex()),
            created_at: Set(invitation.created_at),
            expires_at: Set(invitation.expires_at),
            spent_at: Set(invitation.spent_at),
        };
        let fail = |e: sea_orm::DbErr| match violation(&e) {
            Some(Violation::ForeignKey) => InvitationStoreError::UnknownUser,
            _ => InvitationStoreError::Internal(internal(e).0),
        };
        let txn = begin_write(&self.db).await.map_err(fail)?;
        Entity::insert(row).exec(&txn).await.map_err(fail)?;
        audit::write(&txn, event).await?;
        txn.commit().await.map_err(fail)
    }

    async fn invitations_of_user(&self, user: UserId) -> Result<Vec<Invitation>, StoreError> {
        let rows = Entity::find()
            .filter(Column::UserId.eq(user.as_uuid()))
            .order_by_desc(Column::CreatedAt)
            .order_by_desc(Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        rows.into_iter().map(invitation_from_row).collect()
    }

    async fn invitation_by_token(
        &self,
        token: &TokenDigest,
    ) -> Result<Option<Invitation>, StoreError> {
        let row = Entity::find()
            .filter(Column::TokenDigest.eq(token.to_hex()))
            .one(&self.db)
            .await
            .map_err(internal)?;
        row.map(invitation_from_row).transpose()
    }

    async fn revoke_invitation(&self, id: Uuid, event: &AuditEvent) -> Result<bool, StoreError> {
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let deleted = Entity::delete_many()
            .filter(Column::Id.eq(id))
            .exec_with_returning(&txn)
            .await
            .map_err(internal)?;
        let Some(row) = deleted.into_iter().next() else {
            txn.rollback().await.map_err(internal)?;
            return Ok(false);
        };
        let mut event = event.clone();
        event.user_id.get_or_insert(UserId::from_uuid(row.user_id));
        audit::write(&txn, &event).await?;
        txn.commit().await.map_err(internal)?;
        Ok(true)
    }

    async fn redeem_invitation(
        &self,
        id: Uuid,
        identity: &VerifiedIdentity,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<ExternalIdentity, RedeemError> {
        let fail = |e: sea_orm::DbErr| RedeemError::Internal(internal(e).0);
        let txn = begin_write(&self.db).await.map_err(fail)?;
        // Spending first: of two concurrent redemptions, only one updates the row.
        let spent = Entity::update_many()
            .col_expr(Column::SpentAt, Expr::value(Some(at)))
            .filter(Column::Id.eq(id))
            .filter(Column::SpentAt.is_null())
            .filter(Column::ExpiresAt.gt(at))
            .exec_with_returning(&txn)
            .await
            .map_err(fail)?;
        let Some(invitation) = spent.into_iter().next() else {
            txn.rollback().await.map_err(fail)?;
            return Err(RedeemError::InvalidInvitation);
        };
        let invited = UserId::from_uuid(invitation.user_id);
        let enabled = users::Entity::find_by_id(invitation.user_id)
            .one(&txn)
            .await
            .map_err(fail)?
            .is_some_and(|user| !user.disabled);
        if !enabled {
            txn.rollback().await.map_err(fail)?;
            return Err(RedeemError::InvalidInvitation);
        }
        let existing = external_identities::Entity::find()
            .filter(external_identities::Column::Issuer.eq(identity.issuer.as_str()))
            .filter(external_identities::Column::Subject.eq(identity.subject.as_str()))
            .one(&txn)
            .await
            .map_err(fail)?;
        let link = match existing {
            Some(row) if row.user_id != invited.as_uuid() => {
                txn.rollback().await.map_err(fail)?;
                return Err(RedeemError::AlreadyLinked);
            }
            Some(row) => row,
            None => {
                let new = NewExternalIdentity {
                    issuer: identity.issuer.clone(),
                    subject: identity.subject.clone(),
                    user_id: invited,
                    email: identity.email.clone(),
                    created_at: at,
                };
                let inserted = external_identities::Entity::insert(identity_row(&new))
                    .exec_with_returning(&txn)
                    .await;
                let row = match inserted {
                    Ok(row) => row,
                    // Linked by someone else meanwhile: nothing changes.
                    Err(e) if matches!(violation(&e), Some(Violation::Unique(_))) => {
                        txn.rollback().await.map_err(fail)?;
                        return Err(RedeemError::AlreadyLinked);
                    }
                    Err(e) => return Err(fail(e)),
                };
                let mut event = event.clone();
                event.user_id.get_or_insert(invited);
                audit::write(&txn, &event).await?;
                row
            }
        };
        txn.commit().await.map_err(fail)?;
        Ok(identity_from_row(link)?)
    }
}
