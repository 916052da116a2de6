//! Password policy, password changes and resets, and the account changes that end sessions:
//! disabling (for good), unlinking an identity, an administrator ending them; admin safety.

use poem::http::Method;
use serde_json::json;

use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::OidcHarness;
use codex_cloud_tests::{StoreBackend, TestApp};

async fn admin(app: &TestApp) -> String {
    app.create_admin("root@example.com", PASSWORD).await;
    app.token("root@example.com", PASSWORD).await
}

#[tokio::test]
async fn new_passwords_must_meet_the_policy_and_the_detail_names_the_rule() {
    let app = TestApp::spawn().await;
    let root = admin(&app).await;
    for (password, words) in [
        ("elevenchars", "at least 12 characters"),
        ("password1234", "most common passwords"),
        ("Qwerty123456", "most common passwords"),
        ("my name is grace.hopper", "e-mail address"),
    ] {
        let body = json!({ "email": "grace.hopper@example.com", "password": password });
        let reply = app.post_json("/admin/users", Some(&root), body).await;
        let problem = reply.assert_problem(400, "invalid_password");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(words), "{password}: {detail}");
    }
    let long = "é".repeat(128);
    let body = json!({ "email": "grace.hopper@example.com", "password": long });
    assert_eq!(app.post_json("/admin/users", Some(&root), body).await.status, 201);
    app.token("grace.hopper@example.com", &long).await;
}

#[tokio::test]
async fn the_minimum_length_follows_the_setting() {
    let app = TestApp::builder().configure(|s| s.password_min_length = 20).build().await;
    let root = admin(&app).await;
    let body = json!({ "email": "ada@example.com", "password": "nineteen characters" });
    let reply = app.post_json("/admin/users", Some(&root), body).await;
    let problem = reply.assert_problem(400, "invalid_password");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("at least 20"));
}

#[tokio::test]
async fn changing_ones_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = TestApp::spawn().await;
    let (_, token) = app.user_with_token("ada@example.com").await;
    let other = app.token("ada@example.com", PASSWORD).await;
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });

    let wrong =
        app.post_json("/auth/password", Some(&token), change("wrong", "a new passphrase")).await;
    wrong.assert_problem(401, "invalid_credentials");
    let weak =
        app.post_json("/auth/password", Some(&token), change(PASSWORD, "password1234")).await;
    weak.assert_problem(400, "invalid_password");
    let changed =
        app.post_json("/auth/password", Some(&token), change(PASSWORD, "a new passphrase")).await;

    assert_eq!(changed.status, 204, "{}", changed.text());
    assert_eq!(app.me(&token).await.0.status(), 200);
    Reply::read(app.me(&other).await).await.assert_problem(401, "invalid_token");
    Reply::read(app.login("ada@example.com", PASSWORD).await)
        .await
        .assert_problem(401, "invalid_credentials");
    app.token("ada@example.com", "a new passphrase").await;
    let anonymous = app.post_json("/auth/password", None, change(PASSWORD, "x")).await;
    anonymous.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn an_administrators_reset_and_session_purge_end_every_session_of_the_user() {
    let app = TestApp::spawn().await;
    let root = admin(&app).await;
    let (user, token) = app.user_with_token("ada@example.com").await;

    let reset_path = format!("/admin/users/{}/password", user.id);
    let weak = app.post_json(&reset_path, Some(&root), json!({ "password": "short" })).await;
    weak.assert_problem(400, "invalid_password");
    let reset =
        app.post_json(&reset_path, Some(&root), json!({ "password": "reset by an admin" })).await;
    assert_eq!(reset.status, 204, "{}", reset.text());
    Reply::read(app.me(&token).await).await.assert_problem(401, "invalid_token");
    let fresh = app.token("ada@example.com", "reset by an admin").await;

    let purge = format!("/admin/users/{}/sessions", user.id);
    let ended = app.send(Method::DELETE, &purge, Some(&root), None).await;
    assert_eq!(ended.status, 204, "{}", ended.text());
    Reply::read(app.me(&fresh).await).await.assert_problem(401, "invalid_token");
    let unknown = format!("/admin/users/{}/sessions", uuid::Uuid::new_v4());
    app.send(Method::DELETE, &unknown, Some(&root), None)
        .await
        .assert_problem(404, "user_not_found");
    let revoked = app.send(Method::DELETE, &purge, Some(&fresh), None).await;
    revoked.assert_problem(401, "invalid_token");
    let (_, other) = app.user_with_token("bob@example.com").await;
    let forbidden = app.send(Method::DELETE, &purge, Some(&other), None).await;
    forbidden.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn an_administrator_cannot_disable_themselves() {
    let app = TestApp::spawn().await;
    let root = app.create_admin("root@example.com", PASSWORD).await;
    let token = app.token("root@example.com", PASSWORD).await;

    let own = app
        .send(Method::POST, &format!("/admin/users/{}/disable", root.id), Some(&token), None)
        .await;

    own.assert_problem(409, "cannot_disable_self");
    assert_eq!(app.me(&token).await.0.status(), 200);
}

async fn two_admins_disabling_each_other_leave_one_enabled(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    let first = app.create_admin("first@example.com", PASSWORD).await;
    let second = app.create_admin("second@example.com", PASSWORD).await;
    let (a, b) = (
        app.token("first@example.com", PASSWORD).await,
        app.token("second@example.com", PASSWORD).await,
    );

    let (second_path, first_path) = (
        format!("/admin/users/{}/disable", second.id),
        format!("/admin/users/{}/disable", first.id),
    );
    let (x, y) = tokio::join!(
        app.send(Method::POST, &second_path, Some(&a), None),
        app.send(Method::POST, &first_path, Some(&b), None),
    );

    let statuses = [x.status.as_u16(), y.status.as_u16()];
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{backend}: {statuses:?}");
    for reply in [&x, &y] {
        if reply.status != 200 {
            assert!(matches!(reply.status.as_u16(), 401 | 409), "{backend}: {}", reply.text());
        }
        if reply.status == 409 {
            reply.assert_problem(409, "last_admin");
        }
    }
    let enabled = app.store.store().list_users(0, 10).await.expect("list");
    assert_eq!(enabled.iter().filter(|u| u.is_admin && !u.disabled).count(), 1, "{backend}");
}

#[tokio::test]
async fn two_administrators_disabling_each_other_at_once_leave_one_enabled_in_memory() {
    two_admins_disabling_each_other_leave_one_enabled(StoreBackend::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn two_administrators_disabling_each_other_at_once_leave_one_enabled_in_postgres() {
    two_admins_disabling_each_other_leave_one_enabled(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn the_operator_cannot_disable_the_last_enabled_administrator_either() {
    let app = TestApp::spawn().await;
    let root = app.create_admin("root@example.com", PASSWORD).await;
    let operator = codex_cloud_core::service::Admin::operator();

    let refused = app.services.accounts.disable_user(&operator, root.id).await;

    assert!(
        matches!(refused, Err(codex_cloud_core::service::DisableUserError::LastAdmin)),
        "{refused:?}"
    );
    let stored = app.store.store().user_by_id(root.id).await.expect("read").expect("exists");
    assert!(!stored.disabled);
}

#[tokio::test]
async fn a_weak_hash_is_replaced_at_the_next_successful_login() {
    use argon2::PasswordHasher as _;
    let app = TestApp::builder().backend(StoreBackend::Sqlite).argon2().build().await;
    let user = app.create_user("ada@example.com", PASSWORD).await;
    let params = argon2::Params::new(4096, 1, 1, None).expect("params");
    let weak = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(PASSWORD.as_bytes())
        .expect("hash")
        .to_string();
    let weak = codex_cloud_core::domain::PasswordHash::new(weak);
    app.store
        .store()
        .set_password_hash(user.id, &weak, app.now(), None, None)
        .await
        .expect("store");

    app.token("ada@example.com", PASSWORD).await;

    let stored = app.store.store().user_by_id(user.id).await.expect("read").expect("exists");
    let stored = stored.password_hash.expect("a hash");
    assert!(stored.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored:?}");
    app.token("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn unlinking_an_identity_ends_the_sessions_started_through_it() {
    let h = OidcHarness::start().await;
    let user = h.linked_user("sso@example.com", "subject-1").await;
    let other = h.app.create_user("password@example.com", PASSWORD).await;
    let password_token = h.app.token("password@example.com", PASSWORD).await;
    let login = h.login().await;
    assert_eq!(login.status, 200, "{}", login.text());
    let token = login.json()["access_token"].as_str().expect("token").to_owned();
    assert_eq!(h.app.me(&token).await.0.status(), 200);
    h.app.create_admin("root@example.com", PASSWORD).await;
    let root = h.app.token("root@example.com", PASSWORD).await;

    let path = format!("/admin/users/{}/identities", user.id);
    let unlink = h
        .app
        .client
        .delete(&path)
        .header("authorization", format!("Bearer {root}"))
        .query("issuer", &h.op.issuer)
        .query("subject", &"subject-1")
        .send()
        .await;

    assert_eq!(unlink.0.status(), 204);
    Reply::read(h.app.me(&token).await).await.assert_problem(401, "invalid_token");
    assert_eq!(h.app.me(&password_token).await.0.status(), 200, "{}", other.id);
}

#[tokio::test]
async fn seeding_a_link_onto_another_user_ends_the_sessions_started_through_it() {
    let h = OidcHarness::start().await;
    h.linked_user("first@example.com", "subject-1").await;
    let second = h.app.create_identity_only_user("second@example.com").await;
    let login = h.login().await;
    let token = login.json()["access_token"].as_str().expect("token").to_owned();
    assert_eq!(h.app.me(&token).await.0.status(), 200);
    let request = codex_cloud_core::service::LinkIdentity {
        issuer: &h.op.issuer,
        subject: "subject-1",
        user_id: second.id,
        email: None,
    };

    let operator = codex_cloud_core::service::Admin::operator();
    h.app.services.links.link_or_update_identity(&operator, request).await.expect("seed");

    Reply::read(h.app.me(&token).await).await.assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn the_browser_cookie_of_a_provider_login_is_opaque_and_lives_as_long_as_the_session() {
    let h = OidcHarness::start().await;
    h.linked_user("sso@example.com", "subject-1").await;

    let reply = h.login_returning_to(Some("/app")).await;

    assert_eq!(reply.status, 303, "{}", reply.text());
    let cookie = codex_cloud_tests::oidc::set_cookie(&reply, "codex_session").expect("cookie");
    let value = cookie.split(';').next().unwrap_or_default().trim_start_matches("codex_session=");
    assert_eq!(value.len(), 64, "256 bits in hex, not a JWT: {cookie}");
    assert!(value.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(cookie.contains(&format!("Max-Age={}", 14 * 24 * 3600)), "{cookie}");
}
