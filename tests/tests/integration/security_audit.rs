//! The audit trail through `GET /admin/audit-events`: the story of an account, filters,
//! pagination, and never a secret.

use poem::http::Method;
use serde_json::{Value, json};
use time::Duration;

use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::{StoreBackend, TestApp};

async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let reply =
        app.send(Method::GET, &format!("/admin/audit-events{query}"), Some(token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().as_array().expect("a list").clone()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["kind"].as_str().unwrap_or("?"),
                e["outcome"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

async fn the_story_is_told(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    app.create_admin("root@example.com", PASSWORD).await;
    let root = app.token("root@example.com", PASSWORD).await;
    let created = app
        .post_json(
            "/admin/users",
            Some(&root),
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await
        .json();
    let ada = created["id"].as_str().expect("id").to_owned();
    app.advance(Duration::seconds(1));
    for _ in 0..5 {
        app.login("ada@example.com", "wrong password").await;
    }
    app.login("ada@example.com", PASSWORD).await;
    app.advance(Duration::seconds(30));
    let login = app.login_body("ada@example.com", PASSWORD).await;
    let refresh = login["refresh_token"].as_str().expect("refresh").to_owned();
    let body = json!({ "refresh_token": refresh });
    let next = app.post_json("/auth/refresh", None, body.clone()).await.json();
    app.post_json("/auth/refresh", None, body).await.assert_problem(401, "invalid_refresh_token");
    app.send(Method::POST, &format!("/admin/users/{ada}/disable"), Some(&root), None).await;
    app.send(Method::POST, &format!("/admin/users/{ada}/enable"), Some(&root), None).await;
    let fresh = app.token("ada@example.com", PASSWORD).await;
    app.logout(&fresh).await;

    let all = events(&app, &root, &format!("?user_id={ada}&limit=500")).await;

    let told: Vec<String> = kinds(&all).into_iter().rev().collect();
    let expected = [
        "user.created success",
        "login.password failure",
        "login.password failure",
        "login.password failure",
        "login.password failure",
        "login.password failure",
        "login.password success",
        "refresh success",
        "refresh.reuse_detected failure",
        "user.disabled success",
        "user.enabled success",
        "login.password success",
        "logout success",
    ];
    let told: Vec<&str> =
        told.iter().map(String::as_str).filter(|k| !k.starts_with("login.throttled")).collect();
    assert_eq!(told, expected, "{backend}");
    let created_event = all.last().expect("events");
    assert!(created_event["actor_id"].as_str().is_some(), "an administrator acted");
    let text = serde_json::to_string(&all).expect("json");
    for secret in [
        PASSWORD,
        refresh.as_str(),
        login["access_token"].as_str().unwrap_or("x"),
        next["refresh_token"].as_str().unwrap_or("x"),
        fresh.as_str(),
    ] {
        assert!(!text.contains(secret), "{backend}: a secret is in the audit trail");
    }
    let throttled = events(&app, &root, "?kind=login.throttled").await;
    assert_eq!(throttled.len(), 1, "{backend}: {throttled:?}");
    assert_eq!(throttled[0]["detail"]["code"], "too_many_attempts");
    assert_eq!(throttled[0]["detail"]["email"], "ada@example.com");
}

#[tokio::test]
async fn the_audit_trail_tells_an_accounts_story_without_secrets_in_memory() {
    the_story_is_told(StoreBackend::Memory).await;
}

#[tokio::test]
async fn the_audit_trail_tells_an_accounts_story_without_secrets_in_sqlite() {
    the_story_is_told(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn the_audit_trail_tells_an_accounts_story_without_secrets_in_postgres() {
    the_story_is_told(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn audit_events_page_newest_first_and_filter_by_time_and_are_for_administrators() {
    let app = TestApp::spawn().await;
    app.create_admin("root@example.com", PASSWORD).await;
    let root = app.token("root@example.com", PASSWORD).await;
    for _ in 0..3 {
        app.advance(Duration::seconds(1));
        app.login("root@example.com", "wrong").await;
    }
    let all = events(&app, &root, "").await;
    let first_two = events(&app, &root, "?limit=2").await;
    let next = events(&app, &root, "?offset=2&limit=2").await;
    assert_eq!(first_two, all[..2]);
    assert_eq!(next, all[2..4]);
    let newest = all[0]["occurred_at"].as_str().expect("time");
    let before = events(&app, &root, &format!("?before={}", newest.replace('+', "%2B"))).await;
    assert!(before.iter().all(|e| e["occurred_at"].as_str() < Some(newest)));
    assert!(before.len() < all.len());

    let bad = app.send(Method::GET, "/admin/audit-events?kind=nonsense", Some(&root), None).await;
    bad.assert_problem(400, "invalid_request");
    let (_, user) = app.user_with_token("ada@example.com").await;
    let forbidden = app.send(Method::GET, "/admin/audit-events", Some(&user), None).await;
    forbidden.assert_problem(403, "forbidden");
    Reply::read(app.client.get("/admin/audit-events").send().await)
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_password_typed_into_the_email_field_never_reaches_the_audit_trail() {
    let app = TestApp::spawn().await;
    app.create_admin("root@example.com", PASSWORD).await;
    let root = app.token("root@example.com", PASSWORD).await;

    app.login("my secret passphrase", "whatever").await;

    let all = events(&app, &root, "").await;
    let text = serde_json::to_string(&all).expect("json");
    assert!(!text.contains("my secret passphrase"), "{text}");
    let failure = all.iter().find(|e| e["kind"] == "login.password" && e["outcome"] == "failure");
    let failure = failure.expect("the failure is recorded");
    assert!(failure["detail"].get("email").is_none(), "{failure}");
}
