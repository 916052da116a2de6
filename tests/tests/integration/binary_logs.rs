//! Request ids and structured logs through the real binary, with `CODEX_LOG_FORMAT=json`: every
//! request's lines carry its id (a valid `X-Request-Id` is kept, else a new one is returned), the
//! route template and, once known, the user id; and a whole session of password login,
//! refresh, provider login, admin call and logout leaves no secret in the log.

use base64::Engine as _;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use codex_cloud_tests::fake_op::{CLIENT_SECRET, FakeOp};
use codex_cloud_tests::process::{Server, TempDir, http_client};

use super::binary::{PASSWORD, printed_id, run};
use super::binary_oidc::{begin_login, oidc_env};

/// The log's JSON lines.
fn lines(server: &Server) -> Vec<Value> {
    let log = server.log();
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

/// The access-log line of the request with this id.
fn access_line(server: &Server, id: &str) -> Value {
    let found = lines(server)
        .into_iter()
        .find(|l| l["fields"]["message"] == "request" && l["span"]["request_id"] == id);
    found.unwrap_or_else(|| panic!("no access line for {id}:\n{}", server.log()))
}

#[tokio::test]
async fn every_request_is_logged_with_its_id_route_and_user_and_no_secret_is_logged() {
    let op = FakeOp::start().await;
    let dir = TempDir::new();
    let admin = printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let link = ["link-identity", "--issuer", &op.issuer, "--subject", "subject-1"];
    printed_id(&run(&dir, &[&link[..], &["--user-email", "admin@example.com"]].concat()));
    let mut env = oidc_env(&op, CLIENT_SECRET).to_vec();
    env.push(("CODEX_LOG_FORMAT", "json"));
    env.push(("RUST_LOG", "debug"));
    let mut server = Server::start_with_env(&dir, &env);
    let client = http_client();
    server.wait_until_ready(&client).await;

    // Password login, with a request id of the client's own.
    let login = client
        .post(server.url("/auth/login"))
        .header("x-request-id", "client-chosen.id:1")
        .json(&json!({ "email": "admin@example.com", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.headers()["x-request-id"], "client-chosen.id:1");
    let body: Value = login.json().await.expect("JSON");
    let refresh_token = body["refresh_token"].as_str().expect("refresh token").to_owned();
    let first_token = body["access_token"].as_str().expect("access token").to_owned();

    let refreshed = client
        .post(server.url("/auth/refresh"))
        .header("x-request-id", "has spaces and \u{e9}")
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .expect("refresh");
    let replaced = refreshed.headers()["x-request-id"].to_str().expect("ASCII").to_owned();
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "an invalid id is replaced: {replaced}");
    let body: Value = refreshed.json().await.expect("JSON");
    let new_refresh_token = body["refresh_token"].as_str().expect("refresh token").to_owned();

    // A provider login, as a browser makes it.
    let (location, set_cookie) = begin_login(&server).await;
    let state_cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    let (code, state) = op.approve(&location);
    let callback = client
        .get(server.url("/auth/oidc/callback"))
        .query(&[("code", &code), ("state", &state)])
        .header(COOKIE, &state_cookie)
        .send()
        .await
        .expect("callback");
    assert_eq!(callback.status(), 200);
    let session_cookies: Vec<String> = callback
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .collect();
    let body: Value = callback.json().await.expect("JSON");
    let oidc_token = body["access_token"].as_str().expect("access token").to_owned();

    // An admin call, then logout.
    let users = client
        .get(server.url(&format!("/admin/users/{admin}")))
        .bearer_auth(&oidc_token)
        .send()
        .await
        .expect("admin call");
    assert_eq!(users.status(), 200);
    let admin_id = users.headers()["x-request-id"].to_str().expect("ASCII").to_owned();
    let logout = client.post(server.url("/auth/logout")).bearer_auth(&oidc_token).send().await;
    assert_eq!(logout.expect("logout").status(), 204);
    // The access line is written as the answer leaves: give the last one a moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let line = access_line(&server, "client-chosen.id:1");
    assert_eq!(line["span"]["route"], "/auth/login");
    assert_eq!(line["span"]["method"], "POST");
    assert_eq!(line["fields"]["status"], 200);
    assert!(line["fields"]["elapsed_ms"].as_f64().is_some());
    assert_eq!(access_line(&server, &replaced)["span"]["route"], "/auth/refresh");
    let line = access_line(&server, &admin_id);
    assert_eq!(line["span"]["route"], "/admin/users/{user_id}", "a template, not the path");
    assert_eq!(line["span"]["user_id"], admin.to_string(), "the caller, once known");
    // Every line the HTTP layer writes belongs to a request.
    let http_lines: Vec<Value> = lines(&server)
        .into_iter()
        .filter(|l| {
            l["target"].as_str().is_some_and(|t| t.starts_with("codex_cloud_backend::http"))
        })
        .collect();
    assert!(http_lines.len() >= 6, "{http_lines:?}");
    for line in &http_lines {
        assert!(line["span"]["request_id"].is_string(), "a line without its request: {line}");
    }
    let line = access_line(&server, "client-chosen.id:1");
    assert_eq!(line["span"]["user_id"], admin.to_string(), "a password login names its user");

    let pkce_verifiers: Vec<String> =
        op.token_requests().iter().filter_map(|r| r.form.get("code_verifier").cloned()).collect();
    assert_eq!(pkce_verifiers.len(), 1);
    let log = server.log();
    let basic_credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{CLIENT_SECRET}", codex_cloud_tests::fake_op::CLIENT_ID));
    let mut secrets = vec![
        ("password", PASSWORD.to_owned()),
        ("client secret", CLIENT_SECRET.to_owned()),
        ("client_secret_basic header", basic_credentials),
        ("authorization code", code),
        ("state", state),
        ("PKCE verifier", pkce_verifiers[0].clone()),
        ("refresh token", refresh_token),
        ("rotated refresh token", new_refresh_token),
        ("access token", first_token),
        ("provider-login access token", oidc_token),
        ("state cookie", state_cookie.split('=').nth(1).unwrap_or_default().to_owned()),
    ];
    for cookie in session_cookies {
        let value = cookie.split('=').nth(1).unwrap_or_default().to_owned();
        if !value.is_empty() {
            secrets.push(("cookie", value));
        }
    }
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what} is too short to search for: {secret:?}");
        assert!(!log.contains(&secret), "the {what} is in the log:\n{log}");
    }
}
