//! Sessions that live and die correctly: refresh tokens rotate and their reuse kills the
//! session, idle and absolute limits, the caller's session list, the browser's opaque cookie.

use poem::http::Method;
use serde_json::{Value, json};
use time::Duration;

use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::{StoreBackend, TestApp};

fn field(body: &Value, name: &str) -> String {
    body[name].as_str().unwrap_or_else(|| panic!("{name} in {body}")).to_owned()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.post_json("/auth/refresh", None, json!({ "refresh_token": refresh_token })).await
}

async fn refresh_rotates_and_reuse_kills(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    app.create_user("ada@example.com", PASSWORD).await;
    let login = app.login_body("ada@example.com", PASSWORD).await;
    let first = field(&login, "refresh_token");

    let rotated = refresh(&app, &first).await;
    assert_eq!(rotated.status, 200, "{backend}: {}", rotated.text());
    let body = rotated.json();
    let second = field(&body, "refresh_token");
    assert_ne!(second, first);
    assert_eq!(body["expires_in"], 900);
    let access = field(&body, "access_token");
    assert_eq!(app.me(&access).await.0.status(), 200);

    let reused = refresh(&app, &first).await;
    let unknown = refresh(&app, "never issued").await;
    reused.assert_problem(401, "invalid_refresh_token");
    assert_eq!((reused.status, reused.body), (unknown.status, unknown.body), "{backend}");
    Reply::read(app.me(&access).await).await.assert_problem(401, "invalid_token");
    let login_token = field(&login, "access_token");
    Reply::read(app.me(&login_token).await).await.assert_problem(401, "invalid_token");
    refresh(&app, &second).await.assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn a_refresh_token_used_twice_kills_the_session_in_memory() {
    refresh_rotates_and_reuse_kills(StoreBackend::Memory).await;
}

#[tokio::test]
async fn a_refresh_token_used_twice_kills_the_session_in_sqlite() {
    refresh_rotates_and_reuse_kills(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn a_refresh_token_used_twice_kills_the_session_in_postgres() {
    refresh_rotates_and_reuse_kills(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn a_session_ends_after_the_idle_timeout_and_at_its_maximum_age() {
    let app = TestApp::builder()
        .configure(|s| {
            s.sessions.idle_timeout = Duration::hours(1);
            s.sessions.max_age = Duration::hours(3);
        })
        .build()
        .await;
    app.create_user("ada@example.com", PASSWORD).await;
    let mut token = field(&app.login_body("ada@example.com", PASSWORD).await, "refresh_token");
    for _ in 0..2 {
        app.advance(Duration::minutes(59));
        let body = refresh(&app, &token).await.json();
        token = field(&body, "refresh_token");
    }
    app.advance(Duration::minutes(59));
    let body = refresh(&app, &token).await.json();
    token = field(&body, "refresh_token");
    let access = field(&body, "access_token");
    assert_eq!(body["expires_in"], 3 * 60, "an access token never outlives its session");
    app.advance(Duration::minutes(3));
    refresh(&app, &token).await.assert_problem(401, "invalid_refresh_token");
    Reply::read(app.me(&access).await).await.assert_problem(401, "invalid_token");

    let idle = field(&app.login_body("ada@example.com", PASSWORD).await, "refresh_token");
    app.advance(Duration::hours(1));
    refresh(&app, &idle).await.assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn the_caller_lists_their_live_sessions_and_ends_one_but_never_someone_elses() {
    let app = TestApp::spawn().await;
    let (_, current) = app.user_with_token("ada@example.com").await;
    app.advance(Duration::seconds(1));
    let other = app.token("ada@example.com", PASSWORD).await;
    let (_, bobs) = app.user_with_token("bob@example.com").await;

    let listed = app.send(Method::GET, "/auth/sessions", Some(&current), None).await;

    assert_eq!(listed.status, 200, "{}", listed.text());
    let sessions = listed.json();
    let sessions = sessions.as_array().expect("a list");
    assert_eq!(sessions.len(), 2);
    let keys: Vec<&str> =
        sessions[0].as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["created_at", "current", "expires_at", "id", "last_used_at", "method"]);
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(sessions[0]["method"], "password");
    assert_eq!(sessions[1]["current"], false);
    let other_id = field(&sessions[1], "id");
    let bobs_list = app.send(Method::GET, "/auth/sessions", Some(&bobs), None).await.json();
    let bobs_id = field(&bobs_list[0], "id");

    let foreign =
        app.send(Method::DELETE, &format!("/auth/sessions/{bobs_id}"), Some(&current), None).await;
    foreign.assert_problem(404, "session_not_found");
    let unknown = format!("/auth/sessions/{}", uuid::Uuid::new_v4());
    app.send(Method::DELETE, &unknown, Some(&current), None)
        .await
        .assert_problem(404, "session_not_found");
    assert_eq!(app.me(&bobs).await.0.status(), 200);
    let ended =
        app.send(Method::DELETE, &format!("/auth/sessions/{other_id}"), Some(&current), None).await;
    assert_eq!(ended.status, 204, "{}", ended.text());
    Reply::read(app.me(&other).await).await.assert_problem(401, "invalid_token");
    assert_eq!(app.me(&current).await.0.status(), 200);
}

#[tokio::test]
async fn the_browser_cookie_buys_access_tokens_slides_the_idle_timeout_and_logout_clears_it() {
    let app = TestApp::builder()
        .configure(|s| s.sessions.idle_timeout = Duration::hours(1))
        .build()
        .await;
    let (_, cookie, _) = app.user_with_cookie("ada@example.com").await;
    let with_cookie = |method: Method, path: &str| {
        app.client
            .request(method, path)
            .header("cookie", format!("codex_session={cookie}"))
            .header("sec-fetch-site", "same-origin")
    };
    for _ in 0..3 {
        app.advance(Duration::minutes(50));
        let reply = Reply::read(with_cookie(Method::POST, "/auth/token").send().await).await;
        assert_eq!(reply.status, 200, "each use slides the idle timeout: {}", reply.text());
        let body = reply.json();
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert_eq!(app.me(&field(&body, "access_token")).await.0.status(), 200);
    }
    let no_cookie = Reply::read(app.client.post("/auth/token").send().await).await;
    no_cookie.assert_problem(401, "invalid_token");

    let logout = Reply::read(with_cookie(Method::POST, "/auth/logout").send().await).await;

    assert_eq!(logout.status, 204, "{}", logout.text());
    let cleared = logout.header("set-cookie").expect("the cookie is cleared");
    assert!(cleared.starts_with("codex_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let after = Reply::read(with_cookie(Method::POST, "/auth/token").send().await).await;
    after.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_spent_refresh_token_is_known_as_long_as_its_session_lives_housekeeping_or_not() {
    let app = TestApp::builder()
        .configure(|s| s.sessions.idle_timeout = Duration::hours(1))
        .build()
        .await;
    app.create_user("ada@example.com", PASSWORD).await;
    let first = field(&app.login_body("ada@example.com", PASSWORD).await, "refresh_token");
    let mut token = first.clone();
    let mut access = String::new();
    for _ in 0..4 {
        app.advance(Duration::minutes(50));
        let body = refresh(&app, &token).await.json();
        token = field(&body, "refresh_token");
        access = field(&body, "access_token");
    }
    app.backend.housekeep().await.expect("housekeeping");

    refresh(&app, &first).await.assert_problem(401, "invalid_refresh_token");

    Reply::read(app.me(&access).await).await.assert_problem(401, "invalid_token");
    refresh(&app, &token).await.assert_problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn housekeeping_removes_ended_sessions_and_nothing_live() {
    let app = TestApp::builder()
        .backend(StoreBackend::Sqlite)
        .configure(|s| s.sessions.idle_timeout = Duration::hours(1))
        .build()
        .await;
    let (_, idle) = app.user_with_token("ada@example.com").await;
    let (_, revoked) = app.user_with_token("bob@example.com").await;
    app.logout(&revoked).await;
    app.advance(Duration::minutes(61));
    let (_, live) = app.user_with_token("eve@example.com").await;

    let purged = app.backend.housekeep().await.expect("housekeeping");

    assert!(purged >= 2, "{purged}");
    assert_eq!(app.me(&live).await.0.status(), 200);
    Reply::read(app.me(&idle).await).await.assert_problem(401, "invalid_token");
    assert_eq!(app.backend.housekeep().await.expect("again"), 0, "nothing live was purged");
}

#[tokio::test]
async fn a_refresh_with_the_cookie_from_another_site_is_not_blocked_it_does_not_use_the_cookie() {
    let app = TestApp::spawn().await;
    let (user, _) = app.user_with_token("ada@example.com").await;
    let (cookie, _) = app.cookie_session(&user).await;
    let token = field(&app.login_body("ada@example.com", PASSWORD).await, "refresh_token");

    let reply = app
        .client
        .post("/auth/refresh")
        .header("cookie", format!("codex_session={cookie}"))
        .header("origin", "https://evil.example")
        .body_json(&json!({ "refresh_token": token }))
        .send()
        .await;

    assert_eq!(reply.0.status(), 200);
}
