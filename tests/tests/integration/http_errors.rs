//! HTTP tests of malformed requests: every one is a problem document with a `code` and the right
//! 4xx status, never a 500.

use poem::Body;
use poem::http::Method;

use codex_cloud_tests::TestApp;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;

const LOGIN: &str = "/auth/login";

async fn post_login(app: &TestApp, content_type: Option<&str>, body: impl Into<Body>) -> Reply {
    let mut request = app.client.post(LOGIN).body(body);
    if let Some(content_type) = content_type {
        request = request.content_type(content_type);
    }
    Reply::read(request.send().await).await
}

#[tokio::test]
async fn malformed_json_is_400_invalid_request() {
    let app = TestApp::spawn().await;

    for body in ["{", "not json", "", "[]", "null", r#"{"email": "a@b.c", "password": }"#] {
        let reply = post_login(&app, Some("application/json"), body).await;
        reply.assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_missing_or_mistyped_field_is_400_invalid_request() {
    let app = TestApp::spawn().await;

    for body in [
        r#"{"email": "ada@example.com"}"#,
        r#"{"password": "correct horse battery staple"}"#,
        r#"{}"#,
        r#"{"email": ["ada@example.com"], "password": "correct horse battery staple"}"#,
        r#"{"email": "ada@example.com", "password": null}"#,
    ] {
        let reply = post_login(&app, Some("application/json"), body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        reply.assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_refused_body_names_the_field_as_the_document_does_in_plain_words() {
    let app = TestApp::spawn().await;
    let cases = [
        (r#"{"email": "ada@example.com"}"#, "`password` is required"),
        (r#"{"email": "ada@example.com", "password": null}"#, "`password` is required"),
        (r#"{"password": "correct horse battery staple"}"#, "`email` is required"),
        (r#"{"email": ["ada@example.com"], "password": "x"}"#, "`email` must be a string"),
        ("[]", "it must be a JSON object"),
        ("", "it must be a JSON object"),
    ];
    for (body, why) in cases {
        let reply = post_login(&app, Some("application/json"), body).await;
        let problem = reply.assert_problem(400, "invalid_request");
        assert_eq!(problem["detail"], format!("the body is not valid: {why}"), "{body}");
    }
    let reply = post_login(&app, Some("application/json"), "{").await;
    let detail = reply.assert_problem(400, "invalid_request")["detail"].to_string();
    assert!(detail.contains("it is not JSON"), "{detail}");
    for internal in ["found null", "Expected input type", "occurred while parsing", "LoginRequest"]
    {
        assert!(!detail.contains(internal), "{detail}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_unsupported_media_type() {
    let app = TestApp::spawn().await;
    let json = format!(r#"{{"email": "ada@example.com", "password": "{PASSWORD}"}}"#);

    for content_type in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
        let reply = post_login(&app, Some(content_type), json.clone()).await;
        reply.assert_problem(415, "unsupported_media_type");
    }
}

#[tokio::test]
async fn a_login_without_a_content_type_is_a_4xx_problem() {
    let app = TestApp::spawn().await;
    let json = format!(r#"{{"email": "ada@example.com", "password": "{PASSWORD}"}}"#);

    let reply = post_login(&app, None, json).await;

    let problem = reply.assert_problem(415, "unsupported_media_type");
    assert_eq!(problem["detail"], "the body must be `application/json`");
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_payload_too_large_with_or_without_content_length() {
    let app = TestApp::spawn().await;
    let padding = " ".repeat(64 * 1024);
    let body = format!(r#"{{"email": "ada@example.com", "password": "x"}}{padding}"#);

    let announced = Reply::read(
        app.client
            .post(LOGIN)
            .content_type("application/json")
            .header("content-length", body.len().to_string())
            .body(body.clone())
            .send()
            .await,
    )
    .await;
    announced.assert_problem(413, "payload_too_large");

    // Without Content-Length: the limit must hold while the body is read.
    let streamed = Body::from_async_read(std::io::Cursor::new(body.into_bytes()));
    let reply = post_login(&app, Some("application/json"), streamed).await;
    reply.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_still_read() {
    let app = TestApp::spawn().await;
    let json = r#"{"email": "ada@example.com", "password": "wrong password"}"#;
    let body = format!("{json}{}", " ".repeat(64 * 1024 - json.len()));
    assert_eq!(body.len(), 64 * 1024);

    let reply = post_login(&app, Some("application/json"), body).await;

    reply.assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn an_unknown_route_is_404_not_found() {
    let app = TestApp::spawn().await;

    for path in ["/nope", "/auth", "/auth/login/extra", "/.well-known/openid-configuration"] {
        let reply = Reply::read(app.client.get(path).send().await).await;
        reply.assert_problem(404, "not_found");
    }
}

#[tokio::test]
async fn a_known_route_with_the_wrong_method_is_405_method_not_allowed() {
    let app = TestApp::spawn().await;

    for (method, path) in [
        (Method::GET, LOGIN),
        (Method::DELETE, "/auth/me"),
        (Method::GET, "/auth/logout"),
        (Method::POST, "/healthz"),
    ] {
        let reply = Reply::read(app.client.request(method.clone(), path).send().await).await;
        reply.assert_problem(405, "method_not_allowed");
    }
}

#[tokio::test]
async fn a_405_says_which_methods_the_route_answers_in_allow() {
    let app = TestApp::spawn().await;

    for (method, path, allow) in [
        (Method::GET, LOGIN, "POST"),
        (Method::PUT, "/auth/me", "GET, HEAD"),
        (Method::DELETE, "/admin/users", "GET, HEAD, POST"),
        (
            Method::PATCH,
            "/admin/users/0b6f8a3e-2d7c-4a51-9a0e-3f1c2b4d5e6f/identities",
            "DELETE, GET, HEAD, POST",
        ),
        (Method::POST, "/openapi.json", "GET, HEAD"),
        (Method::DELETE, "/docs", "GET, HEAD"),
    ] {
        let reply = Reply::read(app.client.request(method.clone(), path).send().await).await;
        reply.assert_problem(405, "method_not_allowed");
        assert_eq!(
            reply.headers.get("allow").map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn an_unknown_field_is_400_naming_it_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_admin("root@example.com", PASSWORD).await;
    let token = app.token("root@example.com", PASSWORD).await;

    let body =
        serde_json::json!({ "email": "ada@example.com", "password": PASSWORD, "remember": true });
    let problem = app.post_json(LOGIN, None, body).await.assert_problem(400, "invalid_request");
    assert_eq!(problem["detail"], "the body is not valid: unknown field `remember`");

    let sneaky =
        serde_json::json!({ "email": "eve@example.com", "password": PASSWORD, "is_admn": true });
    let problem = app.post_json("/admin/users", Some(&token), sneaky).await;
    let problem = problem.assert_problem(400, "invalid_request");
    assert!(problem["detail"].as_str().unwrap().contains("`is_admn`"), "{problem}");
    let users = app.send(Method::GET, "/admin/users", Some(&token), None).await.json();
    assert!(!users.to_string().contains("eve@example.com"), "no user was created: {users}");
}

#[tokio::test]
async fn error_responses_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let replies = [
        ("404", Reply::read(app.client.get("/nope").send().await).await),
        ("405", Reply::read(app.client.get(LOGIN).send().await).await),
        ("400", post_login(&app, Some("application/json"), "{").await),
        ("413", post_login(&app, Some("application/json"), " ".repeat(70_000)).await),
        ("401 token", Reply::read(app.me("garbage").await).await),
        ("401 login", Reply::read(app.login("ada@example.com", "wrong password").await).await),
    ];

    let mut missing = Vec::new();
    for (what, reply) in &replies {
        reply.assert_is_problem();
        if reply.header("x-content-type-options") != Some("nosniff")
            || reply.header("cache-control") != Some("no-store")
        {
            missing.push(*what);
        }
    }
    assert!(missing.is_empty(), "no security headers on {missing:?}");
}

#[tokio::test]
async fn a_bad_parameter_is_named_as_the_document_names_it_in_plain_words() {
    let app = TestApp::spawn().await;
    app.create_admin("admin@example.com", PASSWORD).await;
    let token = app.token("admin@example.com", PASSWORD).await;
    let cases = [
        ("/admin/users/not-a-uuid", "`user_id` must be a UUID"),
        ("/admin/users/not-a-uuid/identities", "`user_id` must be a UUID"),
        ("/admin/users?offset=-1", "`offset` must be a whole number, 0 or more"),
        ("/admin/users?limit=501", "`limit` must be at most 500"),
        ("/admin/audit-events?limit=many", "`limit` must be a whole number, 0 or more"),
    ];
    for (path, detail) in cases {
        let reply = app.send(Method::GET, path, Some(&token), None).await;
        let problem = reply.assert_problem(400, "invalid_request");
        assert_eq!(problem["detail"], detail, "{path}");
    }
    let missing = app.send(Method::DELETE, "/auth/identities?issuer=x", Some(&token), None).await;
    let problem = missing.assert_problem(400, "invalid_request");
    assert_eq!(problem["detail"], "`subject` is required");
}

#[tokio::test]
async fn a_value_of_another_type_is_refused_not_converted_and_links_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("root@example.com", PASSWORD).await;
    let token = app.token("root@example.com", PASSWORD).await;
    let path = format!("/admin/users/{}/identities", admin.id);

    for (subject, why) in
        [(serde_json::json!(false), "a string"), (serde_json::json!(12), "a string")]
    {
        let body = serde_json::json!({ "issuer": "https://op.example.com", "subject": subject });
        let reply = app.post_json(&path, Some(&token), body).await;
        let problem = reply.assert_problem(400, "invalid_request");
        assert_eq!(problem["detail"], format!("the body is not valid: `subject` must be {why}"));
    }
    let identities = app.send(Method::GET, &path, Some(&token), None).await.json();
    assert_eq!(identities, serde_json::json!([]), "nothing was linked");
}

#[tokio::test]
async fn an_operation_that_takes_no_body_never_reads_one_so_never_refuses_it() {
    let app = TestApp::spawn().await;
    app.create_admin("root@example.com", PASSWORD).await;
    let token = app.token("root@example.com", PASSWORD).await;
    let big = vec![b'x'; 100 * 1024];

    let health = app.client.get("/healthz").body(big.clone()).send().await;
    assert_eq!(Reply::read(health).await.status, 200);
    let me = app.client.get("/auth/me").header("authorization", format!("Bearer {token}"));
    let me = Reply::read(me.body(big.clone()).send().await).await;
    assert_eq!(me.status, 200, "{}", me.text());
    let login = post_login(&app, Some("application/json"), big).await;
    login.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn null_for_an_optional_field_is_refused_as_the_document_declares_no_field_nullable() {
    let app = TestApp::spawn().await;
    app.create_admin("root@example.com", PASSWORD).await;
    let token = app.token("root@example.com", PASSWORD).await;

    let cases = [
        (
            serde_json::json!({"email": "ada@example.com", "password": null}),
            "`password` must be a string, or left out",
        ),
        (
            serde_json::json!({"email": "ada@example.com", "is_admin": null}),
            "`is_admin` must be a boolean, or left out",
        ),
    ];
    for (body, why) in cases {
        let reply = app.post_json("/admin/users", Some(&token), body).await;
        let problem = reply.assert_problem(400, "invalid_request");
        assert_eq!(problem["detail"], format!("the body is not valid: {why}"));
    }
    let users = app.send(Method::GET, "/admin/users", Some(&token), None).await.json();
    assert!(!users.to_string().contains("ada@example.com"), "nobody was created: {users}");
}
