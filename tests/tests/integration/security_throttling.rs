//! Brute-force throttling of password logins and password changes: the first failures are free,
//! then each attempt waits a doubling delay, answered 429 `too_many_attempts` with `Retry-After`
//! before any hashing, identically for known and unknown accounts. (Per-address throttling and
//! `X-Forwarded-For` need a real socket: see `binary_security`.)

use serde_json::json;
use time::Duration;

use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::{StoreBackend, TestApp};

async fn attempt(app: &TestApp, email: &str, password: &str) -> Reply {
    Reply::read(app.login(email, password).await).await
}

fn retry_after(reply: &Reply) -> u64 {
    reply.header("retry-after").expect("Retry-After").parse().expect("whole seconds")
}

#[tokio::test]
async fn twenty_wrong_passwords_give_429_after_the_fifth_alike_for_known_and_unknown_accounts() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", PASSWORD).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..20 {
        known.push(attempt(&app, "ada@example.com", "wrong password").await);
        unknown.push(attempt(&app, "nobody@example.com", "wrong password").await);
    }
    for (i, (k, u)) in known.iter().zip(&unknown).enumerate() {
        let expected = if i < 5 { 401 } else { 429 };
        assert_eq!(k.status, expected, "attempt {}: {}", i + 1, k.text());
        assert_eq!((k.status, &k.body), (u.status, &u.body), "attempt {} differs", i + 1);
        assert_eq!(k.header("retry-after"), u.header("retry-after"));
    }
    let throttled = known[5].assert_problem(429, "too_many_attempts");
    assert!(throttled["detail"].is_string());
    assert_eq!(retry_after(&known[5]), 30);
}

#[tokio::test]
async fn the_right_password_inside_the_delay_is_refused_and_accepted_after_it() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        attempt(&app, "ada@example.com", "wrong password")
            .await
            .assert_problem(401, "invalid_credentials");
    }

    let inside = attempt(&app, "ada@example.com", PASSWORD).await;
    inside.assert_problem(429, "too_many_attempts");
    app.advance(Duration::seconds(29));
    assert_eq!(retry_after(&attempt(&app, "ada@example.com", PASSWORD).await), 1);
    app.advance(Duration::seconds(1));
    assert_eq!(attempt(&app, "ada@example.com", PASSWORD).await.status, 200);
    for _ in 0..5 {
        let reply = attempt(&app, "ada@example.com", "wrong password").await;
        reply.assert_problem(401, "invalid_credentials");
    }
    // A success reset the count: five failures were free again.
    attempt(&app, "ada@example.com", PASSWORD).await.assert_problem(429, "too_many_attempts");
}

#[tokio::test]
async fn the_delay_doubles_with_each_further_failure_up_to_the_maximum() {
    let app = TestApp::builder()
        .configure(|s| s.throttle.max_delay = Duration::seconds(100))
        .build()
        .await;
    app.create_user("ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        attempt(&app, "ada@example.com", "wrong").await;
    }
    for expected in [30, 60, 100, 100] {
        let reply = attempt(&app, "ada@example.com", PASSWORD).await;
        assert_eq!(retry_after(&reply), expected);
        app.advance(Duration::seconds(i64::try_from(expected).unwrap()));
        attempt(&app, "ada@example.com", "wrong").await.assert_problem(401, "invalid_credentials");
    }
}

async fn throttles_on(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    app.create_user("ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        attempt(&app, "ADA@example.com", "wrong").await.assert_problem(401, "invalid_credentials");
    }
    let reply = attempt(&app, "ada@example.com", PASSWORD).await;
    reply.assert_problem(429, "too_many_attempts");
    assert_eq!(retry_after(&reply), 30, "{backend}");
    app.advance(Duration::seconds(30));
    assert_eq!(attempt(&app, "ada@example.com", PASSWORD).await.status, 200, "{backend}");
}

#[tokio::test]
async fn throttling_counts_in_sqlite() {
    throttles_on(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn throttling_counts_in_postgres() {
    throttles_on(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn wrong_current_passwords_throttle_password_changes_too() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("ada@example.com").await;
    let change = |current: &str| json!({ "current_password": current, "new_password": "a brand new passphrase" });
    for _ in 0..5 {
        let reply = app.post_json("/auth/password", Some(&token), change("wrong")).await;
        reply.assert_problem(401, "invalid_credentials");
    }

    let reply = app.post_json("/auth/password", Some(&token), change(PASSWORD)).await;

    reply.assert_problem(429, "too_many_attempts");
    assert_eq!(retry_after(&reply), 30);
    attempt(&app, "ada@example.com", PASSWORD).await.assert_problem(429, "too_many_attempts");
}

async fn concurrent_guesses_get_no_more_than_the_free_failures(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    app.create_user("ada@example.com", PASSWORD).await;

    let guesses = (0..20).map(|n| {
        let app = &app;
        async move { attempt(app, "ada@example.com", &format!("guess {n}")).await }
    });
    let replies = futures_like_join_all(guesses).await;

    let checked = replies.iter().filter(|r| r.status == 401).count();
    let throttled = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(checked + throttled, 20, "{backend}");
    assert!((1..=5).contains(&checked), "{backend}: {checked} guesses were checked");
    attempt(&app, "ada@example.com", PASSWORD).await.assert_problem(429, "too_many_attempts");
}

/// Runs the futures at once on this task and collects their outputs in order.
async fn futures_like_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut handles: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in handles.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

#[tokio::test]
async fn concurrent_guesses_cannot_slip_past_the_count_in_memory() {
    concurrent_guesses_get_no_more_than_the_free_failures(StoreBackend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_cannot_slip_past_the_count_in_sqlite() {
    concurrent_guesses_get_no_more_than_the_free_failures(StoreBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn concurrent_guesses_cannot_slip_past_the_count_in_postgres() {
    concurrent_guesses_get_no_more_than_the_free_failures(StoreBackend::Postgres).await;
}

/// Text a database cannot store (a NUL character) in the offered e-mail address is a wrong
/// login like any other, never a 500.
async fn an_address_with_a_nul_is_an_ordinary_failure_on(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    app.create_user("ada@example.com", PASSWORD).await;

    for email in ["ada\u{0}@example.com", "\u{0}", "a\u{0}b"] {
        let body = serde_json::json!({ "email": email, "password": PASSWORD });
        let reply = app.post_json("/auth/login", None, body).await;
        reply.assert_problem(401, "invalid_credentials");
    }
}

#[tokio::test]
async fn an_address_with_a_nul_is_an_ordinary_failure_on_sqlite() {
    an_address_with_a_nul_is_an_ordinary_failure_on(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn an_address_with_a_nul_is_an_ordinary_failure_on_postgres() {
    an_address_with_a_nul_is_an_ordinary_failure_on(StoreBackend::Postgres).await;
}
