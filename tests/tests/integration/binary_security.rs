//! Account security through the real binary over real sockets: per-address throttling and
//! `X-Forwarded-For` from trusted proxies, `set-password`, and the settings that govern them.

use serde_json::json;

use codex_cloud_tests::process::{Server, TempDir, http_client};

use super::binary::{PASSWORD, assert_failure_mentioning, printed_id, run};

async fn login(
    server: &Server,
    email: &str,
    password: &str,
    forwarded: Option<&str>,
) -> (u16, Option<String>) {
    let mut request = http_client()
        .post(server.url("/auth/login"))
        .json(&json!({ "email": email, "password": password }));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    let response = request.send().await.expect("login");
    let retry_after =
        response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status().as_u16(), retry_after)
}

#[tokio::test]
async fn failures_from_one_client_address_are_counted_across_accounts_behind_a_trusted_proxy() {
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let env = [
        ("CODEX_LOGIN_THROTTLE_ADDRESS_FAILURES", "3"),
        ("CODEX_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8"),
    ];
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_healthy(&http_client()).await;
    // The right-most address that is not a trusted proxy is the client.
    let attacker = Some("203.0.113.7, 10.1.2.3");
    for n in 0..3 {
        let (status, _) =
            login(&server, &format!("victim{n}@example.com"), "wrong", attacker).await;
        assert_eq!(status, 401);
    }

    let (status, retry_after) = login(&server, "admin@example.com", PASSWORD, attacker).await;
    assert_eq!(status, 429, "the address is throttled, whatever the account");
    let seconds: u64 = retry_after.expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=900).contains(&seconds), "{seconds}");
    let (status, _) = login(&server, "admin@example.com", PASSWORD, Some("198.51.100.2")).await;
    assert_eq!(status, 200, "another address is not affected");
    let (status, _) = login(&server, "admin@example.com", PASSWORD, Some("203.0.113.7")).await;
    assert_eq!(status, 429, "the same client through the proxy directly");
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let mut server =
        Server::start_with_env(&dir, &[("CODEX_LOGIN_THROTTLE_ADDRESS_FAILURES", "2")]);
    server.wait_until_healthy(&http_client()).await;
    for n in 0..2 {
        let forged = format!("192.0.2.{n}");
        let (status, _) = login(&server, "someone@example.com", "wrong", Some(&forged)).await;
        assert_eq!(status, 401);
    }
    let (status, _) = login(&server, "admin@example.com", PASSWORD, Some("192.0.2.99")).await;
    assert_eq!(status, 429, "the socket peer is the client; a forged header changes nothing");
}

#[test]
fn set_password_enforces_the_policy_and_the_new_password_works() {
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));

    let weak = run(&dir, &["set-password", "admin@example.com", "password1234"]);
    assert_failure_mentioning(&weak, "most common passwords");
    let unknown = run(&dir, &["set-password", "nobody@example.com", "a good new passphrase"]);
    assert_failure_mentioning(&unknown, "no such user");
    let set = run(&dir, &["set-password", "admin@example.com", "a good new passphrase"]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
}

#[test]
fn security_settings_are_validated_naming_the_variable() {
    for (name, value) in [
        ("CODEX_PASSWORD_MIN_LENGTH", "7"),
        ("CODEX_TRUSTED_PROXIES", "not-a-network"),
        ("CODEX_LOGIN_THROTTLE_DELAY", "0"),
        ("CODEX_LOGIN_THROTTLE_MAX_DELAY", "1"),
        ("CODEX_LOGIN_THROTTLE_ADDRESS_FAILURES", "0"),
        ("CODEX_SESSION_IDLE_TIMEOUT", "0"),
        ("CODEX_SESSION_MAX_AGE", "abc"),
        ("CODEX_AUDIT_RETENTION_DAYS", "0"),
    ] {
        let dir = TempDir::new();
        let output = codex_cloud_tests::process::backend_command(&dir)
            .arg("migrate")
            .env(name, value)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{name}={value}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(name), "{name}");
    }
}
