//! `IdentityStore` over SeaORM: translation between rows and domain types, nothing more.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use time::OffsetDateTime;
use uuid::Uuid;

use codex_cloud_core::domain::{
    Email, ExternalIdentity, Issuer, NewExternalIdentity, NewUser, PasswordHash, PendingLogin,
    ReturnTo, SecretString, Session, SessionId, StateDigest, Subject, User, UserId,
};
use codex_cloud_core::ports::{IdentityStore, StoreError};

use crate::store::entity::{external_identities, pending_logins, sessions, users};
use crate::store::{SeaOrmIdentityStore, classify, corrupt, internal};

fn user_from_row(row: users::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_uuid(row.id),
        email: Email::parse(&row.email).map_err(|_| corrupt("e-mail"))?,
        password_hash: row.password_hash.map(PasswordHash::new),
        is_admin: row.is_admin,
        disabled: row.disabled,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn identity_from_row(row: external_identities::Model) -> Result<ExternalIdentity, StoreError> {
    Ok(ExternalIdentity {
        id: row.id,
        issuer: Issuer::new(row.issuer).map_err(|_| corrupt("issuer"))?,
        subject: Subject::new(row.subject).map_err(|_| corrupt("subject"))?,
        user_id: UserId::from_uuid(row.user_id),
        email: row.email.as_deref().and_then(|e| Email::parse(e).ok()),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn session_from_row(row: sessions::Model) -> Session {
    Session {
        id: SessionId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

fn hex(digest: &StateDigest) -> String {
    digest.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn identity_row(identity: &NewExternalIdentity) -> external_identities::ActiveModel {
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

impl SeaOrmIdentityStore {
    async fn find_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<Option<external_identities::Model>, StoreError> {
        external_identities::Entity::find()
            .filter(external_identities::Column::Issuer.eq(issuer.as_str()))
            .filter(external_identities::Column::Subject.eq(subject.as_str()))
            .one(&self.db)
            .await
            .map_err(internal)
    }
}

#[async_trait]
impl IdentityStore for SeaOrmIdentityStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.execute_unprepared("SELECT 1").await.map(|_| ()).map_err(internal)
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let row = users::ActiveModel {
            id: Set(user.id.as_uuid()),
            email: Set(user.email.as_str().to_owned()),
            password_hash: Set(user.password_hash.map(|h| h.as_str().to_owned())),
            is_admin: Set(user.is_admin),
            disabled: Set(false),
            created_at: Set(user.created_at),
            updated_at: Set(user.created_at),
        };
        let inserted = users::Entity::insert(row)
            .exec_with_returning(&self.db)
            .await
            .map_err(|e| classify(e, StoreError::DuplicateEmail, StoreError::UnknownUser))?;
        user_from_row(inserted)
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

    async fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let updated = users::Entity::update_many()
            .col_expr(users::Column::Disabled, Expr::value(disabled))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        self.user_by_id(id).await
    }

    async fn link_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        let inserted = external_identities::Entity::insert(identity_row(&identity))
            .exec_with_returning(&self.db)
            .await
            .map_err(|e| classify(e, StoreError::IdentityAlreadyLinked, StoreError::UnknownUser))?;
        identity_from_row(inserted)
    }

    async fn upsert_identity(
        &self,
        identity: NewExternalIdentity,
    ) -> Result<ExternalIdentity, StoreError> {
        use external_identities::Column;
        let on_conflict = OnConflict::columns([Column::Issuer, Column::Subject])
            .update_columns([Column::UserId, Column::Email, Column::UpdatedAt])
            .to_owned();
        external_identities::Entity::insert(identity_row(&identity))
            .on_conflict(on_conflict)
            .exec(&self.db)
            .await
            .map_err(|e| classify(e, StoreError::IdentityAlreadyLinked, StoreError::UnknownUser))?;
        let row = self.find_identity(&identity.issuer, &identity.subject).await?;
        identity_from_row(row.ok_or_else(|| corrupt("identity"))?)
    }

    async fn unlink_identity(
        &self,
        issuer: &Issuer,
        subject: &Subject,
    ) -> Result<bool, StoreError> {
        let deleted = external_identities::Entity::delete_many()
            .filter(external_identities::Column::Issuer.eq(issuer.as_str()))
            .filter(external_identities::Column::Subject.eq(subject.as_str()))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn identities_of_user(&self, id: UserId) -> Result<Vec<ExternalIdentity>, StoreError> {
        let rows = external_identities::Entity::find()
            .filter(external_identities::Column::UserId.eq(id.as_uuid()))
            .order_by_asc(external_identities::Column::CreatedAt)
            .order_by_asc(external_identities::Column::Id)
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
        match self.find_identity(issuer, subject).await? {
            Some(identity) => self.user_by_id(UserId::from_uuid(identity.user_id)).await,
            None => Ok(None),
        }
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let row = sessions::ActiveModel {
            id: Set(session.id.as_uuid()),
            user_id: Set(session.user_id.as_uuid()),
            created_at: Set(session.created_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(session.revoked_at),
        };
        sessions::Entity::insert(row)
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(|e| classify(e, StoreError::UnknownUser, StoreError::UnknownUser))
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let row =
            sessions::Entity::find_by_id(id.as_uuid()).one(&self.db).await.map_err(internal)?;
        Ok(row.map(session_from_row))
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

    async fn save_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        let row = pending_logins::ActiveModel {
            state_digest: Set(hex(&login.state)),
            nonce: Set(login.nonce.expose().to_owned()),
            pkce_verifier: Set(login.pkce_verifier.expose().to_owned()),
            issuer: Set(login.issuer.as_str().to_owned()),
            return_to: Set(login.return_to.as_ref().map(|r| r.as_str().to_owned())),
            created_at: Set(login.created_at),
        };
        pending_logins::Entity::insert(row).exec(&self.db).await.map(|_| ()).map_err(internal)
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        let key = hex(state);
        let Some(row) = pending_logins::Entity::find_by_id(key.clone())
            .one(&self.db)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        // Whoever deletes the row owns the login: of two concurrent callers, one gets 0 rows.
        let deleted =
            pending_logins::Entity::delete_by_id(key).exec(&self.db).await.map_err(internal)?;
        if deleted.rows_affected != 1 {
            return Ok(None);
        }
        Ok(Some(PendingLogin {
            state: state.clone(),
            nonce: SecretString::new(row.nonce),
            pkce_verifier: SecretString::new(row.pkce_verifier),
            issuer: Issuer::new(row.issuer).map_err(|_| corrupt("issuer"))?,
            return_to: row.return_to.as_deref().and_then(|r| ReturnTo::parse(r).ok()),
            created_at: row.created_at,
        }))
    }

    async fn count_pending_logins(&self) -> Result<u64, StoreError> {
        pending_logins::Entity::find().count(&self.db).await.map_err(internal)
    }

    async fn purge_pending_logins(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let deleted = pending_logins::Entity::delete_many()
            .filter(pending_logins::Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected)
    }
}
