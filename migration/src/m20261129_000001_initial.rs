//! Users, external identities, sessions, pending OpenID Connect logins and token signing keys.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    IsAdmin,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExternalIdentities {
    Table,
    Id,
    Issuer,
    Subject,
    UserId,
    Email,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum PendingLogins {
    Table,
    StateDigest,
    Nonce,
    PkceVerifier,
    Issuer,
    ReturnTo,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    Kid,
    Algorithm,
    PrivateKeyPem,
    CreatedAt,
}

fn timestamps(table: &mut TableCreateStatement, columns: &[DynIden]) {
    for column in columns {
        table.col(ColumnDef::new(column.clone()).timestamp_with_time_zone().not_null());
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut users = Table::create();
        users
            .table(Users::Table)
            .col(ColumnDef::new(Users::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(Users::Email).string_len(254).not_null())
            .col(ColumnDef::new(Users::PasswordHash).text().null())
            .col(ColumnDef::new(Users::IsAdmin).boolean().not_null().default(false))
            .col(ColumnDef::new(Users::Disabled).boolean().not_null().default(false));
        timestamps(&mut users, &[Users::CreatedAt.into_iden(), Users::UpdatedAt.into_iden()]);
        manager.create_table(users).await?;
        // Unique without regard to case, whoever writes the row (both backends index expressions).
        manager
            .get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))")
            .await?;

        let mut identities = Table::create();
        identities
            .table(ExternalIdentities::Table)
            .col(ColumnDef::new(ExternalIdentities::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(ExternalIdentities::Issuer).string_len(2048).not_null())
            .col(ColumnDef::new(ExternalIdentities::Subject).string_len(255).not_null())
            .col(ColumnDef::new(ExternalIdentities::UserId).uuid().not_null())
            .col(ColumnDef::new(ExternalIdentities::Email).string_len(254).null())
            .foreign_key(
                ForeignKey::create()
                    .name("external_identities_user_id_fkey")
                    .from(ExternalIdentities::Table, ExternalIdentities::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        timestamps(
            &mut identities,
            &[ExternalIdentities::CreatedAt.into_iden(), ExternalIdentities::UpdatedAt.into_iden()],
        );
        manager.create_table(identities).await?;
        manager
            .create_index(
                Index::create()
                    .name("external_identities_issuer_subject_key")
                    .table(ExternalIdentities::Table)
                    .col(ExternalIdentities::Issuer)
                    .col(ExternalIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("external_identities_user_id_idx")
                    .table(ExternalIdentities::Table)
                    .col(ExternalIdentities::UserId)
                    .to_owned(),
            )
            .await?;

        let mut sessions = Table::create();
        sessions
            .table(Sessions::Table)
            .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
            .col(ColumnDef::new(Sessions::UserId).uuid().not_null())
            .col(ColumnDef::new(Sessions::RevokedAt).timestamp_with_time_zone().null())
            .foreign_key(
                ForeignKey::create()
                    .name("sessions_user_id_fkey")
                    .from(Sessions::Table, Sessions::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        timestamps(
            &mut sessions,
            &[Sessions::CreatedAt.into_iden(), Sessions::ExpiresAt.into_iden()],
        );
        manager.create_table(sessions).await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_user_id_idx")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        let mut pending = Table::create();
        pending
            .table(PendingLogins::Table)
            .col(ColumnDef::new(PendingLogins::StateDigest).string_len(64).not_null().primary_key())
            .col(ColumnDef::new(PendingLogins::Nonce).text().not_null())
            .col(ColumnDef::new(PendingLogins::PkceVerifier).text().not_null())
            .col(ColumnDef::new(PendingLogins::Issuer).string_len(2048).not_null())
            .col(ColumnDef::new(PendingLogins::ReturnTo).text().null());
        timestamps(&mut pending, &[PendingLogins::CreatedAt.into_iden()]);
        manager.create_table(pending).await?;
        manager
            .create_index(
                Index::create()
                    .name("pending_logins_created_at_idx")
                    .table(PendingLogins::Table)
                    .col(PendingLogins::CreatedAt)
                    .to_owned(),
            )
            .await?;

        let mut keys = Table::create();
        keys.table(SigningKeys::Table)
            .col(ColumnDef::new(SigningKeys::Id).integer().not_null().primary_key())
            .col(ColumnDef::new(SigningKeys::Kid).string_len(64).not_null().unique_key())
            .col(ColumnDef::new(SigningKeys::Algorithm).string_len(16).not_null())
            .col(ColumnDef::new(SigningKeys::PrivateKeyPem).text().not_null());
        timestamps(&mut keys, &[SigningKeys::CreatedAt.into_iden()]);
        manager.create_table(keys).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SigningKeys::Table.into_iden(),
            PendingLogins::Table.into_iden(),
            Sessions::Table.into_iden(),
            ExternalIdentities::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
