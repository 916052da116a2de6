//! Identity stores for tests: in memory, SeaORM on an in-memory SQLite database, or SeaORM on a
//! fresh PostgreSQL database per test (when `CODEX_TEST_DATABASE_URL` is set), dropped afterwards.

use std::fmt;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use codex_cloud_adapters::memory::InMemoryIdentityStore;
use codex_cloud_adapters::{SeaOrmIdentityStore, store};
use codex_cloud_core::ports::IdentityStore;

/// The variable naming a PostgreSQL server for tests, e.g. `postgres://postgres@127.0.0.1/test`.
/// Each test creates a database of its own through it.
pub const TEST_DATABASE_URL: &str = "CODEX_TEST_DATABASE_URL";

/// Which `IdentityStore` implementation a test runs against.
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
    /// Whether this backend can run here (PostgreSQL needs `CODEX_TEST_DATABASE_URL`).
    pub fn is_available(self) -> bool {
        self != Self::Postgres || postgres_url().is_some()
    }

    /// A fresh, empty, migrated store; `None` (after saying so on stderr) when the backend is not
    /// available here.
    pub async fn open(self) -> Option<TestStore> {
        match self {
            Self::Memory => Some(TestStore {
                store: Arc::new(InMemoryIdentityStore::new()),
                db: None,
                backend: self,
                _postgres: None,
            }),
            Self::Sqlite => {
                let db = store::connect("sqlite::memory:").await.expect("open sqlite::memory:");
                store::migrate(&db).await.expect("migrate SQLite");
                Some(TestStore::sea_orm(db, self, None))
            }
            Self::Postgres => {
                let Some(server) = postgres_url() else {
                    eprintln!("skipped: set {TEST_DATABASE_URL} to run the PostgreSQL variant");
                    return None;
                };
                let database = PostgresDatabase::create(&server).await;
                let db = store::connect(&database.url).await.expect("connect to the test database");
                store::migrate(&db).await.expect("migrate PostgreSQL");
                Some(TestStore::sea_orm(db, self, Some(database)))
            }
        }
    }
}

fn postgres_url() -> Option<String> {
    std::env::var(TEST_DATABASE_URL).ok().filter(|url| !url.trim().is_empty())
}

/// A store of one test, with its SeaORM connection when it has one. A PostgreSQL database is
/// dropped when this is dropped.
pub struct TestStore {
    store: Arc<dyn IdentityStore>,
    db: Option<DatabaseConnection>,
    backend: StoreBackend,
    // Declared last: dropped after the connection above.
    _postgres: Option<PostgresDatabase>,
}

impl TestStore {
    fn sea_orm(
        db: DatabaseConnection,
        backend: StoreBackend,
        postgres: Option<PostgresDatabase>,
    ) -> Self {
        Self {
            store: Arc::new(SeaOrmIdentityStore::new(db.clone())),
            db: Some(db),
            backend,
            _postgres: postgres,
        }
    }

    /// A store of the test's own making (say, one that fails on purpose), without a database.
    pub fn custom(store: Arc<dyn IdentityStore>) -> Self {
        Self { store, db: None, backend: StoreBackend::Memory, _postgres: None }
    }

    pub fn store(&self) -> Arc<dyn IdentityStore> {
        self.store.clone()
    }

    pub fn backend(&self) -> StoreBackend {
        self.backend
    }

    /// The SeaORM connection (`None` for the in-memory store).
    pub fn connection(&self) -> Option<&DatabaseConnection> {
        self.db.as_ref()
    }
}

/// A PostgreSQL database created for one test; dropped (best effort) with this guard.
struct PostgresDatabase {
    server: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    async fn create(server: &str) -> Self {
        let name = format!("codex_t_{}", Uuid::new_v4().simple());
        let admin = store::connect(server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {TEST_DATABASE_URL}: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(server).expect("CODEX_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self { server: server.to_owned(), name, url: url.into() }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: use a runtime of our
        // own on a thread of our own. FORCE ends the connections the test left open.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = store::connect(&server).await.map_err(|e| e.to_string())?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let result = admin.execute_unprepared(&sql).await;
                let _ = admin.close().await;
                result.map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}
