//! Database migrations. Frozen history: a migration never imports the application's entities.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_initial;
mod m20261130_000001_account_security;
mod m20261130_000002_pending_login_clients;
mod m20261130_000003_signing_key_rotation;
mod m20261201_000001_invitations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial::Migration),
            Box::new(m20261130_000001_account_security::Migration),
            Box::new(m20261130_000002_pending_login_clients::Migration),
            Box::new(m20261130_000003_signing_key_rotation::Migration),
            Box::new(m20261201_000001_invitations::Migration),
        ]
    }
}
