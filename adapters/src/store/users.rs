//! `UserStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

use codex_cloud_core::domain::{AuditEvent, Email, NewUser, PasswordHash, User, UserId};
use codex_cloud_core::ports::{DisableOutcome, RevokeScope, StoreError, UserStore, UserStoreError};

use crate::store::audit;
use crate::store::entity::users;
use crate::store::sessions::revoke_in;
use crate::store::{SeaOrmStore, Violation, begin_write, corrupt, internal, violation};

pub(super) fn user_from_row(row: users::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_uuid(row.id),
        email: Email::parse(&row.email).map_err(|_| corrupt("users", "email"))?,
        password_hash: row.password_hash.map(PasswordHash::new),
        is_admin: row.is_admin,
        disabled: row.disabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Sets the disabled flag in one `UPDATE … RETURNING`.
async fn set_disabled(
    db: &impl ConnectionTrait,
    id: UserId,
    disabled: bool,
    at: OffsetDateTime,
) -> Result<Option<User>, StoreError> {
    let rows = users::Entity::update_many()
        .col_expr(users::Column::Disabled, Expr::value(disabled))
        .col_expr(users::Column::UpdatedAt, Expr::value(at))
        .filter(users::Column::Id.eq(id.as_uuid()))
        .exec_with_returning(db)
        .await
        .map_err(internal)?;
    rows.into_iter().next().map(user_from_row).transpose()
}

#[async_trait]
impl UserStore for SeaOrmStore {
    async fn create_user(&self, user: NewUser, audit: &AuditEvent) -> Result<User, UserStoreError> {
        let row = users::ActiveModel {
            id: Set(user.id.as_uuid()),
            email: Set(user.email.as_str().to_owned()),
            password_hash: Set(user.password_hash.map(|h| h.as_str().to_owned())),
            is_admin: Set(user.is_admin),
            disabled: Set(false),
            created_at: Set(user.created_at),
            updated_at: Set(user.created_at),
        };
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let inserted = users::Entity::insert(row).exec_with_returning(&txn).await.map_err(|e| {
            match violation(&e) {
                // The migration names the index on lower(email).
                Some(Violation::Unique(message)) if message.contains("users_email_lower_key") => {
                    UserStoreError::DuplicateEmail
                }
                Some(Violation::Unique(_)) => UserStoreError::DuplicateId,
                _ => UserStoreError::Internal(internal(e).0),
            }
        })?;
        audit::write(&txn, audit).await?;
        txn.commit().await.map_err(internal)?;
        Ok(user_from_row(inserted)?)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = users::Entity::find_by_id(id.as_uuid()).one(&self.db).await.map_err(internal)?;
        row.map(user_from_row).transpose()
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let row = users::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(users::Column::Email))).eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(internal)?;
        row.map(user_from_row).transpose()
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, StoreError> {
        let rows = users::Entity::find()
            .order_by_asc(users::Column::CreatedAt)
            .order_by_asc(users::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(internal)?;
        rows.into_iter().map(user_from_row).collect()
    }

    async fn disable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<DisableOutcome, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        // The enabled administrators, locked on PostgreSQL so that two administrators cannot
        // disable each other at once (SQLite serialises writing transactions anyway).
        let mut admins = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::IsAdmin.eq(true))
            .filter(users::Column::Disabled.eq(false));
        if txn.get_database_backend() == DbBackend::Postgres {
            admins = admins.lock_exclusive();
        }
        let admins: Vec<uuid::Uuid> = admins.into_tuple().all(&txn).await.map_err(internal)?;
        if admins.len() <= 1 && admins.contains(&id.as_uuid()) {
            txn.rollback().await.map_err(internal)?;
            return Ok(DisableOutcome::LastAdmin);
        }
        let Some(user) = set_disabled(&txn, id, true, at).await? else {
            txn.rollback().await.map_err(internal)?;
            return Ok(DisableOutcome::UnknownUser);
        };
        let revoked = revoke_in(&txn, &RevokeScope::User { user: id, except: None }, at).await?;
        audit::write(&txn, &event.clone().detail("sessions_revoked", revoked)).await?;
        txn.commit().await.map_err(internal)?;
        Ok(DisableOutcome::Disabled(user))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        at: OffsetDateTime,
        revoke: Option<&RevokeScope>,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let updated = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(Some(hash.as_str().to_owned())))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        let changed = updated.rows_affected > 0;
        let revoked = match (changed, revoke) {
            (true, Some(scope)) => revoke_in(&txn, scope, at).await?,
            _ => 0,
        };
        if let (true, Some(event)) = (changed, event) {
            audit::write(&txn, &event.clone().detail("sessions_revoked", revoked)).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(changed)
    }

    async fn enable_user(
        &self,
        id: UserId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let user = set_disabled(&txn, id, false, at).await?;
        if user.is_some() {
            audit::write(&txn, event).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(user)
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        // The schema's foreign keys delete the user's links and sessions with it.
        let deleted =
            users::Entity::delete_by_id(id.as_uuid()).exec(&self.db).await.map_err(internal)?;
        Ok(deleted.rows_affected > 0)
    }
}
