//! Stores for tests: in memory, SeaORM on an in-memory SQLite database, or SeaORM on a fresh
//! PostgreSQL schema per test (when `CODEX_TEST_DATABASE_URL` is set), dropped afterwards.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use codex_cloud_adapters::memory::InMemoryStore;
use codex_cloud_adapters::{SeaOrmStore, store};
use codex_cloud_backend::bootstrap::Stores;
use codex_cloud_core::ports::{
    AuditLog, IdentityLinkStore, InvitationStore, PendingLoginStore, Readiness, RefreshTokenStore,
    SessionStore, SigningKeyStore, ThrottleStore, UserStore,
};

/// The variable naming a PostgreSQL server for tests, e.g. `postgres://postgres@127.0.0.1/test`.
/// Each test creates a schema of its own in that database.
pub const TEST_DATABASE_URL: &str = "CODEX_TEST_DATABASE_URL";

/// Every store port at once: what one store adapter implements.
pub trait AnyStore:
    UserStore
    + IdentityLinkStore
    + SessionStore
    + RefreshTokenStore
    + ThrottleStore
    + AuditLog
    + PendingLoginStore
    + InvitationStore
    + SigningKeyStore
    + Readiness
{
}

impl<T> AnyStore for T where
    T: UserStore
        + IdentityLinkStore
        + SessionStore
        + RefreshTokenStore
        + ThrottleStore
        + AuditLog
        + PendingLoginStore
        + InvitationStore
        + SigningKeyStore
        + Readiness
{
}

/// Which store implementation a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    Memory,
    Sqlite,
    Postgres,
}

impl fmt::Display for StoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

impl StoreBackend {
    /// A fresh, empty, migrated store.
    ///
    /// # Panics
    /// For PostgreSQL without `CODEX_TEST_DATABASE_URL` (the PostgreSQL tests are ignored then,
    /// except in CI, where they must fail rather than pass unseen), or when the database fails.
    pub async fn open(self) -> TestStore {
        match self {
            Self::Memory => {
                let store = Arc::new(InMemoryStore::new());
                TestStore {
                    stores: Stores::of(store.clone()),
                    store,
                    queries: QueryLog::default(),
                    backend: self,
                    _postgres: None,
                }
            }
            Self::Sqlite => {
                let db = store::connect("sqlite::memory:").await.expect("open sqlite::memory:");
                store::migrate(&db).await.expect("migrate SQLite");
                TestStore::sea_orm(db, self, None)
            }
            Self::Postgres => {
                let Some(server) = postgres_url() else {
                    panic!(
                        "{TEST_DATABASE_URL} is not set: the PostgreSQL tests need a server \
                         (CI must set it; locally they are ignored without it)"
                    );
                };
                let database = PostgresDatabase::create(&server).await;
                let db = store::connect(&database.url).await.expect("connect to the test database");
                store::migrate(&db).await.expect("migrate PostgreSQL");
                TestStore::sea_orm(db, self, Some(database))
            }
        }
    }
}

fn postgres_url() -> Option<String> {
    std::env::var(TEST_DATABASE_URL).ok().filter(|url| !url.trim().is_empty())
}

/// The SQL statements a SeaORM store has run, counted and kept.
#[derive(Clone, Default)]
pub struct QueryLog {
    count: Arc<AtomicU64>,
    statements: Arc<Mutex<Vec<String>>>,
}

impl QueryLog {
    fn record(&self, sql: String) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.statements.lock().expect("query log").push(sql);
    }

    /// How many statements have run so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The statements run since the `since`-th.
    pub fn statements_since(&self, since: u64) -> Vec<String> {
        let statements = self.statements.lock().expect("query log");
        statements.iter().skip(usize::try_from(since).unwrap_or(usize::MAX)).cloned().collect()
    }
}

/// A store of one test, with its SeaORM connection when it has one. A PostgreSQL database is
/// dropped when this is dropped.
pub struct TestStore {
    store: Arc<dyn AnyStore>,
    stores: Stores,
    queries: QueryLog,
    backend: StoreBackend,
    // Declared last: the schema is dropped after the store (open connections do not stop it).
    _postgres: Option<PostgresDatabase>,
}

impl TestStore {
    fn sea_orm(
        mut db: DatabaseConnection,
        backend: StoreBackend,
        postgres: Option<PostgresDatabase>,
    ) -> Self {
        let queries = QueryLog::default();
        let log = queries.clone();
        db.set_metric_callback(move |info| log.record(info.statement.to_string()));
        let store = Arc::new(SeaOrmStore::new(db));
        Self { stores: Stores::of(store.clone()), store, queries, backend, _postgres: postgres }
    }

    pub fn store(&self) -> Arc<dyn AnyStore> {
        self.store.clone()
    }

    /// The composition root's `Stores`, every port from this store.
    pub fn stores(&self) -> Stores {
        self.stores.clone()
    }

    pub fn backend(&self) -> StoreBackend {
        self.backend
    }

    /// The statements run through the SeaORM connection (none for the in-memory store).
    pub fn queries(&self) -> &QueryLog {
        &self.queries
    }
}

/// A PostgreSQL schema created for one test in the database `CODEX_TEST_DATABASE_URL` names,
/// and the URL that makes it the connection's only schema; dropped (best effort) with this guard.
/// A schema is much cheaper to make and drop than a database.
pub struct PostgresDatabase {
    server: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    /// An empty schema on the test server, not migrated (for processes that migrate it).
    ///
    /// # Panics
    /// Without `CODEX_TEST_DATABASE_URL`, or when the server refuses.
    pub async fn empty() -> Self {
        let server = postgres_url().expect("CODEX_TEST_DATABASE_URL is set");
        Self::create(&server).await
    }

    /// A URL whose connections see only this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn create(server: &str) -> Self {
        let name = format!("codex_t_{}", Uuid::new_v4().simple());
        let admin = store::connect(server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {TEST_DATABASE_URL}: {e}"));
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(server).expect("CODEX_TEST_DATABASE_URL is a URL");
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={name} -c synchronous_commit=off"));
        Self { server: server.to_owned(), name, url: url.into() }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: use a runtime of our
        // own on a thread of our own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = store::connect(&server).await.map_err(|e| e.to_string())?;
                let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                let result = admin.execute_unprepared(&sql).await;
                let _ = admin.close().await;
                result.map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}
