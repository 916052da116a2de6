//! Pending provider logins remember which client began them, so that one client's flood of
//! begun logins is capped on its own (counted through an index, never across the table).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000002_pending_login_clients"
    }
}

#[derive(DeriveIden)]
enum PendingLogins {
    Table,
    ClientKey,
    CreatedAt,
}

const INDEX: &str = "pending_logins_client_key_idx";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PendingLogins::Table)
                    .add_column(
                        ColumnDef::new(PendingLogins::ClientKey)
                            .string_len(64)
                            .not_null()
                            .default("")
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(PendingLogins::Table)
                    .col(PendingLogins::ClientKey)
                    .col(PendingLogins::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(PendingLogins::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PendingLogins::Table)
                    .drop_column(PendingLogins::ClientKey)
                    .to_owned(),
            )
            .await
    }
}
