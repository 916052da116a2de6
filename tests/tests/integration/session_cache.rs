//! The bearer check's session cache across replicas: two SeaORM stores on one database (two
//! replicas). The store that makes a change sees it at once; the other within
//! `SESSION_CACHE_TTL` (under a second), for each way a session ends: logout, disabling the
//! user, unlinking the identity it began through, and a password change.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use codex_cloud_adapters::{SeaOrmStore, store};
use codex_cloud_core::domain::{
    AuditEvent, AuditKind, AuditOutcome, Issuer, NewExternalIdentity, NewUser, PasswordHash,
    Session, SessionId, SessionMethod, Subject, User, UserId,
};
use codex_cloud_core::ports::{
    IdentityLinkStore, NewSession, RevokeScope, SessionStore, UserStore,
};
use codex_cloud_tests::app::T0;
use codex_cloud_tests::process::TempDir;

const OP: &str = "https://op.example.com";

fn audit() -> AuditEvent {
    AuditEvent::new(AuditKind::Logout, AuditOutcome::Success, T0)
}

/// Two replicas' stores over one SQLite file.
async fn replicas(dir: &TempDir) -> (SeaOrmStore, SeaOrmStore) {
    let url = dir.database_url();
    let a = store::connect(&url).await.expect("connect A");
    store::migrate(&a).await.expect("migrate");
    let b = store::connect(&url).await.expect("connect B");
    (SeaOrmStore::new(a), SeaOrmStore::new(b))
}

async fn user_with_session(store: &SeaOrmStore, through_identity: bool) -> (User, Session) {
    let new = NewUser {
        id: UserId::new(),
        email: codex_cloud_core::domain::Email::parse("ada@example.com").unwrap(),
        password_hash: Some(PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")),
        is_admin: true,
        created_at: T0,
    };
    let user = store.create_user(new, &audit()).await.expect("user");
    // A second administrator, so that disabling the first is allowed.
    store.create_user(second_admin(), &audit()).await.expect("second administrator");
    let method = if through_identity {
        let identity = NewExternalIdentity {
            issuer: Issuer::new(OP).unwrap(),
            subject: Subject::new("ada").unwrap(),
            user_id: user.id,
            email: None,
            created_at: T0,
        };
        store.link_identity(identity, &audit()).await.expect("link");
        SessionMethod::Oidc {
            issuer: Issuer::new(OP).unwrap(),
            subject: Subject::new("ada").unwrap(),
        }
    } else {
        SessionMethod::Password
    };
    let session = Session {
        id: SessionId::random(),
        user_id: user.id,
        method,
        created_at: T0,
        last_used_at: T0,
        expires_at: T0 + time::Duration::days(14),
        revoked_at: None,
    };
    let new =
        NewSession { session: session.clone(), refresh_token: None, cookie: None, id_token: None };
    store.start_session(&new, &audit()).await.expect("session");
    (user, session)
}

fn second_admin() -> NewUser {
    NewUser {
        id: UserId::new(),
        email: codex_cloud_core::domain::Email::parse("root@example.com").unwrap(),
        password_hash: None,
        is_admin: true,
        created_at: T0,
    }
}

/// Whether the session, as `store` reads it, still lets its user in.
async fn accepted(store: &SeaOrmStore, id: SessionId) -> bool {
    let found = store.session_with_user(id).await.expect("read");
    found.is_some_and(|(session, user)| session.revoked_at.is_none() && !user.disabled)
}

/// Runs `end` on replica A after B has read the session: A refuses at once, B within the TTL.
async fn ended_on_a_is_refused_on_b<F, Fut>(through_identity: bool, end: F)
where
    F: FnOnce(SeaOrmStore, User, SessionId) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = TempDir::new();
    let (a, b) = replicas(&dir).await;
    let (user, session) = user_with_session(&a, through_identity).await;
    assert!(accepted(&a, session.id).await && accepted(&b, session.id).await, "both read it");

    end(a.clone(), user, session.id).await;
    let ended = Instant::now();
    assert!(!accepted(&a, session.id).await, "exact on the replica that made the change");
    assert!(accepted(&b, session.id).await, "B may trust what it read for a while");
    while accepted(&b, session.id).await {
        assert!(ended.elapsed() < Duration::from_secs(1), "B must see it within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ended.elapsed() >= SeaOrmStore::SESSION_CACHE_TTL / 2, "B did use its cache");
}

fn at() -> OffsetDateTime {
    T0 + time::Duration::minutes(1)
}

#[tokio::test]
async fn a_logout_on_one_replica_is_refused_on_the_other_within_a_second() {
    ended_on_a_is_refused_on_b(false, |a, _, id| async move {
        assert!(a.revoke_session(id, at(), Some(&audit())).await.expect("logout"));
    })
    .await;
}

#[tokio::test]
async fn disabling_the_user_on_one_replica_is_refused_on_the_other_within_a_second() {
    ended_on_a_is_refused_on_b(false, |a, user, _| async move {
        a.disable_user(user.id, at(), &audit()).await.expect("disable");
    })
    .await;
}

#[tokio::test]
async fn unlinking_the_identity_on_one_replica_is_refused_on_the_other_within_a_second() {
    ended_on_a_is_refused_on_b(true, |a, _, _| async move {
        let (issuer, subject) = (Issuer::new(OP).unwrap(), Subject::new("ada").unwrap());
        assert!(a.unlink_identity(&issuer, &subject, &audit()).await.expect("unlink"));
    })
    .await;
}

#[tokio::test]
async fn a_password_change_on_one_replica_is_refused_on_the_other_within_a_second() {
    ended_on_a_is_refused_on_b(false, |a, user, _| async move {
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI");
        let scope = RevokeScope::User { user: user.id, except: None };
        a.set_password_hash(user.id, &hash, at(), Some(&scope), Some(&audit())).await.expect("set");
    })
    .await;
}

#[tokio::test]
async fn an_administrators_reset_on_one_replica_is_refused_on_the_other_within_a_second() {
    ended_on_a_is_refused_on_b(false, |a, user, _| async move {
        let scope = RevokeScope::User { user: user.id, except: None };
        assert_eq!(a.revoke_sessions(&scope, at(), Some(&audit())).await.expect("reset"), 1);
    })
    .await;
}

#[tokio::test]
async fn deleting_the_user_on_one_replica_is_refused_on_the_other_within_a_second() {
    ended_on_a_is_refused_on_b(false, |a, user, _| async move {
        assert!(a.delete_user(user.id).await.expect("delete"));
    })
    .await;
}
