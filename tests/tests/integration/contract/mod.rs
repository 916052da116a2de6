//! Contract tests of the store ports: the same cases against the in-memory store, SeaORM on
//! SQLite, and SeaORM on PostgreSQL (when `CODEX_TEST_DATABASE_URL` is set, or in CI; reported
//! as ignored otherwise).

use std::future::Future;

use time::{Duration, OffsetDateTime};

use codex_cloud_core::domain::{
    Email, Issuer, NewExternalIdentity, NewUser, PasswordHash, Subject, UserId,
};
use codex_cloud_tests::app::T0;
use codex_cloud_tests::{StoreBackend, TestStore};

/// One `#[tokio::test]` per case and backend: `<file>::{memory,sqlite,postgres}::<case>`.
macro_rules! contract_tests {
    ($($case:ident),+ $(,)?) => {
        contract_tests!(@on memory Memory: $($case),+);
        contract_tests!(@on sqlite Sqlite: $($case),+);
        contract_tests!(@on postgres Postgres: $($case),+);
    };
    (@on postgres Postgres: $($case:ident),+) => {
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(
                    not(codex_postgres),
                    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
                )]
                async fn $case() {
                    $crate::contract::run(codex_cloud_tests::StoreBackend::Postgres, super::$case)
                        .await;
                }
            )+
        }
    };
    (@on $module:ident $backend:ident: $($case:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $case() {
                    $crate::contract::run(
                        codex_cloud_tests::StoreBackend::$backend,
                        super::$case,
                    )
                    .await;
                }
            )+
        }
    };
}

mod cascade;
mod identities;
mod invitations;
mod keys;
mod sessions;
mod users;

/// Runs `case` against a fresh store.
pub(crate) async fn run<F, Fut>(backend: StoreBackend, case: F)
where
    F: FnOnce(TestStore) -> Fut,
    Fut: Future<Output = ()>,
{
    case(backend.open().await).await;
}

pub(crate) fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds)
}

pub(crate) fn email(raw: &str) -> Email {
    Email::parse(raw).expect("a valid e-mail address")
}

pub(crate) fn issuer(raw: &str) -> Issuer {
    Issuer::new(raw).expect("a valid issuer")
}

pub(crate) fn subject(raw: &str) -> Subject {
    Subject::new(raw).expect("a valid subject")
}

pub(crate) fn new_user(address: &str, created_at: OffsetDateTime) -> NewUser {
    NewUser {
        id: UserId::new(),
        email: email(address),
        password_hash: Some(PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")),
        is_admin: false,
        created_at,
    }
}

pub(crate) fn new_identity(
    iss: &str,
    sub: &str,
    user_id: UserId,
    address: Option<&str>,
    created_at: OffsetDateTime,
) -> NewExternalIdentity {
    NewExternalIdentity {
        issuer: issuer(iss),
        subject: subject(sub),
        user_id,
        email: address.map(email),
        created_at,
    }
}

/// A session to store as it is, without a refresh token or cookie.
pub(crate) fn stored(
    session: &codex_cloud_core::domain::Session,
) -> codex_cloud_core::ports::NewSession {
    codex_cloud_core::ports::NewSession {
        session: session.clone(),
        refresh_token: None,
        cookie: None,
        id_token: None,
    }
}

/// An audit event to hand to a store method that records one.
pub(crate) fn audit() -> codex_cloud_core::domain::AuditEvent {
    use codex_cloud_core::domain::{AuditEvent, AuditKind, AuditOutcome};
    AuditEvent::new(AuditKind::UserCreated, AuditOutcome::Success, T0)
}
