//! `SessionStore` and `RefreshTokenStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, PostgresQueryBuilder, Query, SqliteQueryBuilder, Values,
    WithClause,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement,
};
use time::OffsetDateTime;

use codex_cloud_core::domain::{
    AuditEvent, Issuer, SealedIdToken, Session, SessionId, SessionMethod, Subject, TokenDigest,
    User, UserId,
};
use codex_cloud_core::ports::{
    NewSession, RefreshOutcome, RefreshTokenStore, RevokeScope, SessionStore, SessionStoreError,
    StoreError,
};

use crate::store::audit;
use crate::store::entity::{refresh_tokens, sessions, users};
use crate::store::users::user_from_row;
use crate::store::{
    SeaOrmStore, Violation, begin_write, corrupt, internal, sqlite_batch, violation,
};

fn session_from_row(row: sessions::Model) -> Result<Session, StoreError> {
    let method = match (row.method.as_str(), row.identity_issuer, row.identity_subject) {
        ("password", _, _) => SessionMethod::Password,
        ("oidc", Some(issuer), Some(subject)) => SessionMethod::Oidc {
            issuer: Issuer::new(issuer).map_err(|_| corrupt("sessions", "identity_issuer"))?,
            subject: Subject::new(subject).map_err(|_| corrupt("sessions", "identity_subject"))?,
        },
        _ => return Err(corrupt("sessions", "method")),
    };
    Ok(Session {
        id: SessionId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        method,
        created_at: row.created_at,
        last_used_at: row.last_used_at.unwrap_or(row.created_at),
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    })
}

fn with_user(
    found: Option<(sessions::Model, Option<users::Model>)>,
) -> Result<Option<(Session, User)>, StoreError> {
    match found {
        Some((session, Some(user))) => Ok(Some((session_from_row(session)?, user_from_row(user)?))),
        _ => Ok(None),
    }
}

#[async_trait]
impl SessionStore for SeaOrmStore {
    async fn start_session(
        &self,
        new: &NewSession,
        event: &AuditEvent,
    ) -> Result<(), SessionStoreError> {
        let session = &new.session;
        let (issuer, subject) = match &session.method {
            SessionMethod::Password => (None, None),
            SessionMethod::Oidc { issuer, subject } => {
                (Some(issuer.as_str().to_owned()), Some(subject.as_str().to_owned()))
            }
        };
        let row = sessions::ActiveModel {
            id: Set(session.id.as_uuid()),
            user_id: Set(session.user_id.as_uuid()),
            created_at: Set(session.created_at),
            expires_at: Set(session.expires_at),
            revoked_at: Set(session.revoked_at),
            last_used_at: Set(Some(session.last_used_at)),
            method: Set(session.method.as_str().to_owned()),
            identity_issuer: Set(issuer),
            identity_subject: Set(subject),
            cookie_digest: Set(new.cookie.as_ref().map(TokenDigest::to_hex)),
            id_token_sealed: Set(new.id_token.as_ref().map(|t| t.as_bytes().to_vec())),
        };
        let fail = |e: sea_orm::DbErr| match violation(&e) {
            Some(Violation::Unique(_)) => SessionStoreError::DuplicateId,
            Some(Violation::ForeignKey) => SessionStoreError::UnknownUser,
            None => SessionStoreError::Internal(internal(e).0),
        };
        let mut inserts = vec![sessions::Entity::insert(row).into_query()];
        if let Some(refresh) = &new.refresh_token {
            let token = refresh_tokens::ActiveModel {
                token_digest: Set(refresh.to_hex()),
                session_id: Set(session.id.as_uuid()),
                created_at: Set(session.created_at),
                spent_at: Set(None),
            };
            inserts.push(refresh_tokens::Entity::insert(token).into_query());
        }
        let audited = audit::insert(event).into_query();
        // The session, its refresh token and the audit event together or not at all: one
        // statement on PostgreSQL (the first inserts as common table expressions of the last,
        // atomic by itself: one round trip); on SQLite, which has no writing CTEs, one batch of
        // statements that opens and commits its own transaction (one round trip to its worker
        // thread, where `BEGIN`, the batch and `COMMIT` sent apart take three). One wait for the
        // disk either way.
        match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let mut with = WithClause::new();
                for (i, insert) in inserts.into_iter().enumerate() {
                    let mut cte = CommonTableExpression::new();
                    cte.query(insert).table_name(Alias::new(format!("insert_{i}")));
                    with.cte(cte);
                }
                let (sql, values) = with.query(audited).build(PostgresQueryBuilder);
                let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
                self.db.execute_raw(statement).await.map(|_| ()).map_err(fail)
            }
            _ => {
                let (mut sql, mut values) = (String::from("BEGIN;\n"), Vec::new());
                for insert in inserts.into_iter().chain([audited]) {
                    let (one, one_values) = insert.build(SqliteQueryBuilder);
                    sql.push_str(&one);
                    sql.push_str(";\n");
                    values.extend(one_values.0);
                }
                sql.push_str("COMMIT;");
                sqlite_batch(self, sql, Values(values)).await.map_err(fail)
            }
        }
    }

    async fn session_with_user(
        &self,
        id: SessionId,
    ) -> Result<Option<(Session, User)>, StoreError> {
        if let Some(cached) = self.sessions.get(id) {
            return Ok(Some(cached));
        }
        let ticket = self.sessions.begin_read();
        // One query: the session joined with its user.
        let found = sessions::Entity::find_by_id(id.as_uuid())
            .find_also_related(users::Entity)
            .one(&self.db)
            .await
            .map_err(internal)?;
        let found = with_user(found)?;
        if let Some((session, user)) = &found {
            self.sessions.insert(ticket, session.clone(), user.clone());
        }
        Ok(found)
    }

    async fn sealed_id_token(&self, id: SessionId) -> Result<Option<SealedIdToken>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> = sessions::Entity::find_by_id(id.as_uuid())
            .select_only()
            .column(sessions::Column::IdTokenSealed)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(sealed.flatten().map(SealedIdToken::from_bytes))
    }

    async fn session_by_cookie(
        &self,
        cookie: &TokenDigest,
    ) -> Result<Option<(Session, User)>, StoreError> {
        let found = sessions::Entity::find()
            .filter(sessions::Column::CookieDigest.eq(cookie.to_hex()))
            .find_also_related(users::Entity)
            .one(&self.db)
            .await
            .map_err(internal)?;
        with_user(found)
    }

    async fn touch_session(&self, id: SessionId, at: OffsetDateTime) -> Result<(), StoreError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastUsedAt, Expr::value(Some(at)))
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(internal)
    }

    async fn sessions_of_user(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .order_by_asc(sessions::Column::CreatedAt)
            .order_by_asc(sessions::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        rows.into_iter().map(session_from_row).collect()
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let revoked = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(at)))
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec_with_returning(&txn)
            .await
            .map_err(internal)?;
        let live = revoked.first().map(|row| UserId::from_uuid(row.user_id));
        if let (Some(user), Some(event)) = (live, event) {
            let mut event = event.clone();
            event.user_id.get_or_insert(user);
            audit::write(&txn, &event).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(live.is_some())
    }

    async fn revoke_sessions(
        &self,
        scope: &RevokeScope,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<u64, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let revoked = revoke_in(&txn, scope, at).await?;
        if let (true, Some(event)) = (revoked > 0, event) {
            audit::write(&txn, &event.clone().detail("count", revoked)).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(revoked)
    }

    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        batch: u64,
    ) -> Result<u64, StoreError> {
        // Whatever becomes of the change, nothing read before it is trusted after.
        let _invalidate = self.sessions.invalidate_after();
        let ended = Condition::any()
            .add(sessions::Column::ExpiresAt.lte(now))
            .add(sessions::Column::RevokedAt.is_not_null())
            .add(sessions::Column::LastUsedAt.lte(idle_cutoff));
        let batch_ids = Query::select()
            .column(sessions::Column::Id)
            .from(sessions::Entity)
            .cond_where(ended)
            .limit(batch)
            .to_owned();
        let deleted = sessions::Entity::delete_many()
            .filter(sessions::Column::Id.in_subquery(batch_ids))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected)
    }
}

/// Revokes the live sessions of `scope` through `db` (a connection or a transaction).
pub(super) async fn revoke_in(
    db: &impl ConnectionTrait,
    scope: &RevokeScope,
    at: OffsetDateTime,
) -> Result<u64, StoreError> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Some(at)))
        .filter(sessions::Column::RevokedAt.is_null());
    update = match scope {
        RevokeScope::User { user, except } => {
            let update = update.filter(sessions::Column::UserId.eq(user.as_uuid()));
            match except {
                Some(keep) => update.filter(sessions::Column::Id.ne(keep.as_uuid())),
                None => update,
            }
        }
        RevokeScope::Identity { issuer, subject } => update
            .filter(sessions::Column::IdentityIssuer.eq(issuer.as_str()))
            .filter(sessions::Column::IdentitySubject.eq(subject.as_str())),
    };
    let updated = update.exec(db).await.map_err(internal)?;
    Ok(updated.rows_affected)
}

#[async_trait]
impl RefreshTokenStore for SeaOrmStore {
    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        at: OffsetDateTime,
        idle_cutoff: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<RefreshOutcome, StoreError> {
        let txn = begin_write(&self.db).await.map_err(internal)?;
        let live_sessions = Query::select()
            .column(sessions::Column::Id)
            .from(sessions::Entity)
            .and_where(sessions::Column::RevokedAt.is_null())
            .and_where(sessions::Column::ExpiresAt.gt(at))
            .and_where(sessions::Column::LastUsedAt.gt(idle_cutoff))
            .to_owned();
        // One `UPDATE … RETURNING`: of two concurrent presentations, one spends the token.
        let spent = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::SpentAt, Expr::value(Some(at)))
            .filter(refresh_tokens::Column::TokenDigest.eq(presented.to_hex()))
            .filter(refresh_tokens::Column::SpentAt.is_null())
            .filter(refresh_tokens::Column::SessionId.in_subquery(live_sessions))
            .exec_with_returning(&txn)
            .await
            .map_err(internal)?;
        let outcome = match spent.into_iter().next() {
            Some(row) => {
                let token = refresh_tokens::ActiveModel {
                    token_digest: Set(next.to_hex()),
                    session_id: Set(row.session_id),
                    created_at: Set(at),
                    spent_at: Set(None),
                };
                refresh_tokens::Entity::insert(token).exec(&txn).await.map_err(internal)?;
                let session = sessions::Entity::find_by_id(row.session_id)
                    .one(&txn)
                    .await
                    .map_err(internal)?;
                let mut event = event.clone().detail("session", row.session_id);
                event.user_id = session.map(|s| UserId::from_uuid(s.user_id));
                audit::write(&txn, &event).await?;
                RefreshOutcome::Rotated(SessionId::from_uuid(row.session_id))
            }
            None => {
                let known = refresh_tokens::Entity::find_by_id(presented.to_hex())
                    .one(&txn)
                    .await
                    .map_err(internal)?;
                match known {
                    Some(row) if row.spent_at.is_some() => {
                        RefreshOutcome::Reused(SessionId::from_uuid(row.session_id))
                    }
                    Some(_) => RefreshOutcome::SessionEnded,
                    None => RefreshOutcome::Unknown,
                }
            }
        };
        txn.commit().await.map_err(internal)?;
        Ok(outcome)
    }
}
