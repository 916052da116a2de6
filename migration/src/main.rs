//! The standard sea-orm-migration command line (`up`, `down`, `status`, `fresh`, ...).

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(codex_cloud_migration::Migrator).await;
}
