//! Readiness as a load balancer sees it: `/readyz` follows the database while `/healthz` only
//! says the process runs.

use codex_cloud_tests::TestApp;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::failing_store::PING_FAILURE;
use codex_cloud_tests::http::Reply;

#[tokio::test]
async fn readyz_is_503_not_ready_when_the_database_does_not_answer() {
    let app = TestApp::builder().store_ping_fails(true).build().await;

    let ready = Reply::read(app.client.get("/readyz").send().await).await;

    let problem = ready.assert_problem(503, "not_ready");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("database"), "anonymous callers get no reason: {problem}");
    app.create_admin("root@example.com", PASSWORD).await;
    let root = app.token("root@example.com", PASSWORD).await;
    let admin = Reply::read(
        app.client.get("/readyz").header("authorization", format!("Bearer {root}")).send().await,
    )
    .await;
    let problem = admin.assert_problem(503, "not_ready");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("database"), "administrators get the reason: {problem}");
    assert!(!admin.text().contains(PING_FAILURE), "the store's error is not exposed: {problem}");
    assert_eq!(ready.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn healthz_stays_200_while_the_database_does_not_answer() {
    let app = TestApp::builder().store_ping_fails(true).build().await;

    let health = Reply::read(app.client.get("/healthz").send().await).await;

    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
    // Only `ping` fails: the rest of the store still works.
    app.create_user("ada@example.com", PASSWORD).await;
    app.token("ada@example.com", PASSWORD).await;
}
