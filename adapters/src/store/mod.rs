//! The SeaORM store (SQLite or PostgreSQL): one adapter implementing every store port, one file
//! per port, plus connection set-up and migrations.

mod audit;
mod entity;
mod identity_links;
mod invitations;
mod pending_logins;
mod session_cache;
mod sessions;
mod signing_keys;
mod throttles;
mod users;

use std::time::Duration;

use async_trait::async_trait;
use codex_cloud_migration::MigratorTrait as _;
use sea_orm::sqlx::sqlite::SqliteSynchronous;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqlErr};
use sea_query_sqlx::SqlxValues;

use codex_cloud_core::ports::{Readiness, StoreError};

/// The database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SetupError(#[from] DbErr);

/// Connects to `url` (`sqlite://…`, `sqlite::memory:`, `postgres://…`).
///
/// # Errors
/// When the database cannot be reached or the URL is not understood.
pub async fn connect(url: &str) -> Result<DatabaseConnection, SetupError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // A SQLite connection is a file opened in this process: nothing can hang up on it.
        options.test_before_acquire(false);
        // Every commit waits for the disk, but those storing and taking a pending login (see
        // `sqlite_unsynced`).
        options.map_sqlx_sqlite_opts(|o| o.synchronous(SqliteSynchronous::Full));
    } else {
        // A connection idle for a second or more is pinged before use, so one that a restart,
        // failover, proxy or firewall dropped meanwhile is replaced, not handed to a request. One
        // used within the last second is not: pinging every checkout would add a round trip to
        // every statement, and a server that fails in that second fails statements in flight
        // anyway (503 `database_unavailable`).
        options.test_before_acquire_if_idle_for(Duration::from_secs(1));
    }
    if url.starts_with("sqlite::memory:") || url.contains("mode=memory") {
        // Each connection to an in-memory SQLite database is a database of its own, and it
        // lives only as long as that connection: one connection, never recycled.
        options.max_connections(1).min_connections(1).max_lifetime(None).idle_timeout(None);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
        if !url.contains("memory") {
            // WAL is what lets readers run beside a writer and a commit skip the disk without
            // risking the database (`sqlite_unsynced`). SQLite keeps its old journal, silently,
            // where WAL cannot work (a file system without shared memory): refuse to start there.
            let mode = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "PRAGMA journal_mode = WAL",
                ))
                .await?
                .map(|row| row.try_get_by_index::<String>(0))
                .transpose()?;
            if !mode.as_deref().is_some_and(|mode| mode.eq_ignore_ascii_case("wal")) {
                return Err(SetupError(DbErr::Custom(format!(
                    "SQLite cannot use write-ahead logging for this database (journal mode {}): \
                     put the file on a local file system",
                    mode.as_deref().unwrap_or("unknown")
                ))));
            }
        }
    }
    Ok(db)
}

/// Runs `sql`, a batch of SQLite statements that opens its own transaction (`BEGIN; …;
/// COMMIT;`), on one pooled connection in one round trip to the connection's worker thread.
///
/// A batch stops at its first failing statement, inside its transaction: that transaction is
/// rolled back on the same connection before the connection goes back to the pool. A connection
/// that cannot be rolled back, or whose task panics half-way, is closed, never reused (with
/// `sqlite::memory:`, whose only connection is the database, that loses the database: it happens
/// only when its worker thread is gone already). The batch runs as a task of its own, so a
/// request that is dropped half-way (its client gone) cannot cut it short.
///
/// # Errors
/// The first failing statement's error, as SeaORM reports it.
pub(crate) async fn sqlite_batch(
    db: &DatabaseConnection,
    sql: String,
    values: sea_orm::sea_query::Values,
) -> Result<(), DbErr> {
    use sea_orm::sqlx;
    on_one_sqlite_connection(db, move |mut conn| async move {
        let query = sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values));
        let Err(failed) = query.execute(&mut *conn.0).await else {
            conn.settle(true);
            return Ok(());
        };
        match sqlx::raw_sql("ROLLBACK").execute(&mut *conn.0).await {
            Ok(_) => conn.settle(true),
            // SQLite ends the transaction itself after some failures (a full disk, an I/O
            // error); anything else leaves the connection in doubt.
            Err(e) => conn.settle(e.to_string().contains("no transaction is active")),
        }
        Err(exec(failed))
    })
    .await
}

/// Runs `sql`, one SQLite statement in a transaction of its own, whose commit does not wait for
/// the disk: `synchronous = NORMAL` on its connection for that statement only, `FULL` again
/// after it, in one round trip to the connection's worker thread. In WAL mode such a commit
/// survives the process ending; an operating-system crash or power loss before the next durable
/// commit (any other write, a checkpoint, or the kernel writing the file out) may lose it; it
/// never puts another row at risk. Answers the rows the statement returns (its `RETURNING`
/// clause). A connection whose setting cannot be restored is closed, never reused;
/// should that restore fail after the statement committed, the error is returned all the same.
///
/// # Errors
/// The first failing statement's error, as SeaORM reports it.
pub(crate) async fn sqlite_unsynced(
    db: &DatabaseConnection,
    sql: String,
    values: sea_orm::sea_query::Values,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    use sea_orm::sqlx;
    on_one_sqlite_connection(db, move |mut conn| async move {
        let sql = format!("PRAGMA synchronous = NORMAL; {sql}; PRAGMA synchronous = FULL");
        let query = sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values));
        match query.fetch_all(&mut *conn.0).await {
            Ok(rows) => {
                conn.settle(true);
                Ok(rows.into_iter().map(sea_orm::QueryResult::from).collect())
            }
            Err(failed) => {
                let restored =
                    sqlx::raw_sql("PRAGMA synchronous = FULL").execute(&mut *conn.0).await;
                conn.settle(restored.is_ok());
                Err(exec(failed))
            }
        }
    })
    .await
}

fn exec(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into()))
}

/// Runs `work` on one pooled SQLite connection, as a task of its own (so a request dropped
/// half-way cannot cut it short). `work` marks the connection settled when it leaves it as it
/// found it; otherwise the connection is closed.
async fn on_one_sqlite_connection<T, F, W>(db: &DatabaseConnection, work: W) -> Result<T, DbErr>
where
    T: Send + 'static,
    F: Future<Output = Result<T, DbErr>> + Send + 'static,
    W: FnOnce(ClosedUnlessSettled) -> F + Send + 'static,
{
    use sea_orm::{DatabaseConnectionType, RuntimeErr, sqlx};
    let DatabaseConnectionType::SqlxSqlitePoolConnection(_) = &db.inner else {
        return Err(DbErr::Custom("a SQLite statement needs a SQLite connection".to_owned()));
    };
    let pool = db.get_sqlite_connection_pool().clone();
    let task = tokio::spawn(async move {
        let conn = pool.acquire().await.map_err(|e| match e {
            sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
            e => DbErr::Conn(RuntimeErr::SqlxError(e.into())),
        })?;
        work(ClosedUnlessSettled(conn, false)).await
    });
    task.await.map_err(|e| DbErr::Custom(format!("a SQLite statement was lost: {e}")))?
}

/// A pooled SQLite connection that goes back to the pool only once settled (left as it was
/// found: its batch committed or rolled back, its settings restored; the flag set); otherwise it
/// is closed when dropped.
struct ClosedUnlessSettled(sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Sqlite>, bool);

impl ClosedUnlessSettled {
    fn settle(&mut self, settled: bool) {
        self.1 = settled;
    }
}

impl Drop for ClosedUnlessSettled {
    fn drop(&mut self) {
        if !self.1 {
            self.0.close_on_drop();
        }
    }
}

/// The PostgreSQL advisory lock that serialises migrations across processes ("codex" in ASCII).
const MIGRATION_LOCK: i64 = 0x0063_6f64_6578;

/// Applies every pending migration. On PostgreSQL, processes starting together take turns
/// (an advisory lock held on a connection of its own), so any number of replicas may start at
/// once on an empty database; SQLite serialises writers by itself.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), SetupError> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(codex_cloud_migration::Migrator::up(db, None).await?);
    }
    let sqlx_error =
        |e: sea_orm::sqlx::Error| SetupError(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())));
    let mut lock = db.get_postgres_connection_pool().acquire().await.map_err(sqlx_error)?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *lock)
        .await
        .map_err(sqlx_error)?;
    let migrated = codex_cloud_migration::Migrator::up(db, None).await;
    let unlocked = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *lock)
        .await;
    migrated?;
    unlocked.map(|_| ()).map_err(sqlx_error)
}

/// Every store port over one SeaORM connection: translation between rows and domain types,
/// nothing more.
#[derive(Clone, Debug)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// Sessions the bearer check read lately (see `session_cache`).
    sessions: std::sync::Arc<session_cache::SessionCache>,
}

impl SeaOrmStore {
    /// The pool's (open, idle) connections now.
    pub fn pool_usage(&self) -> (u32, usize) {
        match self.db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            sea_orm::DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        }
    }

    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, sessions: std::sync::Arc::default() }
    }

    /// How long this store's cached sessions are trusted: the most a change made by another
    /// replica takes to be seen by this one's bearer check.
    pub const SESSION_CACHE_TTL: Duration = session_cache::TTL;
}

#[async_trait]
impl Readiness for SeaOrmStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.execute_unprepared("SELECT 1").await.map(|_| ()).map_err(internal)
    }
}

fn internal(error: DbErr) -> StoreError {
    if unreachable(&error) { StoreError::unavailable(error) } else { StoreError::new(error) }
}

/// Whether the database could not be reached (no connection, a connection lost, the server
/// shutting down or starting up), rather than a statement failing.
fn unreachable(error: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let sqlx_error = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match &**sqlx_error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, cannot connect
        // now): the server went away, not the statement.
        sqlx::Error::Database(e) => {
            e.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
        }
        _ => false,
    }
}

/// Whether the error is a violation of a unique (naming the constraint, as the database words
/// it) or of a foreign-key constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Violation {
    Unique(String),
    ForeignKey,
}

fn violation(error: &DbErr) -> Option<Violation> {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => Some(Violation::Unique(message)),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => Some(Violation::ForeignKey),
        _ => None,
    }
}

/// The one policy for a stored value that does not parse as its domain type: the read fails
/// (never a silent default), and the log names the table and column, never the value.
fn corrupt(table: &'static str, column: &'static str) -> StoreError {
    tracing::error!(table, column, "a stored value is corrupt");
    StoreError::new(format!("the stored {table}.{column} is not valid"))
}

#[cfg(test)]
mod unreachable_tests {
    use codex_cloud_core::ports::{
        IdentityLinkStore as _, SessionStoreError, UserStoreError, is_store_unavailable,
    };
    use sea_orm::{ConnAcquireErr, RuntimeErr};

    use super::*;

    #[test]
    fn a_lost_connection_is_unavailable_and_a_failed_statement_is_not() {
        let lost = || DbErr::Conn(RuntimeErr::Internal("connection refused".into()));
        assert!(is_store_unavailable(&*internal(lost()).0));
        let pool = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert!(is_store_unavailable(&*internal(pool).0));
        assert!(!is_store_unavailable(&*internal(DbErr::Custom("no such column".into())).0));
        // The ports' own errors keep the mark, as the adapters build them.
        let session = SessionStoreError::Internal(internal(lost()).0);
        assert!(is_store_unavailable(&session));
        let user = UserStoreError::Internal(internal(lost()).0);
        assert!(is_store_unavailable(&user));
        assert!(is_store_unavailable(&identity_links::link_error(lost())));
    }

    #[tokio::test]
    async fn a_closed_pool_makes_every_port_answer_unavailable() {
        let db = connect("sqlite::memory:").await.expect("open");
        migrate(&db).await.expect("migrate");
        let store = SeaOrmStore::new(db.clone());
        db.close_by_ref().await.expect("close");
        let subject = codex_cloud_core::domain::Subject::new("s").expect("subject");
        let issuer = codex_cloud_core::domain::Issuer::new("https://op.example.com").expect("iss");
        let error = store.user_by_identity(&issuer, &subject).await.expect_err("closed");
        assert!(is_store_unavailable(&error), "{error}");
    }
}

#[cfg(test)]
mod sqlite_unsynced_tests {
    use sea_orm::sea_query::Values;
    use sea_orm::{ConnectionTrait, DbErr, Statement};

    use super::*;

    async fn synchronous(db: &DatabaseConnection) -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), "PRAGMA synchronous"))
            .await
            .expect("pragma")
            .expect("a row");
        row.try_get_by_index(0).expect("a number")
    }

    #[tokio::test]
    async fn a_statement_runs_unsynced_and_leaves_its_connection_as_it_found_it() {
        // `sqlite::memory:` has one connection: every statement below runs on it.
        let db = connect("sqlite::memory:").await.expect("open");
        db.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY)").await.expect("table");
        assert_eq!(synchronous(&db).await, 2, "FULL to begin with");
        let one = |k: &str| {
            (String::from("INSERT INTO t VALUES (?) RETURNING k"), Values(vec![k.into()]))
        };

        let (sql, values) = one("a");
        let rows = sqlite_unsynced(&db, sql, values).await.expect("inserted");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].try_get_by_index::<String>(0).expect("the key"), "a");
        assert_eq!(synchronous(&db).await, 2, "FULL again after a statement");

        // The statement itself runs unsynced (NORMAL is 1), the cached statement too.
        for _ in 0..2 {
            let normal =
                String::from("SELECT 1 WHERE (SELECT synchronous FROM pragma_synchronous) = 1");
            let rows = sqlite_unsynced(&db, normal, Values(Vec::new())).await.expect("ran");
            assert_eq!(rows.len(), 1);
            assert_eq!(synchronous(&db).await, 2, "FULL again after a statement");
        }

        let none = String::from("INSERT INTO t SELECT 'b' WHERE 0 RETURNING k");
        assert!(sqlite_unsynced(&db, none, Values(Vec::new())).await.expect("ran").is_empty());

        let (sql, values) = one("a");
        let error: DbErr = sqlite_unsynced(&db, sql, values).await.expect_err("a duplicate");
        assert!(matches!(violation(&error), Some(Violation::Unique(_))), "{error}");
        assert_eq!(synchronous(&db).await, 2, "FULL again after a failed statement");
        let count = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) FROM t",
            ))
            .await
            .expect("count")
            .expect("a row");
        assert_eq!(count.try_get_by_index::<i64>(0).expect("a number"), 1);
    }
}
