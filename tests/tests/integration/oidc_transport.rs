//! The provider is reached over TLS only (plain http only on this machine, or with the
//! development flag), its RFC 9207 promise is held to, and its keys stay bound to their `alg`.

use codex_cloud_tests::fake_op::{FakeOp, IdTokenFault};
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::{HarnessOptions, OidcHarness};

#[tokio::test]
async fn an_http_jwks_uri_off_this_machine_refuses_every_login_before_any_key_request() {
    let h = OidcHarness::start_with(codex_cloud_tests::StoreBackend::Memory, |op| {
        op.set_jwks_uri("http://keys.example/jwks");
    })
    .await;

    let reply = h.begin_reply(None).await;

    reply.assert_problem(503, "provider_misconfigured");
    assert!(reply.header("location").is_none(), "nobody is sent to the provider");
    assert_eq!(h.op.jwks_requests(), 0);
}

#[tokio::test]
async fn the_development_flag_allows_plain_http_anywhere() {
    let options = HarnessOptions { allow_insecure_http: true, ..HarnessOptions::default() };
    let h =
        OidcHarness::start_options(options, |op| op.set_jwks_uri("http://keys.example/jwks")).await;

    let reply = h.begin_reply(None).await;

    assert_eq!(reply.status, 302, "{}", reply.text());
}

#[tokio::test]
async fn an_http_issuer_off_this_machine_is_refused_without_asking_it() {
    let op = FakeOp::start().await;
    let mut op_issuer_elsewhere = op;
    op_issuer_elsewhere.issuer = "http://op.example.com".to_owned();
    let h = OidcHarness::start_on(HarnessOptions::default(), op_issuer_elsewhere, |_| {}).await;

    let reply = h.begin_reply(None).await;

    reply.assert_problem(503, "provider_misconfigured");
    assert_eq!(h.op.discovery_requests(), 0);
}

#[tokio::test]
async fn a_provider_that_announces_iss_must_send_it() {
    let h = OidcHarness::start_with(codex_cloud_tests::StoreBackend::Memory, |op| {
        op.set_iss_parameter_supported(true);
    })
    .await;
    h.linked_user("ada@example.com", "subject-1").await;

    let without = h.login().await;
    without.assert_problem(400, "issuer_mismatch");

    let begun = h.begin(None).await;
    let (code, state) = h.op.approve(&begun.authorization_url);
    let query = [("code", code.as_str()), ("state", state.as_str()), ("iss", h.op.issuer.as_str())];
    let with = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    assert_eq!(with.status, 200, "{}", with.text());
}

#[tokio::test]
async fn a_key_bound_to_rs256_does_not_verify_an_rs384_token_and_is_not_refetched() {
    let h = OidcHarness::start_with(codex_cloud_tests::StoreBackend::Memory, |op| {
        op.set_jwk_alg("RS256");
    })
    .await;
    h.linked_user("ada@example.com", "subject-1").await;
    let ok = h.login().await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    h.op.set_id_token_fault(IdTokenFault::Rsa(jsonwebtoken::Algorithm::RS384));
    let reply = h.login().await;

    reply.assert_problem(401, "id_token_rejected");
    assert_eq!(h.op.jwks_requests(), 1, "an algorithm mismatch is no reason to fetch keys");
}

#[tokio::test]
async fn a_callback_without_iss_waits_for_discovery_before_deciding_it_may() {
    use codex_cloud_core::domain::{Issuer, PendingLogin, SecretString, StateDigest};
    use codex_cloud_core::ports::PendingLoginLimit;

    // Started while the provider was down: nothing is known of its RFC 9207 promise yet.
    let h = OidcHarness::start_with(codex_cloud_tests::StoreBackend::Memory, |op| {
        op.set_down(true);
        op.set_iss_parameter_supported(true);
    })
    .await;
    h.op.set_down(false);
    // A login begun before a restart, coming back now without `iss`.
    let login = PendingLogin {
        state: StateDigest::of("state-before-restart"),
        nonce: SecretString::new("nonce"),
        pkce_verifier: SecretString::new("verifier"),
        issuer: Issuer::new(h.op.issuer.clone()).unwrap(),
        return_to: None,
        created_at: h.app.now(),
        client_key: String::new(),
        purpose: codex_cloud_core::domain::LoginPurpose::Login,
    };
    let room = PendingLoginLimit { since: h.app.now(), at_most: 1 };
    h.app.store.store().save_pending_login(&login, room).await.unwrap();

    let query = [("code", "some-code"), ("state", "state-before-restart")];
    let reply = Reply::read(h.callback(&query, Some("state-before-restart")).await).await;

    reply.assert_problem(400, "issuer_mismatch");
    assert!(h.op.token_requests().is_empty(), "no code is redeemed");
}

#[tokio::test]
async fn a_provider_on_an_internal_pki_is_trusted_through_the_ca_file_and_only_so() {
    let (op, front) = FakeOp::start_tls().await;
    assert!(op.issuer.starts_with("https://127.0.0.1:"));
    let options = HarnessOptions { ca_pem: Some(front.ca_pem.clone()), ..Default::default() };
    let h = OidcHarness::start_on(options, op, |_| {}).await;
    h.linked_user("ada@example.com", "subject-1").await;

    let trusted = h.login().await;

    assert_eq!(trusted.status, 200, "{}", trusted.text());

    let (op, _front) = FakeOp::start_tls().await;
    let h = OidcHarness::start_on(HarnessOptions::default(), op, |_| {}).await;

    let untrusted = h.begin_reply(None).await;

    untrusted.assert_problem(503, "provider_unavailable");
    assert_eq!(h.op.discovery_requests(), 0, "no request got through the failed handshake");
}
