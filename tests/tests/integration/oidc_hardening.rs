//! Provider logins at the edges: ID tokens issued too long ago, the order of the RFC 9207 issuer
//! check and a provider error, and `Secure` cookies.

use codex_cloud_tests::StoreBackend;
use codex_cloud_tests::fake_op::IdTokenFault;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::{HarnessOptions, OidcHarness, set_cookie};

/// The lower-cased attributes of a `Set-Cookie` value, after its `name=value`.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

#[track_caller]
fn assert_secure_at_root(set_cookie: &str) {
    let attributes = attributes(set_cookie);
    for expected in ["secure", "httponly", "path=/", "samesite=lax"] {
        assert!(attributes.iter().any(|a| a == expected), "{expected} missing: {set_cookie}");
    }
}

#[tokio::test]
async fn an_id_token_issued_more_than_an_hour_ago_is_401_though_not_expired() {
    let h = OidcHarness::start().await;
    h.linked_user("old@example.com", "subject-1").await;

    h.op.set_id_token_fault(IdTokenFault::IatSecondsAgo(3601));
    let old = h.login().await;
    h.op.set_id_token_fault(IdTokenFault::IatSecondsAgo(3000));
    let recent = h.login().await;

    let problem = old.assert_problem(401, "id_token_rejected");
    assert!(problem.get("access_token").is_none(), "{problem}");
    assert_eq!(recent.status, 200, "an ID token from 50 minutes ago is fine: {}", recent.text());
    assert_eq!(h.op.jwks_requests(), 1, "an old token is no reason to refetch keys");
}

#[tokio::test]
async fn a_provider_error_with_a_foreign_iss_is_400_issuer_mismatch() {
    let h = OidcHarness::start().await;
    h.linked_user("mixup@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (_code, state) = h.op.approve(&begun.authorization_url);
    let query = [
        ("error", "access_denied"),
        ("error_description", "the user said no"),
        ("state", state.as_str()),
        ("iss", "https://attacker.example"),
    ];

    let reply = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;

    let problem = reply.assert_problem(400, "issuer_mismatch");
    assert!(problem.get("provider_error").is_none(), "the error of a foreign issuer: {problem}");
    assert!(h.op.token_requests().is_empty());
}

#[tokio::test]
async fn a_provider_error_with_the_configured_iss_is_400_provider_denied() {
    let h = OidcHarness::start().await;
    let begun = h.begin(None).await;
    let (_code, state) = h.op.approve(&begun.authorization_url);
    let issuer = h.op.issuer.clone();
    let query = [("error", "access_denied"), ("state", state.as_str()), ("iss", issuer.as_str())];

    let reply = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;

    let problem = reply.assert_problem(400, "provider_denied");
    assert_eq!(problem["provider_error"], "access_denied");
}

#[tokio::test]
async fn with_an_https_redirect_uri_the_state_and_session_cookies_are_secure_at_the_root_path() {
    let options = HarnessOptions { https_redirect_uri: true, ..HarnessOptions::default() };
    let h = OidcHarness::start_options(options, |_| {}).await;
    h.linked_user("secure@example.com", "subject-1").await;

    let begin = h.begin_reply(Some("/app")).await;
    let state_cookie =
        set_cookie(&begin, "__Host-codex_oidc_state").expect("state cookie").to_owned();
    let (code, state) = h.op.approve(begin.header("location").expect("location"));
    let pair = state_cookie.split(';').next().expect("name=value");
    let value = pair.strip_prefix("__Host-codex_oidc_state=").expect("value");
    let query = [("code", code.as_str()), ("state", state.as_str())];
    let callback = Reply::read(h.callback(&query, Some(value)).await).await;

    assert_secure_at_root(&state_cookie);
    assert_eq!(callback.status, 303, "{}", callback.text());
    let session = set_cookie(&callback, "__Host-codex_session").expect("session cookie");
    assert_secure_at_root(session);
    let cleared =
        set_cookie(&callback, "__Host-codex_oidc_state").expect("the state cookie is cleared");
    assert!(attributes(cleared).iter().any(|a| a == "secure"), "{cleared}");
}

#[tokio::test]
async fn without_secure_cookies_the_state_cookie_is_still_at_the_root_path() {
    let h = OidcHarness::start_with(StoreBackend::Memory, |_| {}).await;

    let begin = h.begin_reply(None).await;

    let cookie = set_cookie(&begin, "codex_oidc_state").expect("state cookie");
    let attributes = attributes(cookie);
    assert!(attributes.iter().any(|a| a == "path=/"), "{cookie}");
    assert!(!attributes.iter().any(|a| a == "secure"), "{cookie}");
}

#[tokio::test]
async fn a_client_with_too_many_pending_logins_gets_429_while_other_clients_log_in() {
    use codex_cloud_core::domain::{Issuer, PendingLogin, SecretString, StateDigest};
    use codex_cloud_core::ports::PendingLoginLimit;
    use codex_cloud_core::service::MAX_PENDING_LOGINS_PER_CLIENT;

    let h = OidcHarness::start().await;
    let store = h.app.store.store();
    let issuer = Issuer::new(h.op.issuer.clone()).unwrap();
    let fill = |client_key: &str, count: u64| {
        let (store, issuer, client_key) = (store.clone(), issuer.clone(), client_key.to_owned());
        let now = h.app.now();
        let room = PendingLoginLimit { since: now, at_most: count + 1 };
        async move {
            for i in 0..count {
                let login = PendingLogin {
                    state: StateDigest::of(&format!("{client_key}/{i}")),
                    nonce: SecretString::new("n"),
                    pkce_verifier: SecretString::new("v"),
                    issuer: issuer.clone(),
                    return_to: None,
                    created_at: now,
                    client_key: client_key.clone(),
                    purpose: codex_cloud_core::domain::LoginPurpose::Login,
                };
                store.save_pending_login(&login, room).await.unwrap();
            }
        }
    };
    // Another client's flood, ten times over its share, stops nobody else.
    fill("address:203.0.113.7", 10 * MAX_PENDING_LOGINS_PER_CLIENT).await;
    assert_eq!(h.begin_reply(None).await.status, 302);

    // This harness's client (no socket address) reaching its own share is refused.
    fill("", MAX_PENDING_LOGINS_PER_CLIENT - 1).await;
    let reply = h.begin_reply(None).await;
    reply.assert_problem(429, "too_many_pending_logins");
    assert_eq!(reply.header("retry-after"), Some("60"));
    assert!(reply.header("location").is_none());
    assert!(reply.header("set-cookie").is_none(), "no state cookie");
    // They expire after ten minutes, and logins can begin again.
    h.app.advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    assert_eq!(h.begin_reply(None).await.status, 302);
}

#[tokio::test]
async fn over_https_the_plain_cookie_name_is_refused_and_hsts_is_sent() {
    let options = HarnessOptions { https_redirect_uri: true, ..HarnessOptions::default() };
    let h = OidcHarness::start_options(options, |_| {}).await;
    let user = h.app.create_user("ada@example.com", codex_cloud_tests::app::PASSWORD).await;
    let (cookie, _) = h.app.cookie_session_named(&user, "__Host-codex_session").await;

    let plain = h.app.client.get("/auth/me").header("cookie", format!("codex_session={cookie}"));
    let host =
        h.app.client.get("/auth/me").header("cookie", format!("__Host-codex_session={cookie}"));
    let plain = Reply::read(plain.send().await).await;
    let host = Reply::read(host.send().await).await;

    plain.assert_problem(401, "invalid_token");
    assert_eq!(host.status, 200, "{}", host.text());
    assert_eq!(host.header("strict-transport-security"), Some("max-age=31536000"));
}
