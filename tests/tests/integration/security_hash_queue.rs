//! Password hashing waits in a bounded queue: when no slot frees up in time (or the queue is
//! full) the answer is 503 `server_busy` with `Retry-After`, nothing is checked or changed, and
//! the refused attempts count against no throttle. (The queue's own timing, with the clock moved,
//! is tested next to it in the adapters.)

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use codex_cloud_adapters::HashQueue;
use codex_cloud_tests::TestApp;
use codex_cloud_tests::app::PASSWORD;
use codex_cloud_tests::http::Reply;

fn assert_busy(reply: &Reply) {
    reply.assert_problem(503, "server_busy");
    assert_eq!(reply.header("retry-after"), Some("5"), "the queue's timeout");
}

#[tokio::test]
async fn a_saturated_hasher_answers_503_server_busy_changes_nothing_and_throttles_no_one() {
    // One slot, nobody may wait: holding the slot saturates the hasher.
    let queue = Arc::new(HashQueue::with_capacity(1, 0, Duration::from_secs(5)));
    let app = TestApp::builder().argon2_queue(queue.clone()).build().await;
    let ada = app.create_user("ada@example.com", PASSWORD).await;
    app.create_admin("root@example.com", PASSWORD).await;
    let root = app.token("root@example.com", PASSWORD).await;
    let token = app.token("ada@example.com", PASSWORD).await;

    let slot = queue.admit().await.expect("the only slot");
    for _ in 0..8 {
        assert_busy(&Reply::read(app.login("ada@example.com", "wrong password").await).await);
    }
    assert_busy(&Reply::read(app.login("ada@example.com", PASSWORD).await).await);
    let change = json!({ "current_password": PASSWORD, "new_password": "a new passphrase" });
    assert_busy(&app.post_json("/auth/password", Some(&token), change).await);
    let reset = format!("/admin/users/{}/password", ada.id);
    let new_password = json!({ "password": "reset by an admin" });
    assert_busy(&app.post_json(&reset, Some(&root), new_password).await);
    let create = json!({ "email": "bob@example.com", "password": "a fine passphrase" });
    assert_busy(&app.post_json("/admin/users", Some(&root), create.clone()).await);
    drop(slot);

    // Eight refused wrong passwords were never judged: no 429, and the old password still works.
    assert_eq!(Reply::read(app.login("ada@example.com", PASSWORD).await).await.status, 200);
    assert_eq!(app.me(&token).await.0.status(), 200, "no password change ended the session");
    let created = app.post_json("/admin/users", Some(&root), create).await;
    assert_eq!(created.status, 201, "bob was not created while busy: {}", created.text());
}

#[tokio::test]
async fn a_busy_answer_leaves_a_throttled_accounts_wait_as_it_was() {
    let queue = Arc::new(HashQueue::with_capacity(1, 0, Duration::from_secs(5)));
    let app = TestApp::builder().argon2_queue(queue.clone()).build().await;
    app.create_user("ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        let reply = Reply::read(app.login("ada@example.com", "wrong password").await).await;
        reply.assert_problem(401, "invalid_credentials");
    }
    // The 30 s wait after the fifth failure is over.
    app.advance(time::Duration::seconds(30));

    let slot = queue.admit().await.expect("the only slot");
    assert_busy(&Reply::read(app.login("ada@example.com", "wrong password").await).await);
    drop(slot);

    // Neither a new failure nor a new wait: the right password gets in at once.
    assert_eq!(Reply::read(app.login("ada@example.com", PASSWORD).await).await.status, 200);
}
