//! `/admin/users`: creating, listing, reading, disabling and enabling users, with the core flow
//! also on SQLite and PostgreSQL.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use codex_cloud_tests::StoreBackend;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;

use super::{AdminApp, id_of, keys};

const USER_FIELDS: [&str; 7] =
    ["created_at", "disabled", "email", "has_password", "id", "is_admin", "updated_at"];

#[track_caller]
fn timestamp(view: &Value, field: &str) -> OffsetDateTime {
    let text = view[field].as_str().unwrap_or_else(|| panic!("no {field} in {view}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{field} {text:?}: {e}"))
}

fn emails(list: &Reply) -> Vec<String> {
    assert_eq!(list.status, 200, "{}", list.text());
    let users = list.json();
    let users = users.as_array().unwrap_or_else(|| panic!("not an array: {users}"));
    users.iter().map(|u| u["email"].as_str().expect("email").to_owned()).collect()
}

#[tokio::test]
async fn creating_a_user_answers_201_with_the_user_who_can_then_log_in() {
    let admin = AdminApp::spawn().await;

    let reply = admin.create(json!({ "email": " Ada@Example.COM ", "password": PASSWORD })).await;

    assert_eq!(reply.status, 201, "{}", reply.text());
    assert!(reply.content_type().starts_with("application/json"));
    let user = reply.json();
    assert_eq!(keys(&user), USER_FIELDS);
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["is_admin"], false, "is_admin defaults to false");
    assert_eq!(user["disabled"], false);
    assert_eq!(user["has_password"], true);
    assert_eq!(timestamp(&user, "created_at"), admin.app.now());
    assert_eq!(timestamp(&user, "updated_at"), admin.app.now());
    let token = admin.app.token("ada@example.com", PASSWORD).await;
    let me = Reply::read(admin.app.me(&token).await).await.json();
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["is_admin"], false);
}

#[tokio::test]
async fn a_user_created_without_a_password_has_none_and_cannot_log_in_with_one() {
    let admin = AdminApp::spawn().await;

    let reply = admin.create(json!({ "email": "sso@example.com", "is_admin": false })).await;

    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["has_password"], false);
    for password in [PASSWORD, ""] {
        Reply::read(admin.app.login("sso@example.com", password).await)
            .await
            .assert_problem(401, "invalid_credentials");
    }
}

#[tokio::test]
async fn a_taken_address_is_409_email_taken_whatever_its_case() {
    let admin = AdminApp::spawn().await;
    admin.create_user("ada@example.com").await;

    for email in ["ada@example.com", "ADA@Example.com", "root@example.com"] {
        let reply = admin.create(json!({ "email": email, "password": PASSWORD })).await;
        reply.assert_problem(409, "email_taken");
    }
}

#[tokio::test]
async fn a_bad_address_or_password_is_400_and_creates_nobody() {
    let admin = AdminApp::spawn().await;
    let cases = [
        (json!({ "email": "not-an-address", "password": PASSWORD }), "invalid_email"),
        (json!({ "email": "a@b@example.com", "password": PASSWORD }), "invalid_email"),
        (json!({ "email": "", "password": PASSWORD }), "invalid_email"),
        (json!({ "email": "short@example.com", "password": "s3cr3t!" }), "invalid_password"),
        (json!({ "email": "empty@example.com", "password": "" }), "invalid_password"),
        (json!({ "password": PASSWORD }), "invalid_request"),
        (json!({ "email": "typed@example.com", "is_admin": "yes" }), "invalid_request"),
    ];

    for (body, code) in cases {
        let reply = admin.create(body).await;
        reply.assert_problem(400, code);
        assert!(!reply.text().contains("s3cr3t"), "the password is echoed: {}", reply.text());
    }

    assert_eq!(emails(&admin.list(&[]).await), ["root@example.com"]);
}

#[tokio::test]
async fn users_are_listed_in_creation_order_a_page_at_a_time() {
    let admin = AdminApp::spawn().await;
    for email in ["b@example.com", "a@example.com", "c@example.com"] {
        admin.app.advance(Duration::seconds(1));
        admin.create_user(email).await;
    }
    let all = ["root@example.com", "b@example.com", "a@example.com", "c@example.com"];

    assert_eq!(emails(&admin.list(&[]).await), all);
    assert_eq!(emails(&admin.list(&[("offset", "1"), ("limit", "2")]).await), all[1..3]);
    assert_eq!(emails(&admin.list(&[("offset", "3")]).await), all[3..]);
    assert!(emails(&admin.list(&[("offset", "4")]).await).is_empty());
    assert!(emails(&admin.list(&[("limit", "0")]).await).is_empty());
    assert_eq!(emails(&admin.list(&[("limit", "500")]).await), all);
    let list = admin.list(&[]).await.json();
    assert_eq!(keys(&list[0]), USER_FIELDS);
}

#[tokio::test]
async fn a_page_beyond_the_limits_is_400_not_500() {
    let admin = AdminApp::spawn().await;

    let refused = [
        ("offset", "99999999999999999999"),
        ("offset", "18446744073709551615"),
        ("offset", "1000000001"),
        ("offset", "-1"),
        ("offset", "one"),
        ("limit", "501"),
        ("limit", "99999999999999999999"),
        ("limit", "-1"),
    ];
    for (name, value) in refused {
        let reply = admin.list(&[(name, value)]).await;
        assert_eq!(reply.status, 400, "{name}={value}: {}", reply.text());
        reply.assert_problem(400, "invalid_request");
    }

    assert!(emails(&admin.list(&[("offset", "1000000000")]).await).is_empty());
}

#[tokio::test]
async fn a_user_is_read_by_id_and_an_unknown_or_malformed_id_is_a_problem() {
    let admin = AdminApp::spawn().await;
    let id = admin.create_user("ada@example.com").await;

    let reply = admin.get(&format!("/admin/users/{id}")).await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    let user = reply.json();
    assert_eq!(keys(&user), USER_FIELDS);
    assert_eq!(id_of(&user), id);
    assert_eq!(user["email"], "ada@example.com");
    admin
        .get(&format!("/admin/users/{}", Uuid::new_v4()))
        .await
        .assert_problem(404, "user_not_found");
    for bad in ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"] {
        admin.get(&format!("/admin/users/{bad}")).await.assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn disabling_ends_the_users_sessions_for_good_and_refuses_logins_until_enabled() {
    let admin = AdminApp::spawn().await;
    let (user, token) = admin.app.user_with_token("ada@example.com").await;
    admin.app.advance(Duration::seconds(5));

    let disabled = admin.post(&format!("/admin/users/{}/disable", user.id), None).await;

    assert_eq!(disabled.status, 200, "{}", disabled.text());
    let view = disabled.json();
    assert_eq!(keys(&view), USER_FIELDS);
    assert_eq!(view["disabled"], true);
    assert_eq!(timestamp(&view, "updated_at"), admin.app.now());
    assert_eq!(timestamp(&view, "created_at"), admin.app.now() - Duration::seconds(5));
    Reply::read(admin.app.me(&token).await).await.assert_problem(401, "invalid_token");
    Reply::read(admin.app.login("ada@example.com", PASSWORD).await)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(admin.get(&format!("/admin/users/{}", user.id)).await.json()["disabled"], true);

    let enabled = admin.post(&format!("/admin/users/{}/enable", user.id), None).await;

    assert_eq!(enabled.status, 200, "{}", enabled.text());
    assert_eq!(enabled.json()["disabled"], false);
    let old = Reply::read(admin.app.me(&token).await).await;
    old.assert_problem(401, "invalid_token");
    admin.app.token("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn disabling_or_enabling_an_unknown_user_is_404_user_not_found() {
    let admin = AdminApp::spawn().await;
    let unknown = Uuid::new_v4();
    for action in ["disable", "enable"] {
        admin
            .post(&format!("/admin/users/{unknown}/{action}"), None)
            .await
            .assert_problem(404, "user_not_found");
        admin
            .post(&format!("/admin/users/nope/{action}"), None)
            .await
            .assert_problem(400, "invalid_request");
    }
}

#[tokio::test]
async fn a_disabled_administrators_token_no_longer_opens_the_admin_api() {
    let admin = AdminApp::spawn().await;
    let other = admin
        .create(json!({ "email": "other@example.com", "password": PASSWORD, "is_admin": true }))
        .await;
    let other_id = id_of(&other.json());
    let other_token = admin.app.token("other@example.com", PASSWORD).await;

    admin.post(&format!("/admin/users/{other_id}/disable"), None).await;

    let reply = super::send(
        &admin.app,
        poem::http::Method::GET,
        "/admin/users",
        Some(&other_token),
        &[],
        None,
    )
    .await;
    reply.assert_problem(401, "invalid_token");
}

async fn core_flow(backend: StoreBackend) {
    let admin = AdminApp::on(backend).await;
    admin.app.advance(Duration::seconds(1));
    let id = admin.create_user("ada@example.com").await;
    admin.app.advance(Duration::seconds(1));
    let sso = admin.create(json!({ "email": "sso@example.com" })).await;
    assert_eq!(sso.json()["has_password"], false, "{backend}");
    admin
        .create(json!({ "email": "ADA@example.com", "password": PASSWORD }))
        .await
        .assert_problem(409, "email_taken");

    let all = ["root@example.com", "ada@example.com", "sso@example.com"];
    assert_eq!(emails(&admin.list(&[]).await), all, "{backend}");
    assert_eq!(emails(&admin.list(&[("offset", "1"), ("limit", "1")]).await), all[1..2]);
    assert!(emails(&admin.list(&[("offset", "1000000000")]).await).is_empty());
    admin.list(&[("offset", "99999999999999999999")]).await.assert_problem(400, "invalid_request");
    let user = admin.get(&format!("/admin/users/{id}")).await.json();
    assert_eq!(timestamp(&user, "created_at"), admin.app.now() - Duration::seconds(1));
    admin
        .get(&format!("/admin/users/{}", Uuid::new_v4()))
        .await
        .assert_problem(404, "user_not_found");

    let token = admin.app.token("ada@example.com", PASSWORD).await;
    let disabled = admin.post(&format!("/admin/users/{id}/disable"), None).await;
    assert_eq!(disabled.json()["disabled"], true, "{backend}: {}", disabled.text());
    Reply::read(admin.app.me(&token).await).await.assert_problem(401, "invalid_token");
    let enabled = admin.post(&format!("/admin/users/{id}/enable"), None).await;
    assert_eq!(enabled.json()["disabled"], false, "{backend}: {}", enabled.text());
    let old = Reply::read(admin.app.me(&token).await).await;
    old.assert_problem(401, "invalid_token");
    admin.app.token("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn the_user_administration_flow_works_on_sqlite() {
    core_flow(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn the_user_administration_flow_works_on_postgres() {
    core_flow(StoreBackend::Postgres).await;
}
