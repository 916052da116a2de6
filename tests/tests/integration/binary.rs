//! The real `codex-cloud-backend` binary: the CLI commands, start-up errors, and `serve` over a
//! real socket with a SQLite file database.

use std::io::Write as _;
use std::process::{Output, Stdio};

use serde_json::{Value, json};
use uuid::Uuid;

use codex_cloud_tests::process::{Server, TempDir, backend_command, http_client};

pub(super) const PASSWORD: &str = "correct horse battery staple";

pub(super) fn run(dir: &TempDir, args: &[&str]) -> Output {
    backend_command(dir).args(args).output().expect("run the backend binary")
}

pub(super) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(super) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
pub(super) fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

#[track_caller]
pub(super) fn assert_failure_mentioning(output: &Output, needle: &str) {
    assert!(!output.status.success(), "should have failed: {}", stdout(output));
    let stderr = stderr(output);
    assert!(
        stderr.to_lowercase().contains(&needle.to_lowercase()),
        "stderr does not mention {needle:?}: {stderr}"
    );
}

/// The id printed on the last line of standard output.
#[track_caller]
pub(super) fn printed_id(output: &Output) -> Uuid {
    assert_success(output);
    let out = stdout(output);
    let last = out.lines().last().unwrap_or_default();
    Uuid::parse_str(last.trim())
        .unwrap_or_else(|e| panic!("the last stdout line {last:?} is not a UUID: {e}"))
}

#[test]
fn create_admin_prints_the_new_id_and_refuses_duplicates_and_bad_input() {
    let dir = TempDir::new();

    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));

    let duplicate = run(&dir, &["create-admin", "ADMIN@example.com", PASSWORD]);
    assert_failure_mentioning(&duplicate, "already exists");
    let invalid = run(&dir, &["create-admin", "not-an-address", PASSWORD]);
    assert_failure_mentioning(&invalid, "e-mail");
    let short = run(&dir, &["create-admin", "short@example.com", "short"]);
    assert_failure_mentioning(&short, "at least 12");
    let common = run(&dir, &["create-admin", "common@example.com", "password1234"]);
    assert_failure_mentioning(&common, "most common passwords");
    let named = run(&dir, &["create-admin", "grace.hopper@example.com", "I am grace.hopper!"]);
    assert_failure_mentioning(&named, "e-mail address");
    let neither = run(&dir, &["create-admin", "none@example.com"]);
    assert!(!neither.status.success());
    assert!(!stderr(&neither).is_empty());
}

#[test]
fn create_admin_reads_the_password_from_stdin() {
    let dir = TempDir::new();
    let mut child = backend_command(&dir)
        .args(["create-admin", "stdin@example.com", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{PASSWORD}").expect("write the password");
    }

    let output = child.wait_with_output().expect("wait");

    printed_id(&output);
    assert!(!stdout(&output).contains(PASSWORD));
    assert!(!stderr(&output).contains(PASSWORD));
}

#[test]
fn openapi_prints_the_openapi_document_as_json() {
    let dir = TempDir::new();

    let output = run(&dir, &["openapi"]);

    assert_success(&output);
    let spec: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(&output)));
    assert!(spec["openapi"].as_str().unwrap_or_default().starts_with("3."));
    assert!(spec["paths"]["/auth/login"]["post"].is_object());
}

#[test]
fn openapi_needs_no_database_and_makes_no_keys() {
    let dir = TempDir::new();
    let missing = dir.path().join("no such directory").join("codex.db");
    let url = format!("sqlite://{}?mode=rwc", missing.display());

    let output = backend_command(&dir).env("CODEX_DATABASE_URL", url).arg("openapi").output();

    let output = output.expect("run the binary");
    assert_success(&output);
    let spec: Value = serde_json::from_slice(&output.stdout).expect("the document is JSON");
    assert!(spec["paths"]["/auth/me"]["get"].is_object());
    assert!(!missing.parent().expect("parent").exists(), "nothing was created");
    let entries = std::fs::read_dir(dir.path()).expect("list the directory").count();
    assert_eq!(entries, 0, "no database file was created in the working directory");
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_variable() {
    let dir = TempDir::new();
    for (name, value) in [
        ("CODEX_ACCESS_TOKEN_TTL", "abc"),
        ("CODEX_BIND", "nowhere"),
        ("CODEX_DATABASE_URL", "postgres://u:p@[x"),
        ("CODEX_OIDC_ISSUER", "https://op.example.com"),
    ] {
        let output = backend_command(&dir).arg("serve").env(name, value).output().expect("run");

        assert_failure_mentioning(&output, name);
        assert_eq!(output.status.code(), Some(2), "{name}: invalid configuration exits 2");
        assert!(!stderr(&output).contains("panicked"), "{name}: {}", stderr(&output));
        if name == "CODEX_OIDC_ISSUER" {
            assert_failure_mentioning(&output, "CODEX_OIDC_CLIENT_SECRET");
        }
    }
}

#[tokio::test]
async fn serve_logs_in_answers_me_and_logs_out_over_a_real_socket_across_a_restart() {
    let dir = TempDir::new();
    let created = run(&dir, &["create-admin", "admin@example.com", PASSWORD]);
    let id = printed_id(&created);
    let client = http_client();
    let mut server = Server::start(&dir);
    server.wait_until_healthy(&client).await;

    let login = client
        .post(server.url("/auth/login"))
        .json(&json!({ "email": "Admin@Example.com", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let body: Value = login.json().await.expect("login JSON");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let me = |server: &Server| client.get(server.url("/auth/me")).bearer_auth(&token).send();
    let response = me(&server).await.expect("me");
    assert_eq!(response.status(), 200);
    let user: Value = response.json().await.expect("me JSON");
    assert_eq!(user, json!({ "id": id, "email": "admin@example.com", "is_admin": true }));
    let ready = client.get(server.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);

    // The signing key lives in the database: tokens survive a restart.
    server.stop();
    let mut server = Server::start(&dir);
    server.wait_until_healthy(&client).await;
    assert_eq!(me(&server).await.expect("me").status(), 200);

    let logout =
        client.post(server.url("/auth/logout")).bearer_auth(&token).send().await.expect("logout");
    assert_eq!(logout.status(), 204);
    let after = me(&server).await.expect("me after logout");
    assert_eq!(after.status(), 401);
    let content_type = after.headers()["content-type"].to_str().unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Value = after.json().await.expect("problem JSON");
    assert_eq!(problem["code"], "invalid_token");
}
