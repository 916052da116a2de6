//! HTTP tests of local login, the current user and logout: response shapes, uniform refusals,
//! revocation and expiry, on the in-memory store and (the core flow) on SQLite and PostgreSQL.

use time::Duration;

use codex_cloud_tests::app::{DEFAULT_ACCESS_TOKEN_TTL, PASSWORD};
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::keys::{TOKEN_AUDIENCE, TOKEN_ISSUER};
use codex_cloud_tests::tokens::{AccessClaims, header_of};
use codex_cloud_tests::{StoreBackend, TestApp};

fn keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> =
        value.as_object().expect("a JSON object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn login_answers_200_with_a_bearer_token_that_expires_after_the_configured_ttl() {
    let app = TestApp::spawn().await;
    let user = app.create_user("ada@example.com", PASSWORD).await;

    let reply = Reply::read(app.login("ada@example.com", PASSWORD).await).await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.content_type().starts_with("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(keys(&body), ["access_token", "expires_in", "refresh_token", "token_type"]);
    assert_eq!(body["refresh_token"].as_str().expect("a string").len(), 64, "256 bits in hex");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], DEFAULT_ACCESS_TOKEN_TTL.whole_seconds());
    let token = body["access_token"].as_str().expect("a string");
    let header = header_of(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], app.jwks.keys[0].kid.as_str());
    let claims = AccessClaims::of(token);
    assert_eq!(claims.sub, user.id.as_uuid());
    assert_eq!((claims.iss.as_str(), claims.aud.as_str()), (TOKEN_ISSUER, TOKEN_AUDIENCE));
    assert_eq!(claims.iat, app.now().unix_timestamp());
    assert_eq!(claims.exp - claims.iat, DEFAULT_ACCESS_TOKEN_TTL.whole_seconds());
}

#[tokio::test]
async fn me_answers_the_current_user_whatever_the_case_of_the_login_email() {
    let app = TestApp::spawn().await;
    let admin = app.create_admin("Root@Example.com", PASSWORD).await;
    let user = app.create_user("ada@example.com", PASSWORD).await;

    for (login, expected, is_admin) in
        [("ROOT@example.COM", &admin, true), ("  Ada@Example.com ", &user, false)]
    {
        let token = app.token(login, PASSWORD).await;
        let reply = Reply::read(app.me(&token).await).await;

        assert_eq!(reply.status, 200, "{}", reply.text());
        let body = reply.json();
        assert_eq!(keys(&body), ["email", "id", "is_admin"]);
        assert_eq!(body["id"], expected.id.to_string());
        assert_eq!(body["email"], expected.email.as_str());
        assert_eq!(body["is_admin"], is_admin);
    }
}

#[tokio::test]
async fn logout_answers_204_and_the_same_token_is_refused_afterwards() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("ada@example.com").await;

    let logout = Reply::read(app.logout(&token).await).await;

    assert_eq!(logout.status, 204, "{}", logout.text());
    assert!(logout.body.is_empty());
    let me = Reply::read(app.me(&token).await).await;
    me.assert_problem(401, "invalid_token");
    assert_eq!(me.header("www-authenticate"), Some("Bearer"));
    let again = Reply::read(app.logout(&token).await).await;
    again.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn logout_ends_only_the_session_of_its_token() {
    let app = TestApp::spawn().await;
    let (_, first) = app.user_with_token("ada@example.com").await;
    let second = app.token("ada@example.com", PASSWORD).await;

    Reply::read(app.logout(&first).await).await;

    assert_eq!(app.me(&first).await.0.status(), 401);
    assert_eq!(app.me(&second).await.0.status(), 200);
}

#[tokio::test]
async fn login_with_wrong_password_is_401_like_an_unknown_user() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", PASSWORD).await;
    let disabled = app.create_user("dis@example.com", PASSWORD).await;
    app.disable(&disabled).await;
    app.create_identity_only_user("sso@example.com").await;

    let attempts = [
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", "wrong password"),
        ("ada@example.com", ""),
        ("dis@example.com", PASSWORD),
        ("sso@example.com", PASSWORD),
        ("sso@example.com", ""),
        ("not an e-mail address", PASSWORD),
        ("ada@example.com", &"x".repeat(2000)),
    ];
    let mut replies = Vec::new();
    for (email, password) in attempts {
        let reply = Reply::read(app.login(email, password).await).await;
        reply.assert_problem(401, "invalid_credentials");
        replies.push((email, reply));
    }

    // Every header alike but the request's own id.
    let headers = |reply: &Reply| {
        let mut headers = reply.headers.clone();
        assert!(headers.remove("x-request-id").is_some(), "every answer has an id");
        headers
    };
    let (_, first) = &replies[0];
    for (email, reply) in &replies[1..] {
        assert_eq!(reply.body, first.body, "body for {email}");
        assert_eq!(headers(reply), headers(first), "headers for {email}");
    }
}

#[tokio::test]
async fn a_disabled_users_token_is_refused_at_once_and_stays_dead_when_enabled_again() {
    let app = TestApp::spawn().await;
    let (user, token) = app.user_with_token("ada@example.com").await;

    app.disable(&user).await;

    Reply::read(app.me(&token).await).await.assert_problem(401, "invalid_token");
    Reply::read(app.logout(&token).await).await.assert_problem(401, "invalid_token");
    app.enable(&user).await;
    Reply::read(app.me(&token).await).await.assert_problem(401, "invalid_token");
    let fresh = app.token("ada@example.com", PASSWORD).await;
    assert_eq!(app.me(&fresh).await.0.status(), 200);
}

#[tokio::test]
async fn a_token_is_refused_once_the_access_token_ttl_has_passed() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("ada@example.com").await;

    app.advance(DEFAULT_ACCESS_TOKEN_TTL - Duration::seconds(1));
    assert_eq!(app.me(&token).await.0.status(), 200);

    app.advance(Duration::seconds(1));
    Reply::read(app.me(&token).await).await.assert_problem(401, "invalid_token");
    Reply::read(app.logout(&token).await).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn a_shorter_configured_ttl_shortens_expires_in_and_the_token() {
    let ttl = Duration::seconds(60);
    let app = TestApp::builder().access_token_ttl(ttl).build().await;
    app.create_user("ada@example.com", PASSWORD).await;

    let body = Reply::read(app.login("ada@example.com", PASSWORD).await).await.json();
    let token = body["access_token"].as_str().expect("token");

    assert_eq!(body["expires_in"], 60);
    app.advance(ttl);
    assert_eq!(app.me(token).await.0.status(), 401);
}

async fn core_flow(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    let user = app.create_user("ada@example.com", PASSWORD).await;

    let token = app.token("ADA@example.com", PASSWORD).await;
    let me = Reply::read(app.me(&token).await).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["id"], user.id.to_string());
    assert_eq!(app.logout(&token).await.0.status(), 204);
    Reply::read(app.me(&token).await).await.assert_problem(401, "invalid_token");
    Reply::read(app.login("ada@example.com", "wrong password").await)
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn login_me_logout_works_on_the_in_memory_store() {
    core_flow(StoreBackend::Memory).await;
}

#[tokio::test]
async fn login_me_logout_works_on_sqlite() {
    core_flow(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn login_me_logout_works_on_postgres() {
    core_flow(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_at_owasp_parameters_and_verify() {
    let app = TestApp::builder().backend(StoreBackend::Sqlite).argon2().build().await;
    let user = app.create_user("ada@example.com", "correct horse battery staple").await;

    let hash = user.password_hash.expect("a password hash");

    assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash:?}");
    app.token("ada@example.com", "correct horse battery staple").await;
    let wrong = Reply::read(app.login("ada@example.com", "wrong password").await).await;
    wrong.assert_problem(401, "invalid_credentials");
}
