//! `/admin/users/{id}/identities`: listing, linking and unlinking a user's external identities,
//! with the core flow also on SQLite and PostgreSQL.

use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

use codex_cloud_tests::StoreBackend;
use codex_cloud_tests::http::Reply;

use super::{AdminApp, id_of, keys};

const ISSUER: &str = "https://op.example.com";

fn path(user: Uuid) -> String {
    format!("/admin/users/{user}/identities")
}

fn link_body(issuer: &str, subject: &str) -> Value {
    json!({ "issuer": issuer, "subject": subject })
}

impl AdminApp {
    async fn link(&self, user: Uuid, body: Value) -> Reply {
        self.post(&path(user), Some(body)).await
    }

    async fn unlink(&self, user: Uuid, issuer: &str, subject: &str) -> Reply {
        self.delete(&path(user), &[("issuer", issuer), ("subject", subject)]).await
    }

    /// The subjects of the user's identities, in the order listed.
    async fn subjects(&self, user: Uuid) -> Vec<String> {
        let reply = self.get(&path(user)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let list = reply.json();
        let list = list.as_array().unwrap_or_else(|| panic!("not an array: {list}"));
        list.iter().map(|i| i["subject"].as_str().expect("subject").to_owned()).collect()
    }
}

#[tokio::test]
async fn linking_answers_201_with_the_identity_and_it_is_listed() {
    let admin = AdminApp::spawn().await;
    let user = admin.create_user("ada@example.com").await;
    assert!(admin.subjects(user).await.is_empty());

    let body = json!({ "issuer": ISSUER, "subject": "sub-1", "email": "Ada@Corp.example" });
    let reply = admin.link(user, body).await;

    assert_eq!(reply.status, 201, "{}", reply.text());
    let identity = reply.json();
    assert_eq!(keys(&identity), ["created_at", "email", "id", "issuer", "subject", "user_id"]);
    assert_eq!(identity["issuer"], ISSUER);
    assert_eq!(identity["subject"], "sub-1");
    assert_eq!(identity["user_id"], user.to_string());
    assert_eq!(identity["email"], "ada@corp.example");
    let listed = admin.get(&path(user)).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(id_of(&listed[0]), id_of(&identity));
    assert_eq!(listed[0], identity);
}

#[tokio::test]
async fn an_identity_without_an_email_address_omits_the_field_rather_than_sending_null() {
    let admin = AdminApp::spawn().await;
    let user = admin.create_user("ada@example.com").await;
    let reply = admin.link(user, link_body(ISSUER, "sub-1")).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(keys(&reply.json()), ["created_at", "id", "issuer", "subject", "user_id"]);
    let listed = admin.get(&path(user)).await.json();
    assert_eq!(keys(&listed[0]), ["created_at", "id", "issuer", "subject", "user_id"]);
}

#[tokio::test]
async fn an_identity_can_be_linked_once_even_across_users() {
    let admin = AdminApp::spawn().await;
    let ada = admin.create_user("ada@example.com").await;
    let bob = admin.create_user("bob@example.com").await;
    assert_eq!(admin.link(ada, link_body(ISSUER, "sub-1")).await.status, 201);

    admin
        .link(ada, link_body(ISSUER, "sub-1"))
        .await
        .assert_problem(409, "identity_already_linked");
    admin
        .link(bob, link_body(ISSUER, "sub-1"))
        .await
        .assert_problem(409, "identity_already_linked");

    assert!(admin.subjects(bob).await.is_empty());
    // The same subject at another issuer, or another subject, is another identity.
    assert_eq!(admin.link(bob, link_body("https://other.example.com", "sub-1")).await.status, 201);
    admin.app.advance(Duration::seconds(1));
    assert_eq!(admin.link(ada, link_body(ISSUER, "sub-2")).await.status, 201);
    assert_eq!(admin.subjects(ada).await, ["sub-1", "sub-2"]);
}

#[tokio::test]
async fn linking_to_or_listing_an_unknown_user_is_404_user_not_found() {
    let admin = AdminApp::spawn().await;
    let unknown = Uuid::new_v4();

    admin.link(unknown, link_body(ISSUER, "sub-1")).await.assert_problem(404, "user_not_found");
    admin.get(&path(unknown)).await.assert_problem(404, "user_not_found");
    admin.get("/admin/users/nope/identities").await.assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn a_malformed_identity_is_400_and_links_nothing() {
    let admin = AdminApp::spawn().await;
    let user = admin.create_user("ada@example.com").await;
    let cases = [
        (link_body("not a url", "sub-1"), "invalid_identity"),
        (link_body("op.example.com", "sub-1"), "invalid_identity"),
        (link_body("ftp://op.example.com", "sub-1"), "invalid_identity"),
        (link_body("https://op.example.com?x=1", "sub-1"), "invalid_identity"),
        (link_body(ISSUER, ""), "invalid_identity"),
        (link_body(ISSUER, &"s".repeat(256)), "invalid_identity"),
        (json!({ "issuer": ISSUER, "subject": "sub-1", "email": "nope" }), "invalid_email"),
        (json!({ "issuer": ISSUER }), "invalid_request"),
    ];

    for (body, code) in cases {
        admin.link(user, body).await.assert_problem(400, code);
    }

    assert!(admin.subjects(user).await.is_empty());
}

#[tokio::test]
async fn unlinking_answers_204_and_then_404_identity_not_found() {
    let admin = AdminApp::spawn().await;
    let user = admin.create_user("ada@example.com").await;
    admin.link(user, link_body(ISSUER, "sub-1")).await;
    admin.link(user, link_body(ISSUER, "sub-2")).await;

    let reply = admin.unlink(user, ISSUER, "sub-1").await;

    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(reply.body.is_empty());
    assert_eq!(admin.subjects(user).await, ["sub-2"]);
    admin.unlink(user, ISSUER, "sub-1").await.assert_problem(404, "identity_not_found");
    admin.unlink(user, ISSUER, "never-linked").await.assert_problem(404, "identity_not_found");
    admin.unlink(user, "not a url", "sub-2").await.assert_problem(400, "invalid_identity");
    admin.delete(&path(user), &[("issuer", ISSUER)]).await.assert_problem(400, "invalid_request");
    // Unlinked, the identity can be linked again.
    assert_eq!(admin.link(user, link_body(ISSUER, "sub-1")).await.status, 201);
}

#[tokio::test]
async fn unlinking_another_users_identity_is_404_and_leaves_it_linked() {
    let admin = AdminApp::spawn().await;
    let ada = admin.create_user("ada@example.com").await;
    let bob = admin.create_user("bob@example.com").await;
    admin.link(ada, link_body(ISSUER, "sub-1")).await;

    admin.unlink(bob, ISSUER, "sub-1").await.assert_problem(404, "identity_not_found");
    admin.unlink(Uuid::new_v4(), ISSUER, "sub-1").await.assert_problem(404, "identity_not_found");

    assert_eq!(admin.subjects(ada).await, ["sub-1"]);
}

async fn core_flow(backend: StoreBackend) {
    let admin = AdminApp::on(backend).await;
    let ada = admin.create_user("ada@example.com").await;
    let bob = admin.create_user("bob@example.com").await;

    let linked = admin.link(ada, link_body(ISSUER, "sub-1")).await;
    assert_eq!(linked.status, 201, "{backend}: {}", linked.text());
    assert_eq!(linked.json()["user_id"], ada.to_string());
    admin
        .link(bob, link_body(ISSUER, "sub-1"))
        .await
        .assert_problem(409, "identity_already_linked");
    admin
        .link(Uuid::new_v4(), link_body(ISSUER, "sub-2"))
        .await
        .assert_problem(404, "user_not_found");
    assert_eq!(admin.subjects(ada).await, ["sub-1"], "{backend}");
    admin.unlink(bob, ISSUER, "sub-1").await.assert_problem(404, "identity_not_found");
    assert_eq!(admin.unlink(ada, ISSUER, "sub-1").await.status, 204, "{backend}");
    admin.unlink(ada, ISSUER, "sub-1").await.assert_problem(404, "identity_not_found");
    assert!(admin.subjects(ada).await.is_empty(), "{backend}");
}

#[tokio::test]
async fn the_identity_administration_flow_works_on_sqlite() {
    core_flow(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn the_identity_administration_flow_works_on_postgres() {
    core_flow(StoreBackend::Postgres).await;
}
