//! The bearer check's cost in database work: one statement per request (a session joined with
//! its user), counted on the SeaORM stores.

use codex_cloud_tests::http::Reply;
use codex_cloud_tests::{StoreBackend, TestApp};

async fn me_costs_one_query(backend: StoreBackend) {
    let app = TestApp::builder().backend(backend).build().await;
    let (_, token) = app.user_with_token("ada@example.com").await;
    let before = app.store.queries().count();

    let me = Reply::read(app.me(&token).await).await;

    assert_eq!(me.status, 200, "{}", me.text());
    let statements = app.store.queries().statements_since(before);
    assert_eq!(statements.len(), 1, "GET /auth/me ran: {statements:#?}");
    let sql = statements[0].to_lowercase();
    assert!(sql.contains("join") && sql.contains("sessions") && sql.contains("users"), "{sql}");
    eprintln!("GET /auth/me on {backend}: {}", statements[0]);

    // Within a second the same session costs no query at all.
    let before = app.store.queries().count();
    assert_eq!(Reply::read(app.me(&token).await).await.status, 200);
    assert_eq!(app.store.queries().statements_since(before), Vec::<String>::new());
}

#[tokio::test]
async fn me_costs_one_query_on_sqlite() {
    me_costs_one_query(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn me_costs_one_query_on_postgres() {
    me_costs_one_query(StoreBackend::Postgres).await;
}
