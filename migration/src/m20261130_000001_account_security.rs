//! Account security: sessions that outlive their access tokens (idle and absolute limits, how
//! they began, a browser credential), refresh tokens, login throttling and the audit trail.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000001_account_security"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    ExpiresAt,
    LastUsedAt,
    Method,
    IdentityIssuer,
    IdentitySubject,
    CookieDigest,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenDigest,
    SessionId,
    CreatedAt,
    SpentAt,
}

#[derive(DeriveIden)]
enum LoginThrottles {
    Table,
    Key,
    Failures,
    WindowStartedAt,
    LastFailureAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OccurredAt,
    Kind,
    Outcome,
    UserId,
    ActorId,
    ClientAddress,
    Detail,
}

fn add_column(column: ColumnDef) -> TableAlterStatement {
    // One column per statement: SQLite adds one at a time.
    Table::alter().table(Sessions::Table).add_column(column).to_owned()
}

fn index(name: &str, table: impl IntoIden, columns: &[DynIden]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column.clone());
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(add_column(
                ColumnDef::new(Sessions::LastUsedAt).timestamp_with_time_zone().null().to_owned(),
            ))
            .await?;
        manager
            .alter_table(add_column(
                ColumnDef::new(Sessions::Method)
                    .string_len(16)
                    .not_null()
                    .default("password")
                    .to_owned(),
            ))
            .await?;
        manager
            .alter_table(add_column(
                ColumnDef::new(Sessions::IdentityIssuer).string_len(2048).null().to_owned(),
            ))
            .await?;
        manager
            .alter_table(add_column(
                ColumnDef::new(Sessions::IdentitySubject).string_len(255).null().to_owned(),
            ))
            .await?;
        manager
            .alter_table(add_column(
                ColumnDef::new(Sessions::CookieDigest).string_len(64).null().to_owned(),
            ))
            .await?;
        manager
            .get_connection()
            .execute_unprepared("UPDATE sessions SET last_used_at = created_at")
            .await?;
        let mut cookie = index(
            "sessions_cookie_digest_key",
            Sessions::Table,
            &[Sessions::CookieDigest.into_iden()],
        );
        manager.create_index(cookie.unique().to_owned()).await?;
        manager
            .create_index(index(
                "sessions_identity_idx",
                Sessions::Table,
                &[Sessions::IdentityIssuer.into_iden(), Sessions::IdentitySubject.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "sessions_expires_at_idx",
                Sessions::Table,
                &[Sessions::ExpiresAt.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(
                        ColumnDef::new(RefreshTokens::TokenDigest)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RefreshTokens::SessionId).uuid().not_null())
                    .col(
                        ColumnDef::new(RefreshTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RefreshTokens::SpentAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_session_id_fkey")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "refresh_tokens_session_id_idx",
                RefreshTokens::Table,
                &[RefreshTokens::SessionId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(
                        ColumnDef::new(LoginThrottles::Key)
                            .string_len(320)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginThrottles::Failures).big_integer().not_null())
                    .col(
                        ColumnDef::new(LoginThrottles::WindowStartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginThrottles::LastFailureAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(ColumnDef::new(AuditEvents::Id).uuid().not_null().primary_key())
                    .col(
                        ColumnDef::new(AuditEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(AuditEvents::Outcome).string_len(16).not_null())
                    .col(ColumnDef::new(AuditEvents::UserId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::ActorId).uuid().null())
                    .col(ColumnDef::new(AuditEvents::ClientAddress).string_len(64).null())
                    .col(ColumnDef::new(AuditEvents::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "audit_events_occurred_at_idx",
                AuditEvents::Table,
                &[AuditEvents::OccurredAt.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "audit_events_user_id_idx",
                AuditEvents::Table,
                &[AuditEvents::UserId.into_iden(), AuditEvents::OccurredAt.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            LoginThrottles::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for index in
            ["sessions_cookie_digest_key", "sessions_identity_idx", "sessions_expires_at_idx"]
        {
            manager.drop_index(Index::drop().name(index).table(Sessions::Table).to_owned()).await?;
        }
        for column in [
            Sessions::CookieDigest.into_iden(),
            Sessions::IdentitySubject.into_iden(),
            Sessions::IdentityIssuer.into_iden(),
            Sessions::Method.into_iden(),
            Sessions::LastUsedAt.into_iden(),
        ] {
            manager
                .alter_table(Table::alter().table(Sessions::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
