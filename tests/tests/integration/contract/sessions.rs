//! Contract cases for sessions (create, read, idempotent revoke) and pending OpenID Connect
//! logins (single-use take, purge by age).

use codex_cloud_core::domain::{
    LoginPurpose, PendingLogin, ReturnTo, SecretString, Session, SessionId, SessionMethod,
    StateDigest, UserId,
};
use codex_cloud_core::ports::{PendingLoginLimit, PendingLoginStoreError, SessionStoreError};
use codex_cloud_tests::TestStore;
use codex_cloud_tests::database::AnyStore;

use super::{at, issuer, new_user};

contract_tests!(
    a_created_session_is_read_back_as_stored,
    revoking_a_session_is_idempotent_and_keeps_the_first_revocation_time,
    a_session_for_an_unknown_user_is_unknown_user,
    a_pending_login_can_be_taken_only_once,
    purging_pending_logins_removes_only_those_created_before_the_cutoff,
    a_client_at_its_limit_of_young_pending_logins_stores_no_more,
    of_two_concurrent_takes_at_most_one_gets_the_pending_login,
    a_second_session_with_the_same_id_is_a_duplicate_not_an_unknown_user,
    a_second_pending_login_with_the_same_state_is_a_duplicate,
    a_session_is_read_with_its_user_as_the_user_is_now,
    a_refresh_token_rotates_once_and_its_replay_is_reuse,
    a_refresh_token_of_an_ended_session_changes_nothing,
    of_two_concurrent_rotations_at_most_one_wins,
);

fn session(user_id: UserId) -> Session {
    Session {
        id: SessionId::random(),
        user_id,
        method: SessionMethod::Password,
        created_at: at(0),
        last_used_at: at(0),
        expires_at: at(900),
        revoked_at: None,
    }
}

fn pending(state: &str, return_to: Option<&str>, second: i64) -> PendingLogin {
    PendingLogin {
        state: StateDigest::of(state),
        nonce: SecretString::new(format!("nonce-{state}")),
        pkce_verifier: SecretString::new(format!("verifier-{state}")),
        issuer: issuer("https://op.example.com"),
        return_to: return_to.map(|r| ReturnTo::parse(r).expect("return_to")),
        created_at: at(second),
        client_key: "address:192.0.2.1".to_owned(),
        purpose: LoginPurpose::Login,
    }
}

/// A limit no test reaches by accident.
const ROOMY: PendingLoginLimit =
    PendingLoginLimit { since: codex_cloud_tests::app::T0, at_most: 1_000 };

/// The session alone, as `session_with_user` reads it.
async fn session_of(store: &dyn AnyStore, id: SessionId) -> Result<Option<Session>, String> {
    let found = store.session_with_user(id).await.map_err(|e| e.to_string())?;
    Ok(found.map(|(session, user)| {
        assert_eq!(session.user_id, user.id, "the session comes with its own user");
        session
    }))
}

fn assert_same_login(taken: &PendingLogin, saved: &PendingLogin) {
    assert_eq!(taken.state, saved.state);
    assert_eq!(taken.nonce.expose(), saved.nonce.expose());
    assert_eq!(taken.pkce_verifier.expose(), saved.pkce_verifier.expose());
    assert_eq!(taken.issuer, saved.issuer);
    assert_eq!(taken.return_to, saved.return_to);
    assert_eq!(taken.created_at, saved.created_at);
    assert_eq!(taken.client_key, saved.client_key);
    assert_eq!(taken.purpose, saved.purpose);
}

async fn a_created_session_is_read_back_as_stored(t: TestStore) {
    let store = t.store();
    let user =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let session = session(user.id);

    store.start_session(&super::stored(&session), &super::audit()).await.expect("create");

    assert_eq!(session_of(&*store, session.id).await.expect("read"), Some(session));
    let unknown = session_of(&*store, SessionId::random()).await.expect("unknown");
    assert_eq!(unknown, None);
}

async fn revoking_a_session_is_idempotent_and_keeps_the_first_revocation_time(t: TestStore) {
    let store = t.store();
    let user =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let session = session(user.id);
    let other = self::session(user.id);
    store.start_session(&super::stored(&session), &super::audit()).await.expect("create");
    store.start_session(&super::stored(&other), &super::audit()).await.expect("create other");

    store.revoke_session(session.id, at(10), None).await.expect("revoke");
    store.revoke_session(session.id, at(20), None).await.expect("again");
    store
        .revoke_session(SessionId::random(), at(30), None)
        .await
        .expect("revoking an unknown session is not an error");

    let revoked = session_of(&*store, session.id).await.expect("read").expect("kept");
    assert_eq!(revoked.revoked_at, Some(at(10)));
    assert!(!revoked.is_active(at(11), time::Duration::days(1)));
    let untouched = session_of(&*store, other.id).await.expect("read other");
    assert_eq!(untouched, Some(other));
}

async fn a_session_for_an_unknown_user_is_unknown_user(t: TestStore) {
    let store = t.store();
    let session = session(UserId::new());

    let result = store.start_session(&super::stored(&session), &super::audit()).await;

    assert!(matches!(result, Err(SessionStoreError::UnknownUser)), "{result:?}");
    assert_eq!(session_of(&*store, session.id).await.expect("read"), None);

    // The failed write left no transaction open behind it: the next one begins and commits.
    let user =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let next = self::session(user.id);
    store.start_session(&super::stored(&next), &super::audit()).await.expect("the next write");
    assert_eq!(session_of(&*store, next.id).await.expect("read"), Some(next));
}

async fn a_pending_login_can_be_taken_only_once(t: TestStore) {
    let store = t.store();
    let with_return = pending("state-1", Some("/app/home?tab=1"), 0);
    let without_return = pending("state-2", None, 1);
    store.save_pending_login(&with_return, ROOMY).await.expect("save");
    store.save_pending_login(&without_return, ROOMY).await.expect("save");

    let taken = store.take_pending_login(&with_return.state).await;
    assert_same_login(&taken.expect("take").expect("saved"), &with_return);
    let again = store.take_pending_login(&with_return.state).await;
    assert!(again.expect("take again").is_none(), "a login is single use");

    let other = store.take_pending_login(&without_return.state).await;
    assert_same_login(&other.expect("take").expect("saved"), &without_return);

    // A login that redeems an invitation, and one that links to a session, keep their purpose.
    let purposes =
        [LoginPurpose::Invitation(uuid::Uuid::new_v4()), LoginPurpose::Link(SessionId::random())];
    for (i, purpose) in purposes.into_iter().enumerate() {
        let login = PendingLogin { purpose, ..pending(&format!("purpose-{i}"), Some("/"), 2) };
        store.save_pending_login(&login, ROOMY).await.expect("save");
        let taken = store.take_pending_login(&login.state).await.expect("take");
        assert_same_login(&taken.expect("saved"), &login);
    }
    let unknown = store.take_pending_login(&StateDigest::of("never saved")).await;
    assert!(unknown.expect("take unknown").is_none());
}

async fn a_client_at_its_limit_of_young_pending_logins_stores_no_more(t: TestStore) {
    let store = t.store();
    let flood = |state: &str, second| PendingLogin {
        client_key: "address:203.0.113.7".to_owned(),
        ..pending(state, None, second)
    };
    let limit = PendingLoginLimit { since: at(100), at_most: 3 };
    // An old login does not count against the limit.
    store.save_pending_login(&flood("old", 50), limit).await.expect("old");
    for n in 0..3 {
        store.save_pending_login(&flood(&format!("a{n}"), 100 + n), limit).await.expect("save");
    }

    let fourth = flood("a3", 110);
    let refused = store.save_pending_login(&fourth, limit).await;
    assert!(matches!(refused, Err(PendingLoginStoreError::LimitReached)), "{refused:?}");
    assert!(store.take_pending_login(&fourth.state).await.expect("take").is_none(), "not stored");

    // Another client is not held back by this one.
    store.save_pending_login(&pending("other", None, 110), limit).await.expect("other client");
    // A taken login frees its place.
    store.take_pending_login(&StateDigest::of("a0")).await.expect("take").expect("stored");
    store.save_pending_login(&fourth, limit).await.expect("a place is free");
    // With the client at its limit again, a later window that counts fewer lets it in.
    let later = PendingLoginLimit { since: at(102), at_most: 3 };
    store.save_pending_login(&flood("a4", 111), later).await.expect("older ones no longer count");
    // `at_most` of 1 allows none beyond the first.
    let one = PendingLoginLimit { since: at(0), at_most: 1 };
    let lone = store.save_pending_login(&pending("lone", None, 0), one).await;
    assert!(matches!(lone, Err(PendingLoginStoreError::LimitReached)), "{lone:?}");
    // None at all with 0; no limit to speak of with the largest.
    let none = PendingLoginLimit { since: at(0), at_most: 0 };
    let refused = store.save_pending_login(&pending("first", None, 0), none).await;
    assert!(matches!(refused, Err(PendingLoginStoreError::LimitReached)), "{refused:?}");
    let vast = PendingLoginLimit { since: at(0), at_most: u64::MAX };
    store.save_pending_login(&pending("vast", None, 0), vast).await.expect("no limit reached");
}

async fn purging_pending_logins_removes_only_those_created_before_the_cutoff(t: TestStore) {
    let store = t.store();
    let (old, boundary, young) =
        (pending("old", None, 0), pending("b", None, 300), pending("y", None, 600));
    for login in [&old, &boundary, &young] {
        store.save_pending_login(login, ROOMY).await.expect("save");
    }

    assert_eq!(store.purge_pending_logins(at(300), 10).await.expect("purge"), 1);
    assert_eq!(store.purge_pending_logins(at(300), 10).await.expect("again"), 0);
    let more: Vec<PendingLogin> =
        (0..3).map(|n| pending(&format!("b{n}"), None, 100 + n)).collect();
    for login in &more {
        store.save_pending_login(login, ROOMY).await.expect("save");
    }
    assert_eq!(
        store.purge_pending_logins(at(300), 2).await.expect("a batch"),
        2,
        "batches are bounded"
    );
    assert_eq!(store.purge_pending_logins(at(300), 2).await.expect("the rest"), 1);

    let purged = more.iter().chain([&old]).map(|login| (login, false));
    for (login, kept) in purged.chain([(&boundary, true), (&young, true)]) {
        let taken = store.take_pending_login(&login.state).await.expect("take");
        assert_eq!(taken.is_some(), kept, "created at {}", login.created_at);
    }
}

async fn of_two_concurrent_takes_at_most_one_gets_the_pending_login(t: TestStore) {
    let store = t.store();
    let login = pending("raced", None, 0);
    store.save_pending_login(&login, ROOMY).await.expect("save");

    let (a, b) = tokio::join!(
        store.take_pending_login(&login.state),
        store.take_pending_login(&login.state)
    );

    let winners =
        [a.expect("first"), b.expect("second")].iter().filter(|taken| taken.is_some()).count();
    assert_eq!(winners, 1);
}

async fn a_second_session_with_the_same_id_is_a_duplicate_not_an_unknown_user(t: TestStore) {
    let store = t.store();
    let user =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let first = session(user.id);
    store.start_session(&super::stored(&first), &super::audit()).await.expect("create");

    let again = Session { created_at: at(5), ..first.clone() };
    let result = store.start_session(&super::stored(&again), &super::audit()).await;

    assert!(matches!(result, Err(SessionStoreError::DuplicateId)), "{result:?}");
    assert_eq!(session_of(&*store, first.id).await.expect("read"), Some(first));
}

async fn a_second_pending_login_with_the_same_state_is_a_duplicate(t: TestStore) {
    let store = t.store();
    let first = pending("same", Some("/first"), 0);
    store.save_pending_login(&first, ROOMY).await.expect("save");

    let result = store.save_pending_login(&pending("same", None, 1), ROOMY).await;

    assert!(matches!(result, Err(PendingLoginStoreError::DuplicateState)), "{result:?}");
    let taken = store.take_pending_login(&first.state).await.expect("take").expect("kept");
    assert_same_login(&taken, &first);
}

async fn a_session_is_read_with_its_user_as_the_user_is_now(t: TestStore) {
    let store = t.store();
    let user =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let session = session(user.id);
    store.start_session(&super::stored(&session), &super::audit()).await.expect("create");
    store.disable_user(user.id, at(10), &super::audit()).await.expect("disable");

    let (read, owner) = store.session_with_user(session.id).await.expect("read").expect("found");

    assert_eq!(read, Session { revoked_at: Some(at(10)), ..session }, "disabling revoked it");
    assert_eq!(owner.id, user.id);
    assert!(owner.disabled, "the user is read as stored now");
}

fn digest(raw: &str) -> codex_cloud_core::domain::TokenDigest {
    codex_cloud_core::domain::TokenDigest::of(raw)
}

async fn with_refresh(t: &TestStore, expires_at: i64) -> (SessionId, UserId) {
    let store = t.store();
    let user =
        store.create_user(new_user("ada@example.com", at(0)), &super::audit()).await.expect("user");
    let session = Session { expires_at: at(expires_at), ..session(user.id) };
    let new = codex_cloud_core::ports::NewSession {
        session: session.clone(),
        refresh_token: Some(digest("first")),
        cookie: Some(digest("cookie")),
        id_token: None,
    };
    store.start_session(&new, &super::audit()).await.expect("start");
    (session.id, user.id)
}

async fn a_refresh_token_rotates_once_and_its_replay_is_reuse(t: TestStore) {
    use codex_cloud_core::ports::RefreshOutcome;
    let (id, user) = with_refresh(&t, 900).await;
    let store = t.store();

    let first = store
        .rotate_refresh_token(
            &digest("first"),
            &digest("second"),
            at(10),
            at(-100),
            &super::audit(),
        )
        .await;
    assert_eq!(first.expect("rotate"), RefreshOutcome::Rotated(id));
    let replay = store
        .rotate_refresh_token(&digest("first"), &digest("third"), at(11), at(-100), &super::audit())
        .await;
    assert_eq!(replay.expect("replay"), RefreshOutcome::Reused(id));
    let next = store
        .rotate_refresh_token(
            &digest("second"),
            &digest("fourth"),
            at(12),
            at(-100),
            &super::audit(),
        )
        .await;
    assert_eq!(next.expect("next"), RefreshOutcome::Rotated(id));
    let unknown = store
        .rotate_refresh_token(&digest("third"), &digest("fifth"), at(13), at(-100), &super::audit())
        .await;
    assert_eq!(unknown.expect("unknown"), RefreshOutcome::Unknown, "a token never stored");
    let (by_cookie, owner) =
        store.session_by_cookie(&digest("cookie")).await.expect("read").expect("found");
    assert_eq!((by_cookie.id, owner.id), (id, user));
}

async fn a_refresh_token_of_an_ended_session_changes_nothing(t: TestStore) {
    use codex_cloud_core::ports::RefreshOutcome;
    let (id, _) = with_refresh(&t, 900).await;
    let store = t.store();

    let too_old = store
        .rotate_refresh_token(&digest("first"), &digest("x"), at(900), at(0), &super::audit())
        .await;
    assert_eq!(too_old.expect("rotate"), RefreshOutcome::SessionEnded);
    let idle = store
        .rotate_refresh_token(&digest("first"), &digest("x"), at(10), at(0), &super::audit())
        .await;
    assert_eq!(idle.expect("rotate"), RefreshOutcome::SessionEnded, "not used since the cutoff");
    store.revoke_session(id, at(5), None).await.expect("revoke");
    let revoked = store
        .rotate_refresh_token(&digest("first"), &digest("x"), at(10), at(-100), &super::audit())
        .await;
    assert_eq!(revoked.expect("rotate"), RefreshOutcome::SessionEnded);
}

async fn of_two_concurrent_rotations_at_most_one_wins(t: TestStore) {
    use codex_cloud_core::ports::RefreshOutcome;
    let (id, _) = with_refresh(&t, 900).await;
    let store = t.store();
    let event = super::audit();
    let (first, a, b) = (digest("first"), digest("a"), digest("b"));

    let (a, b) = tokio::join!(
        store.rotate_refresh_token(&first, &a, at(10), at(-100), &event),
        store.rotate_refresh_token(&first, &b, at(10), at(-100), &event)
    );

    let outcomes = [a.expect("a"), b.expect("b")];
    assert_eq!(
        outcomes.iter().filter(|o| **o == RefreshOutcome::Rotated(id)).count(),
        1,
        "{outcomes:?}"
    );
}
