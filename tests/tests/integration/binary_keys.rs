//! Private keys sealed at rest through the real binary: a plain key is sealed on the next start
//! with `CODEX_KEY_ENCRYPTION_KEY` (tokens signed before stay valid), a wrong or missing key
//! stops start-up with a clear message and changes nothing, and running without one says so.

use std::process::Output;

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

use codex_cloud_tests::process::{Server, TempDir, backend_command, http_client};

use super::binary::{PASSWORD, assert_failure_mentioning, printed_id, run, stderr};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// A command that needs the signing keys.
const RESET: [&str; 3] = ["set-password", "admin@example.com", "another good passphrase"];
const WRONG_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// The stored private key column of the only signing key.
async fn stored_private_key(dir: &TempDir) -> String {
    let db = Database::connect(dir.database_url()).await.expect("open the database");
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT private_key_pem FROM signing_keys",
    );
    let rows = db.query_all_raw(statement).await.expect("read the keys");
    assert_eq!(rows.len(), 1);
    rows[0].try_get::<String>("", "private_key_pem").expect("the column")
}

fn run_with(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> Output {
    backend_command(dir).envs(env.iter().copied()).args(args).output().expect("run the binary")
}

async fn token(server: &Server) -> String {
    let login = http_client()
        .post(server.url("/auth/login"))
        .json(&json!({ "email": "admin@example.com", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let body: serde_json::Value = login.json().await.expect("JSON");
    body["access_token"].as_str().expect("access_token").to_owned()
}

async fn me_status(server: &Server, token: &str) -> u16 {
    let me = http_client().get(server.url("/auth/me")).bearer_auth(token).send().await;
    me.expect("me").status().as_u16()
}

#[tokio::test]
async fn a_plain_key_is_sealed_on_the_next_start_and_keeps_verifying_its_tokens() {
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let plain = stored_private_key(&dir).await;
    assert!(plain.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let mut before = Server::start(&dir);
    before.wait_until_healthy(&http_client()).await;
    let old_token = token(&before).await;
    assert!(before.log().contains("CODEX_KEY_ENCRYPTION_KEY is not set"), "{}", before.log());
    before.stop();

    let mut sealed_server = Server::start_with_env(&dir, &[("CODEX_KEY_ENCRYPTION_KEY", KEY)]);
    sealed_server.wait_until_healthy(&http_client()).await;

    let sealed = stored_private_key(&dir).await;
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
    assert!(!sealed.contains("PRIVATE KEY"));
    assert_eq!(me_status(&sealed_server, &old_token).await, 200, "signed before sealing");
    let new_token = token(&sealed_server).await;
    assert_eq!(me_status(&sealed_server, &new_token).await, 200);
    assert!(!sealed_server.log().contains("is not set"), "{}", sealed_server.log());
    sealed_server.stop();

    // A wrong key, or none, stops start-up naming the variable and changes nothing.
    let wrong = run_with(&dir, &[("CODEX_KEY_ENCRYPTION_KEY", WRONG_KEY)], &RESET);
    assert_failure_mentioning(&wrong, "CODEX_KEY_ENCRYPTION_KEY_FILE) does not open the stored");
    assert!(!stderr(&wrong).contains(WRONG_KEY), "the key is never printed");
    let missing = run(&dir, &RESET);
    assert_failure_mentioning(&missing, "is sealed: set CODEX_KEY_ENCRYPTION_KEY");
    assert_eq!(stored_private_key(&dir).await, sealed, "no new key, no change");
}

#[tokio::test]
async fn the_key_may_come_from_a_file_and_a_new_database_gets_a_sealed_key() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("kek"), format!("{KEY}\n")).expect("write the key file");
    let env = [("CODEX_KEY_ENCRYPTION_KEY_FILE", "kek")];

    printed_id(&run_with(&dir, &env, &["create-admin", "admin@example.com", PASSWORD]));

    assert!(stored_private_key(&dir).await.starts_with("sealed:v1:"));
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_healthy(&http_client()).await;
    let token = token(&server).await;
    assert_eq!(me_status(&server, &token).await, 200);
}

#[test]
fn a_malformed_or_doubly_given_key_stops_start_up_naming_the_variable() {
    let dir = TempDir::new();
    let short = run_with(&dir, &[("CODEX_KEY_ENCRYPTION_KEY", "c2hvcnQ=")], &["migrate"]);
    assert_failure_mentioning(&short, "CODEX_KEY_ENCRYPTION_KEY");
    assert!(!stderr(&short).contains("c2hvcnQ="));
    let both = [("CODEX_KEY_ENCRYPTION_KEY", KEY), ("CODEX_KEY_ENCRYPTION_KEY_FILE", "kek")];
    assert_failure_mentioning(&run_with(&dir, &both, &["migrate"]), "both set");
    let unreadable = [("CODEX_KEY_ENCRYPTION_KEY_FILE", "no-such-file")];
    assert_failure_mentioning(
        &run_with(&dir, &unreadable, &["migrate"]),
        "CODEX_KEY_ENCRYPTION_KEY_FILE",
    );
}
