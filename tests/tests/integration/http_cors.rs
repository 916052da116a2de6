//! CORS for the configured origins only (`CODEX_CORS_ALLOWED_ORIGINS`): preflights from them are
//! answered with what a page may do, their requests' answers carry `Access-Control-Allow-Origin`
//! (credentials only with `CODEX_CORS_ALLOW_CREDENTIALS`), and every other origin gets no CORS
//! header at all; with none configured, nothing changes.

use poem::http::Method;

use codex_cloud_tests::TestApp;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;

const APP: &str = "https://app.example.com";

async fn app_with(origins: &str, credentials: bool) -> TestApp {
    TestApp::builder()
        .configure(|s| {
            s.cors_allowed_origins = origins.split(',').map(str::to_owned).collect();
            s.cors_allow_credentials = credentials;
        })
        .build()
        .await
}

async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> Reply {
    let request = app
        .client
        .request(Method::OPTIONS, "/auth/me")
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers);
    Reply::read(request.send().await).await
}

async fn me_from(app: &TestApp, origin: &str, token: &str) -> Reply {
    let request = app
        .client
        .get("/auth/me")
        .header("origin", origin)
        .header("authorization", format!("Bearer {token}"));
    Reply::read(request.send().await).await
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).map(|v| v.to_str().expect("ASCII"))
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_answered_and_may_read_the_answers() {
    let app = app_with(&format!("{APP},https://other.example.com:8443"), false).await;
    let reply = preflight(&app, APP, "GET", "authorization").await;
    assert_eq!(reply.status, 204);
    assert_eq!(header(&reply, "access-control-allow-origin"), Some(APP));
    assert!(header(&reply, "access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    assert!(
        header(&reply, "access-control-allow-headers").is_some_and(|h| h.contains("authorization"))
    );
    assert_eq!(header(&reply, "access-control-allow-credentials"), None);

    let (_, token) = app.user_with_token("ada@example.com").await;
    let reply = me_from(&app, APP, &token).await;
    assert_eq!(reply.status, 200);
    assert_eq!(header(&reply, "access-control-allow-origin"), Some(APP));
    assert!(
        header(&reply, "access-control-expose-headers").is_some_and(|h| h.contains("x-request-id"))
    );
    assert!(reply.headers.get_all("vary").iter().any(|v| v == "Origin"));
    let problem = me_from(&app, "https://other.example.com:8443", "not-a-token").await;
    assert_eq!(problem.status, 401);
    assert_eq!(
        header(&problem, "access-control-allow-origin"),
        Some("https://other.example.com:8443")
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_header_and_a_header_outside_the_list_is_not_allowed() {
    let app = app_with(APP, false).await;
    let (_, token) = app.user_with_token("ada@example.com").await;
    for origin in
        ["https://evil.example.com", "http://app.example.com", "https://app.example.com.evil"]
    {
        let reply = preflight(&app, origin, "GET", "authorization").await;
        assert_ne!(reply.status, 204, "{origin}");
        assert_eq!(header(&reply, "access-control-allow-origin"), None, "{origin}");
        let reply = me_from(&app, origin, &token).await;
        assert_eq!(reply.status, 200, "the request itself is not refused");
        assert_eq!(header(&reply, "access-control-allow-origin"), None, "{origin}");
    }
    let reply = preflight(&app, APP, "POST", "authorization, x-custom").await;
    assert_eq!(header(&reply, "access-control-allow-headers"), None);
}

#[tokio::test]
async fn credentials_are_allowed_only_when_configured() {
    let app = app_with(APP, true).await;
    let reply = preflight(&app, APP, "POST", "content-type").await;
    assert_eq!(header(&reply, "access-control-allow-credentials"), Some("true"));
    let reply = app
        .post_json(
            "/auth/login",
            None,
            serde_json::json!({"email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(header(&reply, "access-control-allow-origin"), None, "no Origin, no CORS");
}

#[tokio::test]
async fn without_configured_origins_no_answer_carries_a_cors_header() {
    let app = TestApp::spawn().await;
    let reply = preflight(&app, APP, "GET", "authorization").await;
    assert_eq!(reply.status, 405);
    assert_eq!(header(&reply, "access-control-allow-origin"), None);
    assert_eq!(header(&reply, "vary"), None);
}
