//! The backend's HTTP client for the provider, against a misbehaving `FakeOp`: redirects are not
//! followed, oversized bodies are refused, and a slow token endpoint is given up on.

use std::time::Duration;

use codex_cloud_tests::StoreBackend;
use codex_cloud_tests::fake_op::JwksMode;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::{HarnessOptions, OidcHarness};

#[tokio::test]
async fn a_discovery_redirect_is_not_followed_even_to_a_valid_document() {
    let h =
        OidcHarness::start_with(StoreBackend::Memory, |op| op.set_discovery_redirect(true)).await;
    h.linked_user("redirect@example.com", "subject-1").await;

    let reply = h.begin_reply(None).await;

    reply.assert_problem(503, "provider_unavailable");
    assert!(reply.header("location").is_none());
    assert!(h.op.discovery_requests() >= 1, "discovery was not even tried");
    assert_eq!(h.op.moved_discovery_requests(), 0, "the redirect was followed");
    let ready = Reply::read(h.app.client.get("/readyz").send().await).await;
    ready.assert_problem(503, "not_ready");
}

async fn assert_oversized_jwks_is_refused(chunked: bool) {
    let h = OidcHarness::start().await;
    h.linked_user("big@example.com", "subject-1").await;
    h.op.set_jwks_mode(JwksMode::Oversized { chunked });

    let reply = h.login().await;

    let problem = reply.assert_problem(503, "provider_keys_unavailable");
    assert!(problem.get("access_token").is_none(), "{problem}");
    assert_eq!(h.op.jwks_requests(), 1, "chunked: {chunked}");
    // The same keys in a body of ordinary size are accepted: it was the size.
    h.op.set_jwks_mode(JwksMode::Normal);
    let again = h.login().await;
    assert_eq!(again.status, 200, "chunked: {chunked}: {}", again.text());
}

#[tokio::test]
async fn a_jwks_larger_than_1_mib_is_refused_with_503_provider_keys_unavailable() {
    assert_oversized_jwks_is_refused(false).await;
}

#[tokio::test]
async fn a_jwks_larger_than_1_mib_without_content_length_is_refused_too() {
    assert_oversized_jwks_is_refused(true).await;
}

#[tokio::test]
async fn a_token_endpoint_slower_than_the_client_timeout_is_502_provider_error() {
    let options = HarnessOptions {
        outbound_timeouts: Some((Duration::from_secs(1), Duration::from_secs(1))),
        ..HarnessOptions::default()
    };
    let h = OidcHarness::start_options(options, |_| {}).await;
    h.linked_user("slow@example.com", "subject-1").await;
    h.op.delay_token_endpoint(Duration::from_secs(3));

    let reply = h.login().await;

    let problem = reply.assert_problem(502, "provider_error");
    assert!(problem.get("access_token").is_none(), "{problem}");
    assert_eq!(h.op.token_requests().len(), 1, "the code was sent once, not retried");
}
