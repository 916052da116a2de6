//! Invitations to link a provider account to a chosen user; pending logins remember what they
//! are for (an invitation, or linking to the user of a live session); browser sessions keep the provider's
//! ID token, sealed, for provider logout.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000001_invitations"
    }
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    UserId,
    TokenDigest,
    CreatedAt,
    ExpiresAt,
    SpentAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PendingLogins {
    Table,
    InvitationId,
    LinkSessionId,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdTokenSealed,
}

const USER_INDEX: &str = "invitations_user_id_idx";

async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    // One column per statement: SQLite alters one at a time.
    let mut column = column;
    manager.alter_table(Table::alter().table(table).add_column(&mut column).to_owned()).await
}

async fn drop_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(ColumnDef::new(Invitations::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Invitations::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Invitations::TokenDigest)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Invitations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitations::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Invitations::SpentAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_user_id_fkey")
                            .from(Invitations::Table, Invitations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(USER_INDEX)
                    .table(Invitations::Table)
                    .col(Invitations::UserId)
                    .to_owned(),
            )
            .await?;
        add_column(
            manager,
            PendingLogins::Table,
            ColumnDef::new(PendingLogins::InvitationId).uuid().null().to_owned(),
        )
        .await?;
        add_column(
            manager,
            PendingLogins::Table,
            ColumnDef::new(PendingLogins::LinkSessionId).uuid().null().to_owned(),
        )
        .await?;
        add_column(
            manager,
            Sessions::Table,
            ColumnDef::new(Sessions::IdTokenSealed).binary().null().to_owned(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_column(manager, Sessions::Table, Sessions::IdTokenSealed).await?;
        drop_column(manager, PendingLogins::Table, PendingLogins::LinkSessionId).await?;
        drop_column(manager, PendingLogins::Table, PendingLogins::InvitationId).await?;
        manager.drop_table(Table::drop().table(Invitations::Table).to_owned()).await
    }
}
