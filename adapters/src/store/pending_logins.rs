//! `PendingLoginStore` over SeaORM.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, Query, SqliteQueryBuilder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Value,
};
use time::OffsetDateTime;

use codex_cloud_core::domain::{
    Issuer, LoginPurpose, PendingLogin, ReturnTo, SecretString, SessionId, StateDigest,
};
use codex_cloud_core::ports::{
    PendingLoginLimit, PendingLoginStore, PendingLoginStoreError, StoreError,
};

use crate::store::entity::pending_logins::{Column, Entity, Model};
use crate::store::{SeaOrmStore, Violation, corrupt, internal, sqlite_unsynced, violation};

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

/// A condition that is always true and, on PostgreSQL, makes the commit of the statement it is
/// part of asynchronous (`synchronous_commit = off` for that transaction alone, set from inside
/// the statement: no round trip more). As on SQLite (`sqlite_unsynced`), the commit does not
/// wait for the disk; a crash of the database server or its machine right after it may undo it,
/// and the next commit that waits for the disk carries it there: the write-ahead log is flushed
/// in order. Never for anything but a pending login.
fn unsynced_on_postgres() -> sea_orm::sea_query::SimpleExpr {
    Expr::cust("set_config('synchronous_commit', 'off', true) IS NOT NULL")
}

#[async_trait]
impl PendingLoginStore for SeaOrmStore {
    async fn save_pending_login(
        &self,
        login: &PendingLogin,
        limit: PendingLoginLimit,
    ) -> Result<(), PendingLoginStoreError> {
        if limit.at_most == 0 {
            return Err(PendingLoginStoreError::LimitReached);
        }
        let row: [(Column, Value); 9] = [
            (Column::StateDigest, hex(&login.state).into()),
            (Column::Nonce, login.nonce.expose().to_owned().into()),
            (Column::PkceVerifier, login.pkce_verifier.expose().to_owned().into()),
            (Column::Issuer, login.issuer.as_str().to_owned().into()),
            (Column::ReturnTo, login.return_to.as_ref().map(|r| r.as_str().to_owned()).into()),
            (Column::CreatedAt, login.created_at.into()),
            (Column::ClientKey, login.client_key.clone().into()),
            (
                Column::InvitationId,
                match login.purpose {
                    LoginPurpose::Invitation(id) => Some(id),
                    _ => None,
                }
                .into(),
            ),
            (
                Column::LinkSessionId,
                match login.purpose {
                    LoginPurpose::Link(session) => Some(session.as_uuid()),
                    _ => None,
                }
                .into(),
            ),
        ];
        // `INSERT … SELECT <row> WHERE NOT EXISTS (the client's at_most-th young login)`: the
        // limit and the insert in one statement, one round trip; the subquery walks the
        // (client_key, created_at) index no further than `at_most` rows.
        let limit_th = Query::select()
            .expr(Expr::val(1))
            .from(Entity)
            .and_where(Column::ClientKey.eq(login.client_key.as_str()))
            .and_where(Column::CreatedAt.gte(limit.since))
            .limit(1)
            .offset((limit.at_most - 1).min(i64::MAX as u64))
            .to_owned();
        let mut values = Query::select()
            .exprs(row.iter().map(|(_, value)| Expr::val(value.clone())))
            .and_where(Expr::not_exists(limit_th))
            .to_owned();
        if self.db.get_database_backend() == DbBackend::Postgres {
            values.and_where(unsynced_on_postgres());
        }
        let mut insert = Query::insert();
        insert.into_table(Entity).columns(row.iter().map(|(column, _)| *column));
        insert.select_from(values).map_err(|e| PendingLoginStoreError::Internal(e.into()))?;
        let fail = |e: sea_orm::DbErr| match violation(&e) {
            Some(Violation::Unique(_)) => PendingLoginStoreError::DuplicateState,
            _ => PendingLoginStoreError::Internal(internal(e).0),
        };
        let inserted = match self.db.get_database_backend() {
            // A pending login lives ten minutes and is worth one more click when lost: its
            // commit does not wait for the disk (one wait for a flush less per login; on
            // PostgreSQL by `unsynced_on_postgres` above). It survives this process ending; a
            // crash of the machine (or of PostgreSQL) in the moment after it may lose it, and
            // that login starts again.
            DbBackend::Sqlite => {
                insert.returning_col(Column::StateDigest);
                let (sql, values) = insert.build(SqliteQueryBuilder);
                sqlite_unsynced(self, sql, values).await.map_err(fail)?.len() as u64
            }
            _ => self.db.execute(&insert).await.map_err(fail)?.rows_affected(),
        };
        match inserted {
            0 => Err(PendingLoginStoreError::LimitReached),
            _ => Ok(()),
        }
    }

    async fn take_pending_login(
        &self,
        state: &StateDigest,
    ) -> Result<Option<PendingLogin>, StoreError> {
        // One `DELETE … RETURNING`: of two concurrent callers, only one gets the row. Its commit
        // does not wait for the disk either (one wait for a flush less per callback). It
        // survives this process ending; only a crash of the machine (or of PostgreSQL) before
        // the callback's next write can undo it: that write (the session, the linked identity,
        // or the audit event of a failure; a callback linking an identity already linked to its
        // user writes nothing more) waits for the disk, and flushing the write-ahead log carries
        // every commit before it. A login undone so comes back for what is left of its ten
        // minutes, bound to the browser's state cookie, as if its callback had never arrived.
        let mut delete = Query::delete();
        delete.from_table(Entity).and_where(Column::StateDigest.eq(hex(state))).returning_all();
        let row = match self.db.get_database_backend() {
            DbBackend::Sqlite => {
                let (sql, values) = delete.build(SqliteQueryBuilder);
                let rows = sqlite_unsynced(self, sql, values).await.map_err(internal)?;
                rows.into_iter().next()
            }
            backend => {
                if backend == DbBackend::Postgres {
                    delete.and_where(unsynced_on_postgres());
                }
                let statement = backend.build(&delete);
                self.db.query_one_raw(statement).await.map_err(internal)?
            }
        };
        let row = row.map(|row| Model::from_query_result(&row, "")).transpose();
        row.map_err(internal)?.map(|row| login_from_row(state, row)).transpose()
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
