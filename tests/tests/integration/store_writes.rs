//! How the SeaORM store writes a session: its row, its refresh token and its audit event
//! together or not at all (one statement on PostgreSQL, one batch in a transaction on SQLite);
//! how a SQLite file database, with its pool of connections, hands a pending login to one
//! taker only; and how a PostgreSQL pending login's unsynced commit leaves its connection as it
//! was.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use codex_cloud_adapters::{SeaOrmStore, store};
use codex_cloud_core::domain::{
    AuditEvent, AuditKind, AuditOutcome, Email, Issuer, LoginPurpose, NewUser, PasswordHash,
    PendingLogin, ReturnTo, SecretString, Session, SessionId, SessionMethod, StateDigest,
    TokenDigest, UserId,
};
use codex_cloud_core::ports::{
    NewSession, PendingLoginLimit, PendingLoginStore, SessionStore, SessionStoreError, UserStore,
};
use codex_cloud_tests::app::T0;
use codex_cloud_tests::database::PostgresDatabase;
use codex_cloud_tests::process::TempDir;

/// The one number `sql` selects.
async fn number(db: &DatabaseConnection, sql: &str) -> i32 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<i32>(0).expect("a number")
}

async fn a_session_start_is_stored_whole_or_not_at_all(store: SeaOrmStore, db: DatabaseConnection) {
    let user = NewUser {
        id: UserId::new(),
        email: Email::parse("ada@example.com").unwrap(),
        password_hash: Some(PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")),
        is_admin: false,
        created_at: T0,
    };
    let event = AuditEvent::new(AuditKind::UserCreated, AuditOutcome::Success, T0);
    let user = store.create_user(user, &event).await.expect("user");
    let session = |id| Session {
        id,
        user_id: user.id,
        method: SessionMethod::Password,
        created_at: T0,
        last_used_at: T0,
        expires_at: T0 + time::Duration::hours(1),
        revoked_at: None,
    };
    let new = |session: Session| NewSession {
        session,
        refresh_token: Some(TokenDigest::of("refresh")),
        cookie: None,
        id_token: None,
    };
    let login = |id: SessionId| {
        AuditEvent::new(AuditKind::LoginPassword, AuditOutcome::Success, T0)
            .user(user.id)
            .detail("session", id)
    };
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { number(&db, sql).await }
    };

    let first = session(SessionId::random());
    store.start_session(&new(first.clone()), &login(first.id)).await.expect("the first");
    assert_eq!(store.session_with_user(first.id).await.expect("read").map(|(s, _)| s), Some(first));
    let logins = "SELECT CAST(COUNT(*) AS INTEGER) FROM audit_events WHERE kind = 'login.password'";
    assert_eq!(count(logins).await, 1);
    assert_eq!(count("SELECT CAST(COUNT(*) AS INTEGER) FROM refresh_tokens").await, 1);

    // The second session's refresh token is the first's: its insert fails after the session's.
    let second = session(SessionId::random());
    let result = store.start_session(&new(second.clone()), &login(second.id)).await;

    assert!(matches!(result, Err(SessionStoreError::DuplicateId)), "{result:?}");
    assert_eq!(store.session_with_user(second.id).await.expect("read"), None, "no session");
    assert_eq!(count(logins).await, 1, "no audit event");
    assert_eq!(count("SELECT CAST(COUNT(*) AS INTEGER) FROM sessions").await, 1);

    // The same connection stores the next session: no transaction was left open on it.
    let third = session(SessionId::random());
    let third_new =
        NewSession { refresh_token: Some(TokenDigest::of("other")), ..new(third.clone()) };
    store.start_session(&third_new, &login(third.id)).await.expect("the third");
    assert_eq!(count(logins).await, 2);
}

#[tokio::test]
async fn on_sqlite_a_session_start_is_stored_whole_or_not_at_all() {
    let dir = TempDir::new();
    let url = dir.database_url();
    let db = store::connect(&url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    a_session_start_is_stored_whole_or_not_at_all(SeaOrmStore::new(db.clone()), db).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn on_postgres_a_session_start_is_stored_whole_or_not_at_all() {
    let database = PostgresDatabase::empty().await;
    let db = store::connect(database.url()).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    a_session_start_is_stored_whole_or_not_at_all(SeaOrmStore::new(db.clone()), db).await;
}

/// A limit no test here reaches.
const LIMIT: PendingLoginLimit = PendingLoginLimit { since: T0, at_most: 1_000 };

fn pending_login(n: u32) -> PendingLogin {
    PendingLogin {
        state: StateDigest::of(&format!("state-{n}")),
        nonce: SecretString::new(format!("nonce-{n}")),
        pkce_verifier: SecretString::new(format!("verifier-{n}")),
        issuer: Issuer::new("https://op.example.com").expect("an issuer"),
        return_to: None,
        created_at: T0,
        client_key: "address:192.0.2.1".to_owned(),
        purpose: LoginPurpose::Invitation(uuid::Uuid::new_v4()),
    }
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn on_postgres_a_pending_login_commits_unsynced_and_leaves_its_connection_synced() {
    let database = PostgresDatabase::empty().await;
    let migrated = store::connect(database.url()).await.expect("connect");
    store::migrate(&migrated).await.expect("migrate");
    // One connection: every statement below runs on it.
    let mut options = sea_orm::ConnectOptions::new(database.url());
    options.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await.expect("connect");
    // Test schemas commit unsynced for speed (`PostgresDatabase`); this connection waits for
    // the disk, as a server's do.
    db.execute_unprepared("SET synchronous_commit = on").await.expect("set");
    let store = SeaOrmStore::new(db.clone());
    let setting = || async {
        let sql = "SHOW synchronous_commit";
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("show")
            .expect("a row");
        row.try_get_by_index::<String>(0).expect("a setting")
    };
    assert_eq!(setting().await, "on");

    let login = pending_login(0);
    store.save_pending_login(&login, LIMIT).await.expect("save");
    assert_eq!(setting().await, "on", "the save's own setting ends with its transaction");
    let taken = store.take_pending_login(&login.state).await.expect("take");
    assert_eq!(taken.map(|t| t.purpose), Some(login.purpose));
    assert_eq!(setting().await, "on", "the take's own setting ends with its transaction");
    let again = store.take_pending_login(&login.state).await.expect("take again");
    assert!(again.is_none(), "a login is single use");
    assert_eq!(setting().await, "on");

    // Inside a transaction left open, the statement's setting shows: these commits do not
    // wait for the disk. Rolled back, nothing of them stays.
    let sql = |sql: &'static str| db.execute_unprepared(sql);
    let login = PendingLogin {
        return_to: Some(ReturnTo::parse("/app/home?tab=1").expect("return_to")),
        ..pending_login(1)
    };
    sql("BEGIN").await.expect("begin");
    store.save_pending_login(&login, LIMIT).await.expect("save");
    assert_eq!(setting().await, "off", "the save commits unsynced");
    sql("ROLLBACK").await.expect("rollback");
    assert_eq!(setting().await, "on");
    assert!(store.take_pending_login(&login.state).await.expect("take").is_none());

    store.save_pending_login(&login, LIMIT).await.expect("save");
    sql("BEGIN").await.expect("begin");
    assert!(store.take_pending_login(&login.state).await.expect("take").is_some());
    assert_eq!(setting().await, "off", "the take commits unsynced");
    sql("ROLLBACK").await.expect("rollback");
    assert_eq!(setting().await, "on");
    let taken = store.take_pending_login(&login.state).await.expect("take").expect("still there");
    assert_eq!(taken.return_to, login.return_to);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_sqlite_file_of_many_concurrent_takes_exactly_one_gets_the_pending_login() {
    let dir = TempDir::new();
    let db = store::connect(&dir.database_url()).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    let store = SeaOrmStore::new(db);
    for round in 0..20 {
        let login = pending_login(round);
        store.save_pending_login(&login, LIMIT).await.expect("save");
        // Each take racing on SQLite's lock, on either of the two connections (one kept).
        let takes = (0..8).map(|_| {
            let (store, state) = (store.clone(), login.state.clone());
            tokio::spawn(async move { store.take_pending_login(&state).await })
        });
        let mut winners = Vec::new();
        for take in takes.collect::<Vec<_>>() {
            if let Some(taken) = take.await.expect("joined").expect("take") {
                winners.push(taken);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(winners[0].nonce.expose(), login.nonce.expose());
        assert_eq!(winners[0].purpose, login.purpose);
    }
}
