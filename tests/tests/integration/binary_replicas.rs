//! Replicas of the real binary on one PostgreSQL database: started at the same moment on an
//! empty database, both come up (migrations take turns) and share every state.

use serde_json::{Value, json};

use codex_cloud_tests::database::PostgresDatabase;
use codex_cloud_tests::process::{Server, TempDir, backend_command, http_client};

use super::binary::{PASSWORD, printed_id};

async fn post(server: &Server, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = http_client().post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn me(server: &Server, token: &str) -> u16 {
    let response = http_client().get(server.url("/auth/me")).bearer_auth(token).send().await;
    response.expect("request").status().as_u16()
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn two_replicas_started_at_once_on_an_empty_database_both_serve_and_share_state() {
    for _ in 0..3 {
        let database = PostgresDatabase::empty().await;
        let dir = TempDir::new();
        let env = [("CODEX_DATABASE_URL", database.url())];
        let mut a = Server::start_with_env(&dir, &env);
        let mut b = Server::start_with_env(&dir, &env);
        a.wait_until_ready(&http_client()).await;
        b.wait_until_ready(&http_client()).await;

        let created = backend_command(&dir)
            .env("CODEX_DATABASE_URL", database.url())
            .args(["create-admin", "admin@example.com", PASSWORD])
            .output()
            .expect("create-admin");
        printed_id(&created);
        let keys = backend_command(&dir)
            .env("CODEX_DATABASE_URL", database.url())
            .arg("list-signing-keys")
            .output()
            .expect("list-signing-keys");
        let listed = String::from_utf8_lossy(&keys.stdout).into_owned();
        let states: Vec<&str> =
            listed.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
        assert_eq!(states, ["active"], "one key between them:\n{listed}");
        let login = json!({ "email": "admin@example.com", "password": PASSWORD });
        let (status, body) = post(&a, "/auth/login", None, login).await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().expect("token").to_owned();
        assert_eq!(me(&b, &token).await, 200, "a token from A works on B");
        let wrong = json!({ "email": "admin@example.com", "password": "wrong" });
        for _ in 0..5 {
            assert_eq!(post(&a, "/auth/login", None, wrong.clone()).await.0, 401);
        }
        assert_eq!(post(&b, "/auth/login", None, wrong).await.0, 429, "B sees A's failures");
        assert_eq!(me(&b, &token).await, 200, "B has read the session");
        assert_eq!(post(&a, "/auth/logout", Some(&token), Value::Null).await.0, 204);
        assert_eq!(me(&a, &token).await, 401, "refused at once on the replica that logged out");
        // B trusts the session it read for less than a second.
        let logged_out = std::time::Instant::now();
        while me(&b, &token).await != 401 {
            assert!(logged_out.elapsed() < std::time::Duration::from_secs(1), "B still accepts");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        a.stop();
        b.stop();
    }
}
