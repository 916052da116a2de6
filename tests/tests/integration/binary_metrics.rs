//! `/metrics` through the real binary: served on `CODEX_METRICS_BIND` only (never on the API's
//! listener), in the Prometheus text format, with requests by route template, method and status
//! (and latency histograms), logins by method and outcome, provider discovery and key fetches,
//! the password-hash queue and the database pool; the counters move with the traffic.

use serde_json::json;

use codex_cloud_tests::fake_op::{CLIENT_SECRET, FakeOp};
use codex_cloud_tests::process::{Server, TempDir, backend_command, free_port, http_client};

use super::binary::{PASSWORD, assert_failure_mentioning, printed_id, run};
use super::binary_oidc::{browser_login, oidc_env};

/// The value of the sample named `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

async fn scrape(port: u16) -> String {
    let response = http_client().get(format!("http://127.0.0.1:{port}/metrics")).send().await;
    let response = response.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ASCII").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.expect("text")
}

async fn password_login(server: &Server, password: &str) -> u16 {
    let body = json!({ "email": "admin@example.com", "password": password });
    let response = http_client().post(server.url("/auth/login")).json(&body).send().await;
    response.expect("login").status().as_u16()
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_move_with_the_traffic() {
    let op = FakeOp::start().await;
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let link = ["link-identity", "--issuer", &op.issuer, "--subject", "subject-1"];
    printed_id(&run(&dir, &[&link[..], &["--user-email", "admin@example.com"]].concat()));
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut env = oidc_env(&op, CLIENT_SECRET).to_vec();
    env.push(("CODEX_METRICS_BIND", &bind));
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_ready(&http_client()).await;

    assert_eq!(password_login(&server, PASSWORD).await, 200);
    assert_eq!(password_login(&server, "a wrong password").await, 401);
    let (status, body) = browser_login(&server, &op).await;
    assert_eq!(status, 200, "{body}");
    let on_api = http_client().get(server.url("/metrics")).send().await.expect("api");
    assert_eq!(on_api.status(), 404, "never on the API's listener");

    let text = scrape(port).await;
    let login_200 = ["route=\"/auth/login\"", "method=\"POST\"", "status=\"200\""];
    assert_eq!(sample(&text, "codex_http_requests_total", &login_200), Some(1.0), "{text}");
    let login_401 = ["route=\"/auth/login\"", "status=\"401\""];
    assert_eq!(sample(&text, "codex_http_requests_total", &login_401), Some(1.0));
    let buckets = ["route=\"/auth/login\"", "status=\"200\"", "le=\"+Inf\""];
    assert_eq!(sample(&text, "codex_http_request_duration_seconds_bucket", &buckets), Some(1.0));
    let password_ok = ["method=\"password\"", "outcome=\"success\""];
    assert_eq!(sample(&text, "codex_logins_total", &password_ok), Some(1.0));
    let refused = ["method=\"password\"", "outcome=\"invalid_credentials\""];
    assert_eq!(sample(&text, "codex_logins_total", &refused), Some(1.0));
    let oidc_ok = ["method=\"oidc\"", "outcome=\"success\""];
    assert_eq!(sample(&text, "codex_logins_total", &oidc_ok), Some(1.0));
    assert!(
        sample(&text, "codex_oidc_discovery_fetches_total", &["outcome=\"success\""]) >= Some(1.0)
    );
    assert!(sample(&text, "codex_oidc_jwks_fetches_total", &["outcome=\"success\""]) >= Some(1.0));
    assert_eq!(sample(&text, "codex_password_hash_queue_depth", &[]), Some(0.0));
    assert!(sample(&text, "codex_password_hash_wait_seconds_count", &[]) >= Some(2.0));
    assert!(sample(&text, "codex_db_pool_connections", &["state=\"idle\""]).is_some());
    assert!(sample(&text, "codex_db_pool_connections", &["state=\"in_use\""]).is_some());
    assert!(!text.contains("admin@example.com"), "no user data in labels");

    assert_eq!(password_login(&server, PASSWORD).await, 200);
    let text = scrape(port).await;
    assert_eq!(sample(&text, "codex_logins_total", &password_ok), Some(2.0), "counters move");
    assert_eq!(sample(&text, "codex_http_requests_total", &login_200), Some(2.0));
}

#[test]
fn a_malformed_metrics_address_stops_start_up_naming_the_variable() {
    let dir = TempDir::new();
    let output = backend_command(&dir)
        .env("CODEX_METRICS_BIND", "not an address")
        .arg("serve")
        .output()
        .expect("run");
    assert_failure_mentioning(&output, "CODEX_METRICS_BIND");
}
