//! The SeaORM identity store (SQLite or PostgreSQL), connection set-up and migrations, and the
//! token signing keys kept in the database so every replica shares them.

mod entity;
mod identity_store;
mod signing_keys;

use std::time::Duration;

use codex_cloud_migration::MigratorTrait as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqlErr};

use codex_cloud_core::ports::StoreError;

pub use signing_keys::load_or_create_signing_keys;

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
    if url.starts_with("sqlite::memory:") || url.contains("mode=memory") {
        // Each connection to an in-memory SQLite database is a database of its own.
        // ... and it lives only as long as that connection: never recycle it.
        options.max_connections(1).min_connections(1).max_lifetime(None).idle_timeout(None);
    }
    let db = Database::connect(options).await?;
    if url.starts_with("sqlite:") {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
        if !url.contains("memory") {
            db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        }
    }
    Ok(db)
}

/// Applies every pending migration.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), SetupError> {
    Ok(codex_cloud_migration::Migrator::up(db, None).await?)
}

/// Implements `IdentityStore` over a SeaORM connection.
#[derive(Clone, Debug)]
pub struct SeaOrmIdentityStore {
    db: DatabaseConnection,
}

impl SeaOrmIdentityStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

fn internal(error: DbErr) -> StoreError {
    StoreError::Internal(Box::new(error))
}

/// Maps constraint violations to the store's error arms, everything else to `Internal`.
fn classify(error: DbErr, on_unique: StoreError, on_foreign_key: StoreError) -> StoreError {
    match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => on_unique,
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => on_foreign_key,
        _ => internal(error),
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} is not valid").into())
}
