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
        // Up to two connections: one kept for the login path's statements when the other is
        // free to serve the rest (see `KeptSqliteConnections`). Every transaction that reads
        // before it writes begins `IMMEDIATE` (see `begin_write`), so it is never failed by a
        // commit on the other connection.
        options.max_connections(2);
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
    let in_memory =
        url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"));
    if in_memory {
        // Each connection to an in-memory SQLite database is a database of its own, and it
        // lives only as long as that connection: one connection, never recycled.
        options.max_connections(1).min_connections(1).max_lifetime(None).idle_timeout(None);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
        if !in_memory {
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
/// COMMIT;`), on one connection (see `on_one_sqlite_connection`) in one round trip to its worker
/// thread.
///
/// A batch stops at its first failing statement, inside its transaction: that transaction is
/// rolled back on the same connection before the connection is kept or goes back to the pool. A
/// connection that cannot be rolled back, or whose task panics half-way, is closed, never reused
/// (with `sqlite::memory:`, whose only connection is the database, that loses the database: it
/// happens only when its worker thread is gone already). The batch runs as a task of its own, so
/// a request that is dropped half-way (its client gone) cannot cut it short.
///
/// # Errors
/// The first failing statement's error, as SeaORM reports it.
pub(crate) async fn sqlite_batch(
    store: &SeaOrmStore,
    sql: String,
    values: sea_orm::sea_query::Values,
) -> Result<(), DbErr> {
    use sea_orm::sqlx;
    on_one_sqlite_connection(store, move |mut conn| async move {
        let query = sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values));
        let Err(failed) = query.execute(&mut **conn).await else {
            conn.settle(true);
            return Ok(());
        };
        match sqlx::raw_sql("ROLLBACK").execute(&mut **conn).await {
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
    store: &SeaOrmStore,
    sql: String,
    values: sea_orm::sea_query::Values,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    use sea_orm::sqlx;
    on_one_sqlite_connection(store, move |mut conn| async move {
        let sql = format!("PRAGMA synchronous = NORMAL; {sql}; PRAGMA synchronous = FULL");
        let failed = match settled_rows(&mut conn, sql, values).await {
            Ok(rows) => return Ok(rows),
            Err(failed) => failed,
        };
        let restored = sqlx::raw_sql("PRAGMA synchronous = FULL").execute(&mut **conn).await;
        conn.settle(restored.is_ok());
        Err(exec(failed))
    })
    .await
}

/// Runs `select` on one SQLite connection (see `on_one_sqlite_connection`) as a task of its own,
/// and answers its rows. One statement outside any transaction leaves its connection as it found
/// it, whether it succeeds or SQLite refuses it (sqlx resets the statement either way, which ends
/// its read), so the connection is kept or goes back to the pool; one whose read failed for
/// any other reason (its worker gone, a panic) is closed.
///
/// # Errors
/// The statement's error, as SeaORM reports it.
pub(crate) async fn sqlite_read(
    store: &SeaOrmStore,
    select: &sea_orm::sea_query::SelectStatement,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    use sea_orm::sqlx;
    let (sql, values) = select.build(sea_orm::sea_query::SqliteQueryBuilder);
    on_one_sqlite_connection(store, move |mut conn| async move {
        settled_rows(&mut conn, sql, values).await.map_err(|failed| {
            conn.settle(matches!(failed, sqlx::Error::Database(_)));
            exec(failed)
        })
    })
    .await
}

/// Runs `sql` on `conn` and answers its rows, marking `conn` settled once they are all read;
/// on failure, settling it (or not) is the caller's.
async fn settled_rows(
    conn: &mut ClosedUnlessSettled,
    sql: String,
    values: sea_orm::sea_query::Values,
) -> Result<Vec<sea_orm::QueryResult>, sea_orm::sqlx::Error> {
    let query = sea_orm::sqlx::query_with(sea_orm::sqlx::AssertSqlSafe(sql), SqlxValues(values));
    let rows = query.fetch_all(&mut ***conn).await?;
    conn.settle(true);
    Ok(rows.into_iter().map(sea_orm::QueryResult::from).collect())
}

/// Begins a transaction that writes: `BEGIN IMMEDIATE` on SQLite, which takes the database's
/// write lock at once (waiting for it as for any write). A deferred transaction that reads before
/// it writes fails outright (`SQLITE_BUSY_SNAPSHOT`, no wait) when another connection commits in
/// between; with two connections to a file database, one kept for the login path's statements,
/// that would be any login. PostgreSQL ignores the mode.
async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait as _};
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    db.begin_with_options(options).await
}

fn exec(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into()))
}

/// Runs `work` on one SQLite connection, a kept one if there is one idle (see
/// `KeptSqliteConnections`), else one from the pool, as a task of its own (so a request dropped
/// half-way cannot cut it short). `work` marks the connection settled when it leaves it as it
/// found it; otherwise the connection is closed.
async fn on_one_sqlite_connection<T, F, W>(store: &SeaOrmStore, work: W) -> Result<T, DbErr>
where
    T: Send + 'static,
    F: Future<Output = Result<T, DbErr>> + Send + 'static,
    W: FnOnce(ClosedUnlessSettled) -> F + Send + 'static,
{
    let kept = store.kept.clone();
    let task = tokio::spawn(async move {
        let conn = kept.acquire().await?;
        work(ClosedUnlessSettled { conn: Some(conn), settled: false, kept }).await
    });
    task.await.map_err(|e| DbErr::Custom(format!("a SQLite statement was lost: {e}")))?
}

type SqliteConnection = sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Sqlite>;

/// A pooled SQLite connection that is kept (or goes back to the pool) only once settled (left
/// as it was found: its batch committed or rolled back, its settings restored); otherwise it is
/// closed when dropped.
struct ClosedUnlessSettled {
    conn: Option<SqliteConnection>,
    settled: bool,
    kept: std::sync::Arc<KeptSqliteConnections>,
}

impl ClosedUnlessSettled {
    fn settle(&mut self, settled: bool) {
        self.settled = settled;
    }
}

impl std::ops::Deref for ClosedUnlessSettled {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn.as_ref().unwrap_or_else(|| unreachable!("taken only when dropped"))
    }
}

impl std::ops::DerefMut for ClosedUnlessSettled {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("taken only when dropped"))
    }
}

impl Drop for ClosedUnlessSettled {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        if self.settled {
            self.kept.put(conn);
        } else {
            conn.close_on_drop();
        }
    }
}

/// Up to half the SQLite pool's connections (one of the two a file database opens), kept checked
/// out between the statements that `sqlite_batch`, `sqlite_unsynced` and `sqlite_read` run (those
/// of every login: storing and taking a pending login, finding the user linked to a provider's
/// identity, starting a session). sqlx pings a connection on its worker thread every time one goes
/// back to its pool, with no way to turn that off: a round trip between threads and a task sqlx
/// spawns, per statement. A kept connection skips it; it is settled like any other before it is
/// kept, and one left in doubt is closed all the same. It is kept only if, as its statement ends,
/// the pool has another idle or room to open one (see `put`), so the rest always has a connection
/// of its own, as when the pool had one; a statement that finds the other busy waits for it, though
/// the kept one may be idle, until the next login statement ends. A pool of one connection
/// (`sqlite::memory:`, whose connection is the database) keeps none. Closing the pool waits for a
/// kept connection until it is dropped: by the next login statement (a closed pool's is never
/// handed out) or with the store.
#[derive(Debug)]
pub(crate) struct KeptSqliteConnections {
    idle: std::sync::Mutex<Vec<SqliteConnection>>,
    at_most: usize,
    /// The pool they are kept from (none on other engines).
    pool: Option<sea_orm::sqlx::SqlitePool>,
}

impl KeptSqliteConnections {
    fn for_pool(db: &DatabaseConnection) -> Self {
        let (at_most, pool) = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                let max = pool.options().get_max_connections();
                (usize::try_from(max / 2).unwrap_or(0), Some(pool.clone()))
            }
            _ => (0, None),
        };
        Self { idle: std::sync::Mutex::default(), at_most, pool }
    }

    /// A kept connection if one is idle, else one from the pool.
    async fn acquire(&self) -> Result<SqliteConnection, DbErr> {
        use sea_orm::{RuntimeErr, sqlx};
        if let Some(conn) = self.take() {
            return Ok(conn);
        }
        let Some(pool) = &self.pool else {
            return Err(DbErr::Custom("a SQLite statement needs a SQLite connection".to_owned()));
        };
        pool.acquire().await.map_err(|e| match e {
            sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
            e => DbErr::Conn(RuntimeErr::SqlxError(e.into())),
        })
    }

    /// A kept connection, unless none is or the pool is closed (then it is dropped).
    fn take(&self) -> Option<SqliteConnection> {
        let conn = self.idle.lock().ok()?.pop()?;
        if self.pool.as_ref().is_some_and(sea_orm::sqlx::Pool::is_closed) {
            drop(conn);
            return None;
        }
        Some(conn)
    }

    /// Keeps `conn` if fewer than `at_most` are kept and the pool can still serve a statement
    /// without it: one of its connections idle, or room to open one. Otherwise (statements may
    /// be waiting for a connection, another store over the same pool keeps one, the pool is
    /// closed) it goes back to the pool.
    fn put(&self, conn: SqliteConnection) {
        let room = self.pool.as_ref().is_some_and(|pool| {
            !pool.is_closed()
                && (pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections())
        });
        let refused = match self.idle.lock() {
            Ok(mut idle) if room && idle.len() < self.at_most => {
                idle.push(conn);
                None
            }
            _ => Some(conn),
        };
        // Dropped outside the lock: going back to the pool spawns a task.
        drop(refused);
    }

    /// How many are kept idle now.
    fn len(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
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
    /// SQLite connections kept out of the pool for the login path's statements.
    kept: std::sync::Arc<KeptSqliteConnections>,
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
                // A kept connection is idle too, though checked out of the pool.
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle().saturating_add(self.kept.len()))
            }
            _ => (0, 0),
        }
    }

    pub fn new(db: DatabaseConnection) -> Self {
        let kept = std::sync::Arc::new(KeptSqliteConnections::for_pool(&db));
        Self { db, sessions: std::sync::Arc::default(), kept }
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
        // now): the server went away, not the statement. SQLite's SQLITE_BUSY, SQLITE_BUSY_RECOVERY
        // and SQLITE_BUSY_TIMEOUT: the database stayed locked by another connection (or another
        // process recovering it) past the busy timeout (5 s). Not SQLITE_BUSY_SNAPSHOT, which
        // no wait can cure: only a deferred transaction that read before it wrote meets it, and
        // `begin_write` exists so that none does.
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(code.as_ref(), "5" | "261" | "773")
        }),
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
        let store = SeaOrmStore::new(db.clone());
        let one = |k: &str| {
            (String::from("INSERT INTO t VALUES (?) RETURNING k"), Values(vec![k.into()]))
        };

        let (sql, values) = one("a");
        let rows = sqlite_unsynced(&store, sql, values).await.expect("inserted");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].try_get_by_index::<String>(0).expect("the key"), "a");
        assert_eq!(synchronous(&db).await, 2, "FULL again after a statement");

        // The statement itself runs unsynced (NORMAL is 1), the cached statement too.
        for _ in 0..2 {
            let normal =
                String::from("SELECT 1 WHERE (SELECT synchronous FROM pragma_synchronous) = 1");
            let rows = sqlite_unsynced(&store, normal, Values(Vec::new())).await.expect("ran");
            assert_eq!(rows.len(), 1);
            assert_eq!(synchronous(&db).await, 2, "FULL again after a statement");
        }

        let none = String::from("INSERT INTO t SELECT 'b' WHERE 0 RETURNING k");
        assert!(sqlite_unsynced(&store, none, Values(Vec::new())).await.expect("ran").is_empty());

        let (sql, values) = one("a");
        let error: DbErr = sqlite_unsynced(&store, sql, values).await.expect_err("a duplicate");
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

#[cfg(test)]
mod kept_connection_tests {
    use codex_cloud_core::ports::is_store_unavailable;
    use sea_orm::sea_query::{Alias, Expr, Query, Values};
    use sea_orm::sqlx::{self, Connection as _};

    use super::*;

    /// A SQLite database in a file of its own, removed when dropped.
    struct FileDatabase(std::path::PathBuf);

    impl FileDatabase {
        fn new() -> Self {
            let name = format!("codex-kept-{}.db", uuid::Uuid::new_v4().simple());
            Self(std::env::temp_dir().join(name))
        }

        fn url(&self) -> String {
            format!("sqlite://{}?mode=rwc", self.0.display())
        }
    }

    impl Drop for FileDatabase {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    async fn store_on(file: &FileDatabase) -> SeaOrmStore {
        let db = connect(&file.url()).await.expect("open");
        db.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY)").await.expect("table");
        SeaOrmStore::new(db)
    }

    /// Waits until every connection is idle: a connection goes back to the pool in a task
    /// that sqlx spawns when it is dropped.
    async fn all_idle(store: &SeaOrmStore) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (open, idle) = store.pool_usage();
            if usize::try_from(open).expect("small") == idle {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{idle} of {open} idle");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn insert(k: &str) -> (String, Values) {
        (String::from("BEGIN; INSERT INTO t VALUES (?); COMMIT;"), Values(vec![k.into()]))
    }

    #[tokio::test]
    async fn the_login_path_reuses_a_kept_connection_settled_as_it_found_it() {
        let file = FileDatabase::new();
        let store = store_on(&file).await;
        assert_eq!(store.kept.at_most, 1, "one of the two connections");
        for k in ["a", "b", "c"] {
            let (sql, values) = insert(k);
            sqlite_batch(&store, sql, values).await.expect("inserted");
            assert_eq!(store.kept.len(), 1, "one connection, kept");
        }
        // Reused: a temporary table exists only on the connection that made it.
        let mut conn = store.kept.take().expect("kept");
        sqlx::raw_sql("CREATE TEMP TABLE mark (n)").execute(&mut *conn).await.expect("made");
        store.kept.put(conn);
        for _ in 0..3 {
            let sql = String::from("BEGIN; INSERT INTO temp.mark VALUES (1); COMMIT;");
            sqlite_batch(&store, sql, Values(Vec::new())).await.expect("on the kept connection");
        }
        let marks =
            Query::select().expr(Expr::cust("count(*)")).from(Alias::new("mark")).to_owned();
        let rows = sqlite_read(&store, &marks).await.expect("on the kept connection");
        let marked: i64 = rows[0].try_get_by_index(0).expect("a count");
        assert_eq!((marked, store.kept.len()), (3, 1), "read on the kept connection, kept again");
        // One that SQLite refuses leaves it as it was: kept, and still the same connection.
        let missing =
            Query::select().column(Alias::new("k")).from(Alias::new("missing")).to_owned();
        sqlite_read(&store, &missing).await.expect_err("no such table");
        assert_eq!(store.kept.len(), 1, "kept after a refused read");
        let rows = sqlite_read(&store, &marks).await.expect("on the same connection");
        assert_eq!(rows.len(), 1);
        let select = String::from("SELECT k FROM t");
        let rows = sqlite_unsynced(&store, select, Values(Vec::new())).await.expect("read");
        assert_eq!(rows.len(), 3);

        // A failing batch is rolled back before its connection is kept.
        let (sql, values) = insert("a");
        let error = sqlite_batch(&store, sql, values).await.expect_err("a duplicate");
        assert!(matches!(violation(&error), Some(Violation::Unique(_))), "{error}");
        assert_eq!(store.kept.len(), 1);
        let mut conn = store.kept.take().expect("kept");
        let synchronous: i64 =
            sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *conn).await.expect("pragma");
        assert_eq!(synchronous, 2, "FULL, as the pool opened it");
        // No transaction is left open on it: a new one begins.
        sqlx::raw_sql("BEGIN; ROLLBACK;").execute(&mut *conn).await.expect("no transaction open");
        drop(conn);

        // At most `at_most` are kept, however many ran at once (while others wait, none); the
        // others went back.
        let mut batches = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (store, (sql, values)) = (store.clone(), insert(&format!("k{i}")));
            batches.spawn(async move { sqlite_batch(&store, sql, values).await });
        }
        for done in batches.join_all().await {
            done.expect("inserted");
        }
        assert!(store.kept.len() <= 1, "{} kept", store.kept.len());
        // The others are back in the pool once their return (a task sqlx spawns) has run.
        all_idle(&store).await;
        let (sql, values) = insert("last");
        sqlite_batch(&store, sql, values).await.expect("inserted");
        assert_eq!(store.kept.len(), 1, "kept again once nothing waits");
    }

    #[tokio::test]
    async fn a_kept_connection_is_not_kept_while_the_pool_has_none_to_spare() {
        let file = FileDatabase::new();
        let store = store_on(&file).await;
        let pool = store.db.get_sqlite_connection_pool().clone();
        // Both connections out of the pool: the one a batch uses goes back to it.
        let (first, second) =
            (pool.acquire().await.expect("one"), pool.acquire().await.expect("two"));
        drop(first);
        let (sql, values) = insert("a");
        sqlite_batch(&store, sql, values).await.expect("inserted");
        assert_eq!(store.kept.len(), 0, "the pool had no other connection to serve with");
        drop(second);
        all_idle(&store).await;
        let (sql, values) = insert("b");
        sqlite_batch(&store, sql, values).await.expect("inserted");
        assert_eq!(store.kept.len(), 1);
        // A closed pool hands out no kept connection: the next login statement drops it, which
        // lets the closing (waiting for every connection) finish.
        let closing = pool.close();
        assert!(store.kept.take().is_none());
        tokio::time::timeout(Duration::from_secs(5), closing).await.expect("closed");
        let (sql, values) = insert("c");
        let error = sqlite_batch(&store, sql, values).await.expect_err("closed");
        assert!(is_store_unavailable(&*internal(error).0));
    }

    #[tokio::test]
    async fn a_database_locked_past_the_busy_timeout_is_unavailable() {
        let file = FileDatabase::new();
        let store = store_on(&file).await;
        let mut other = sqlx::SqliteConnection::connect(&file.url()).await.expect("another");
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut other).await.expect("locked");
        let (sql, values) = insert("a");
        let error = sqlite_batch(&store, sql, values).await.expect_err("locked for 5 s");
        assert!(is_store_unavailable(&*internal(error).0));
        sqlx::raw_sql("ROLLBACK").execute(&mut other).await.expect("unlocked");
    }

    async fn count(txn: &sea_orm::DatabaseTransaction) -> i64 {
        let statement =
            sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "SELECT count(*) FROM t");
        let row = txn.query_one_raw(statement).await.expect("count").expect("a row");
        row.try_get_by_index::<i64>(0).expect("a number")
    }

    #[tokio::test]
    async fn a_transaction_that_reads_then_writes_survives_a_commit_on_the_kept_connection() {
        let file = FileDatabase::new();
        let store = store_on(&file).await;
        let (sql, values) = insert("a");
        sqlite_batch(&store, sql, values).await.expect("inserted");
        assert_eq!(store.kept.len(), 1);

        // The transaction reads; a batch on the kept connection tries to commit meanwhile.
        let txn = begin_write(&store.db).await.expect("begun");
        assert_eq!(count(&txn).await, 1);
        let mut batch = tokio::spawn({
            let store = store.clone();
            let (sql, values) = insert("b");
            async move { sqlite_batch(&store, sql, values).await }
        });
        let waited = tokio::time::timeout(Duration::from_secs(2), &mut batch).await;
        assert!(waited.is_err(), "the batch waits for the write lock");
        // Begun deferred, this write would fail (SQLITE_BUSY_SNAPSHOT) had the batch committed.
        txn.execute_unprepared("INSERT INTO t VALUES ('c')").await.expect("written");
        txn.commit().await.expect("committed");
        batch.await.expect("joined").expect("inserted once the transaction committed");
        let rows = sqlite_unsynced(&store, "SELECT k FROM t".into(), Values(Vec::new()))
            .await
            .expect("read");
        assert_eq!(rows.len(), 3);
    }

    #[tokio::test]
    async fn an_in_memory_database_keeps_no_connection() {
        let other_spelling = connect("sqlite://codex?mode=memory").await.expect("open");
        assert_eq!(SeaOrmStore::new(other_spelling).kept.at_most, 0);
        let db = connect("sqlite::memory:").await.expect("open");
        db.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY)").await.expect("table");
        let store = SeaOrmStore::new(db.clone());
        assert_eq!(store.kept.at_most, 0);
        let (sql, values) = insert("a");
        sqlite_batch(&store, sql, values).await.expect("inserted");
        assert_eq!(store.kept.len(), 0);
        // SeaORM's own statements still find the one connection, which is the database.
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT count(*) FROM t",
            ))
            .await
            .expect("count")
            .expect("a row");
        assert_eq!(row.try_get_by_index::<i64>(0).expect("a number"), 1);
    }
}
