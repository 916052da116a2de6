//! `SessionStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use time::OffsetDateTime;

use codex_cloud_core::domain::{Session, SessionId, User, UserId};
use codex_cloud_core::ports::{SessionStore, SessionStoreError, StoreError};

use crate::store::entity::{sessions, users};
use crate::store::users::user_from_row;
use crate::store::{SeaOrmStore, Violation, internal, violation};

fn session_from_row(row: sessions::Model) -> Session {
    Session {
        id: SessionId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

#[async_trait]
impl SessionStore for SeaOrmStore {
    async fn create_session(&self, session: &Session) -> Result<(), SessionStoreError> {
        let row = sessions::ActiveModel {
            id: Set(session.id.as_uuid()),
            user_id: Set(session.user_id.as_uuid()),
            created_at: Set(session.created_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(session.revoked_at),
        };
        sessions::Entity::insert(row).exec(&self.db).await.map(|_| ()).map_err(|e| match violation(
            &e,
        ) {
            Some(Violation::Unique(_)) => SessionStoreError::DuplicateId,
            Some(Violation::ForeignKey) => SessionStoreError::UnknownUser,
            None => SessionStoreError::Internal(Box::new(e)),
        })
    }

    async fn session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        // One query: the session joined with its user.
        let found = sessions::Entity::find_by_id(id.as_uuid())
            .find_also_related(users::Entity)
            .one(&self.db)
            .await
            .map_err(internal)?;
        match found {
            Some((session, Some(user))) => {
                Ok(Some((session_from_row(session), user_from_row(user)?)))
            }
            _ => Ok(None),
        }
    }

    async fn revoke_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(at)))
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(internal)
    }
}
