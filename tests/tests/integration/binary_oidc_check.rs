//! `oidc-check` through the real binary against the fake provider: every check passes with the
//! right settings (exit 0); each misconfiguration, one test each, is named on its check's line
//! as a failure with its fix (exit 1) or a warning (exit 0); `--json` gives the same findings
//! as one document, and the client secret is never printed.

use std::process::Output;

use serde_json::Value;

use codex_cloud_tests::fake_op::{CLIENT_SECRET, FakeOp};
use codex_cloud_tests::process::{TempDir, backend_command};

use super::binary::{stderr, stdout};
use super::binary_oidc::oidc_env;

async fn oidc_check(env: Vec<(String, String)>, json: bool) -> Output {
    let dir = TempDir::new();
    tokio::task::spawn_blocking(move || {
        let mut command = backend_command(&dir);
        command.envs(env).arg("oidc-check");
        if json {
            command.arg("--json");
        }
        command.output().expect("run oidc-check")
    })
    .await
    .expect("the check ran")
}

fn env_of(op: &FakeOp, secret: &str) -> Vec<(String, String)> {
    oidc_env(op, secret).iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The (outcome, check) of every printed line.
fn lines(output: &Output) -> Vec<(String, String, String)> {
    stdout(output)
        .lines()
        .map(|line| {
            let mut parts = line.split_whitespace();
            let outcome = parts.next().unwrap_or_default().to_owned();
            let check = parts.next().unwrap_or_default().to_owned();
            (outcome, check, line.to_owned())
        })
        .collect()
}

fn assert_secret_not_printed(output: &Output, secret: &str) {
    assert!(!stdout(output).contains(secret) && !stderr(output).contains(secret), "secret printed");
}

#[tokio::test]
async fn with_the_right_settings_every_check_passes() {
    let op = FakeOp::start().await;
    let output = oidc_check(env_of(&op, CLIENT_SECRET), false).await;
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    let lines = lines(&output);
    for check in [
        "variables",
        "redirect_uri",
        "discovery",
        "clock",
        "issuer",
        "https",
        "response_type",
        "pkce",
        "client_auth",
        "id_token_alg",
        "jwks",
        "client_credentials",
    ] {
        assert!(lines.iter().any(|(_, c, _)| c == check), "no {check} line:\n{}", stdout(&output));
    }
    assert!(lines.iter().all(|(outcome, _, line)| outcome != "FAIL" || line.is_empty()));
    let credentials = lines.iter().find(|(_, c, _)| c == "client_credentials").expect("line");
    assert_eq!(credentials.0, "ok", "{}", credentials.2);
    assert!(credentials.2.contains("invalid_grant"));
    let https = lines.iter().filter(|(_, c, _)| c == "https");
    assert!(https.clone().all(|(o, _, _)| o == "warn"), "loopback http is allowed, with a warning");
    assert_secret_not_printed(&output, CLIENT_SECRET);
}

#[tokio::test]
async fn a_wrong_client_secret_fails_naming_the_variables_to_fix() {
    let op = FakeOp::start().await;
    let wrong = "not-the-secret-7f3a9c";
    let output = oidc_check(env_of(&op, wrong), false).await;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let lines = lines(&output);
    let credentials = lines.iter().find(|(_, c, _)| c == "client_credentials").expect("line");
    assert_eq!(credentials.0, "FAIL");
    assert!(credentials.2.contains("invalid_client"), "{}", credentials.2);
    assert!(credentials.2.contains("CODEX_OIDC_CLIENT_SECRET"), "{}", credentials.2);
    assert_secret_not_printed(&output, wrong);
}

#[tokio::test]
async fn an_issuer_with_a_trailing_slash_is_named_as_the_difference() {
    let op = FakeOp::start().await;
    let mut env = env_of(&op, CLIENT_SECRET);
    env[0].1 = format!("{}/", op.issuer);
    let output = oidc_check(env, false).await;
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    let issuer = lines.iter().find(|(_, c, _)| c == "issuer").expect("an issuer line");
    assert_eq!(issuer.0, "FAIL");
    assert!(issuer.2.contains("trailing slash"), "{}", issuer.2);
    let credentials = lines.iter().find(|(_, c, _)| c == "client_credentials").expect("line");
    assert!(credentials.2.contains("not tried"), "{}", credentials.2);
    assert!(op.token_requests().is_empty(), "the secret goes nowhere serve would not send it");
}

#[tokio::test]
async fn an_issuer_that_differs_in_the_case_of_its_host_is_named_so() {
    let op = FakeOp::start().await;
    let port = url::Url::parse(&op.issuer).expect("URL").port().expect("a port");
    op.set_discovery_issuer(&format!("http://LOCALHOST:{port}"));
    let mut env = env_of(&op, CLIENT_SECRET);
    env[0].1 = format!("http://localhost:{port}");
    let output = oidc_check(env, false).await;
    assert_eq!(output.status.code(), Some(1));
    let lines = lines(&output);
    let issuer = lines.iter().find(|(_, c, _)| c == "issuer").expect("an issuer line");
    assert!(issuer.2.contains("the case of the host differs"), "{}", issuer.2);
}

#[tokio::test]
async fn json_gives_the_same_findings_as_one_document() {
    let op = FakeOp::start().await;
    let output = oidc_check(env_of(&op, "wrong-secret-123456"), true).await;
    assert_eq!(output.status.code(), Some(1));
    let document: Value = serde_json::from_str(&stdout(&output)).expect("one JSON document");
    assert_eq!(document["ok"], false);
    let checks = document["checks"].as_array().expect("checks");
    let failed: Vec<&Value> = checks.iter().filter(|c| c["outcome"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{document}");
    assert_eq!(failed[0]["check"], "client_credentials");
    assert!(failed[0]["fix"].as_str().is_some_and(|f| f.contains("CODEX_OIDC_CLIENT_ID")));
    assert!(checks.iter().any(|c| c["check"] == "discovery" && c["outcome"] == "ok"));
}

#[tokio::test]
async fn without_the_variables_the_first_check_fails() {
    let none = oidc_check(Vec::new(), false).await;
    assert_eq!(none.status.code(), Some(1));
    assert!(stdout(&none).starts_with("FAIL  variables"), "{}", stdout(&none));
    let partial = vec![("CODEX_OIDC_ISSUER".to_owned(), "https://op.example.com".to_owned())];
    let partial = oidc_check(partial, true).await;
    assert_eq!(partial.status.code(), Some(1));
    let document: Value = serde_json::from_str(&stdout(&partial)).expect("JSON");
    assert_eq!(document["checks"][0]["check"], "variables");
    assert!(
        document["checks"][0]["seen"].as_str().is_some_and(|s| s.contains("CODEX_OIDC_CLIENT_ID"))
    );
}

/// Runs `oidc-check` with `env` (the provider prepared and running): the output, and the line
/// of `check` with outcome `outcome` (which must be there).
async fn check_line(env: Vec<(String, String)>, check: &str, outcome: &str) -> (Output, String) {
    let output = oidc_check(env, false).await;
    let found = lines(&output)
        .into_iter()
        .find(|(o, c, _)| c == check && o == outcome)
        .map(|(_, _, line)| line)
        .unwrap_or_else(|| panic!("no {outcome} {check} line:\n{}", stdout(&output)));
    assert_secret_not_printed(&output, CLIENT_SECRET);
    (output, found)
}

/// A misconfiguration that fails: exit status 1 and this line.
async fn fails(env: Vec<(String, String)>, check: &str, needle: &str) {
    let (output, line) = check_line(env, check, "FAIL").await;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(line.contains(needle), "{line}");
    assert!(
        line.contains("fix:") || check == "jwks" || check == "https",
        "says how to fix: {line}"
    );
}

/// A doubtful setting that warns: exit status 0 and this line.
async fn warns(env: Vec<(String, String)>, check: &str, needle: &str) {
    let (output, line) = check_line(env, check, "warn").await;
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(line.contains(needle), "{line}");
}

fn with(op: &FakeOp, name: &str, value: &str) -> Vec<(String, String)> {
    let mut env = env_of(op, CLIENT_SECRET);
    env.retain(|(k, _)| k != name);
    env.push((name.to_owned(), value.to_owned()));
    env
}

#[tokio::test]
async fn a_redirect_uri_with_a_fragment_or_not_absolute_fails_as_a_variable() {
    let op = FakeOp::start().await;
    let fragment = with(&op, "CODEX_OIDC_REDIRECT_URI", "https://codex.example.com/cb#x");
    fails(fragment, "variables", "CODEX_OIDC_REDIRECT_URI").await;
    let relative = with(&op, "CODEX_OIDC_REDIRECT_URI", "/auth/oidc/callback");
    fails(relative, "variables", "CODEX_OIDC_REDIRECT_URI").await;
}

#[tokio::test]
async fn a_plain_http_redirect_uri_off_this_machine_fails() {
    let op = FakeOp::start().await;
    let env = with(&op, "CODEX_OIDC_REDIRECT_URI", "http://codex.example.com/auth/oidc/callback");
    fails(env, "redirect_uri", "is not https").await;
}

#[tokio::test]
async fn an_unreachable_issuer_fails_discovery() {
    let op = FakeOp::start().await;
    let port = codex_cloud_tests::process::free_port();
    let env = with(&op, "CODEX_OIDC_ISSUER", &format!("http://127.0.0.1:{port}"));
    fails(env, "discovery", "could not be reached").await;
}

#[tokio::test]
async fn a_discovery_error_status_fails() {
    let op = FakeOp::start().await;
    op.set_down(true);
    fails(env_of(&op, CLIENT_SECRET), "discovery", "answered 503").await;
}

#[tokio::test]
async fn a_discovery_document_that_is_not_json_fails() {
    let op = FakeOp::start().await;
    op.set_discovery_body("<html>a login page</html>");
    fails(env_of(&op, CLIENT_SECRET), "discovery", "not with JSON").await;
}

#[tokio::test]
async fn a_plain_http_endpoint_off_this_machine_fails() {
    let op = FakeOp::start().await;
    op.set_discovery_field("token_endpoint", Some("http://op.example.com/token".into()));
    fails(env_of(&op, CLIENT_SECRET), "https", "token_endpoint").await;
}

#[tokio::test]
async fn a_document_without_an_authorization_endpoint_fails() {
    let op = FakeOp::start().await;
    op.set_discovery_field("authorization_endpoint", None);
    fails(env_of(&op, CLIENT_SECRET), "https", "no authorization_endpoint").await;
}

#[tokio::test]
async fn a_provider_without_the_code_flow_fails() {
    let op = FakeOp::start().await;
    op.set_discovery_field("response_types_supported", Some(serde_json::json!(["id_token"])));
    fails(env_of(&op, CLIENT_SECRET), "response_type", "id_token").await;
}

#[tokio::test]
async fn pkce_without_s256_or_not_advertised_warns() {
    let op = FakeOp::start().await;
    op.set_discovery_field("code_challenge_methods_supported", Some(serde_json::json!(["plain"])));
    warns(env_of(&op, CLIENT_SECRET), "pkce", "without S256").await;
    let op = FakeOp::start().await;
    op.set_discovery_field("code_challenge_methods_supported", None);
    warns(env_of(&op, CLIENT_SECRET), "pkce", "not advertised").await;
}

#[tokio::test]
async fn a_provider_without_client_secret_basic_fails() {
    let op = FakeOp::start().await;
    let methods = serde_json::json!(["private_key_jwt"]);
    op.set_discovery_field("token_endpoint_auth_methods_supported", Some(methods));
    fails(env_of(&op, CLIENT_SECRET), "client_auth", "private_key_jwt").await;
}

#[tokio::test]
async fn a_provider_that_signs_only_with_es256_fails_naming_it() {
    let op = FakeOp::start().await;
    let algs = serde_json::json!(["ES256", "EdDSA"]);
    op.set_discovery_field("id_token_signing_alg_values_supported", Some(algs));
    fails(env_of(&op, CLIENT_SECRET), "id_token_alg", "[\"ES256\", \"EdDSA\"]").await;
}

#[tokio::test]
async fn a_jwks_error_status_fails() {
    let op = FakeOp::start().await;
    op.set_jwks_mode(codex_cloud_tests::fake_op::JwksMode::Status(500));
    fails(env_of(&op, CLIENT_SECRET), "jwks", "answered 500").await;
}

#[tokio::test]
async fn a_jwks_without_a_usable_rsa_key_fails() {
    let op = FakeOp::start().await;
    op.set_jwk_alg("ES256");
    fails(env_of(&op, CLIENT_SECRET), "jwks", "none a usable RSA signing key").await;
}

#[tokio::test]
async fn rsa_keys_without_kid_warn() {
    let op = FakeOp::start().await;
    op.set_jwks_mode(codex_cloud_tests::fake_op::JwksMode::SingleRsaNoKid);
    warns(env_of(&op, CLIENT_SECRET), "jwks", "1 of them have no kid").await;
}

#[tokio::test]
async fn a_provider_clock_off_by_more_than_30_seconds_warns() {
    let op = FakeOp::start().await;
    op.set_date_offset(120);
    warns(env_of(&op, CLIENT_SECRET), "clock", "+12").await;
}
