//! The session cookie and cross-site requests: a state-changing request that authenticates with
//! the session cookie passes only with `Sec-Fetch-Site: same-origin` or an `Origin` equal to the
//! public origin (the redirect URI's: `http://localhost:8000` by default); bearer tokens and
//! reads are not affected.

use poem::http::Method;

use codex_cloud_tests::TestApp;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;

const EVIL: &str = "https://evil.example";

/// A request carrying the session only as the `codex_session` cookie, plus these headers.
async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request =
        app.client.request(method, path).header("cookie", format!("codex_session={cookie}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(request.send().await).await
}

#[tokio::test]
async fn a_cookie_logout_from_a_foreign_origin_is_403_and_the_session_lives_on() {
    let app = TestApp::spawn().await;
    let (_, cookie, token) = app.user_with_cookie("ada@example.com").await;

    for headers in [
        vec![("origin", EVIL)],
        vec![("origin", EVIL), ("host", "localhost")],
        vec![("origin", "http://localhost:8080"), ("host", "localhost")],
        vec![("origin", "https://localhost.evil.example"), ("host", "localhost")],
        vec![("origin", "null"), ("host", "localhost")],
    ] {
        let reply = with_cookie(&app, Method::POST, "/auth/logout", &cookie, &headers).await;
        let problem = reply.assert_problem(403, "cross_site_request");
        assert!(problem["detail"].is_string(), "{problem}");
    }

    assert_eq!(app.me(&token).await.0.status(), 200, "the session must not have ended");
    let cookie_me = with_cookie(&app, Method::GET, "/auth/me", &cookie, &[]).await;
    assert_eq!(cookie_me.status, 200, "{}", cookie_me.text());
}

#[tokio::test]
async fn a_cookie_logout_from_the_servers_own_origin_is_204() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", PASSWORD).await;

    for headers in [
        vec![("origin", "http://localhost:8000")],
        vec![("origin", "HTTP://LOCALHOST:8000")],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "same-origin"), ("origin", "http://localhost:8000")],
    ] {
        let (cookie, token) = app.cookie_session(&user).await;

        let reply = with_cookie(&app, Method::POST, "/auth/logout", &cookie, &headers).await;

        assert_eq!(reply.status, 204, "{headers:?}: {}", reply.text());
        Reply::read(app.me(&token).await).await.assert_problem(401, "invalid_token");
    }
}

#[tokio::test]
async fn a_cookie_logout_with_neither_origin_nor_sec_fetch_site_is_403() {
    let app = TestApp::spawn().await;
    let (_, cookie, token) = app.user_with_cookie("ada@example.com").await;

    for headers in [
        vec![],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "http://localhost")],
        vec![("origin", "https://localhost:8000")],
    ] {
        let reply = with_cookie(&app, Method::POST, "/auth/logout", &cookie, &headers).await;
        reply.assert_problem(403, "cross_site_request");
    }
    assert_eq!(app.me(&token).await.0.status(), 200, "the session must not have ended");
}

#[tokio::test]
async fn a_bearer_token_from_a_foreign_origin_is_not_blocked_even_beside_the_cookie() {
    let app = TestApp::spawn().await;
    let (user, first) = app.user_with_token("ada@example.com").await;
    let (cookie, second) = app.cookie_session(&user).await;

    let bearer_only = app
        .client
        .post("/auth/logout")
        .header("authorization", format!("Bearer {first}"))
        .header("origin", EVIL)
        .send()
        .await;
    let bearer = format!("Bearer {second}");
    let with_both = with_cookie(
        &app,
        Method::POST,
        "/auth/logout",
        &cookie,
        &[("authorization", &bearer), ("origin", EVIL)],
    )
    .await;

    assert_eq!(bearer_only.0.status(), 204);
    assert_eq!(with_both.status, 204, "{}", with_both.text());
}

#[tokio::test]
async fn a_cookie_read_from_a_foreign_origin_is_allowed() {
    let app = TestApp::spawn().await;
    let (user, cookie, _) = app.user_with_cookie("ada@example.com").await;

    let reply = with_cookie(&app, Method::GET, "/auth/me", &cookie, &[("origin", EVIL)]).await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["id"], user.id.to_string());
}

#[tokio::test]
async fn a_cookie_admin_action_from_a_foreign_origin_is_403_and_does_nothing() {
    let app = TestApp::spawn().await;
    let root = app.create_admin("root@example.com", PASSWORD).await;
    let (admin, _) = app.cookie_session(&root).await;
    let (user, user_token) = app.user_with_token("ada@example.com").await;
    let disable = format!("/admin/users/{}/disable", user.id);

    let reply = with_cookie(&app, Method::POST, &disable, &admin, &[("origin", EVIL)]).await;

    reply.assert_problem(403, "cross_site_request");
    assert_eq!(app.me(&user_token).await.0.status(), 200, "the user must not be disabled");
    let same_origin = [("origin", "http://localhost:8000")];
    let allowed = with_cookie(&app, Method::POST, &disable, &admin, &same_origin).await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
}

#[tokio::test]
async fn a_non_bearer_authorization_header_does_not_let_a_foreign_cookie_logout_through() {
    // Browsers attach cached HTTP Basic credentials to cross-site form posts by themselves:
    // only a bearer token, which a foreign page cannot add, may exempt a request.
    let app = TestApp::spawn().await;
    let (_, cookie, token) = app.user_with_cookie("ada@example.com").await;
    let headers = [("authorization", "Basic dXNlcjpwYXNzd29yZA=="), ("origin", EVIL)];

    let reply = with_cookie(&app, Method::POST, "/auth/logout", &cookie, &headers).await;

    assert_ne!(reply.status, 204, "the cookie's session was ended from a foreign origin");
    assert_eq!(app.me(&token).await.0.status(), 200, "the session must not have ended");
}
