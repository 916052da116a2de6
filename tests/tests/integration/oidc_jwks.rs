//! The provider key cache (CODEX_OIDC_JWKS_CACHE_TTL / _REFRESH): counted JWKS requests while the
//! clock is moved, never slept.

use std::sync::Arc;
use std::time::Duration;

use codex_cloud_tests::fake_op::JwksMode;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::{CacheSettings, DEFAULT_CACHE, OidcHarness};

fn seconds(s: i64) -> time::Duration {
    time::Duration::seconds(s)
}

async fn linked() -> OidcHarness {
    let h = OidcHarness::start().await;
    h.linked_user("keys@example.com", "subject-1").await;
    h
}

#[track_caller]
fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn keys_are_fetched_once_and_reused_until_the_refresh_interval() {
    let h = linked().await;
    assert_eq!(h.op.jwks_requests(), 0, "no fetch before the first login");
    assert_ok(&h.login().await);
    h.app.advance(seconds(299));
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 1);
}

#[tokio::test]
async fn a_burst_of_callbacks_on_a_cold_cache_causes_one_fetch() {
    let h = Arc::new(linked().await);
    let mut pending = Vec::new();
    for _ in 0..8 {
        let begun = h.begin(None).await;
        let (code, state) = h.op.approve(&begun.authorization_url);
        pending.push((code, state, begun.state_cookie));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (code, state, cookie) in pending {
        let h = h.clone();
        tasks.spawn(async move {
            let response = h.callback(&[("code", &code), ("state", &state)], Some(&cookie)).await;
            Reply::read(response).await.status.as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(h.op.jwks_requests(), 1);
}

#[tokio::test]
async fn after_a_failed_refresh_the_provider_is_not_asked_again_for_thirty_seconds() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.set_jwks_mode(JwksMode::Status(500));
    h.app.advance(seconds(301));
    assert_ok(&h.login().await);
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2, "no retry right after a failed refresh");
    h.app.advance(seconds(30));
    h.op.set_jwks_mode(JwksMode::Normal);
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 3);
}

#[tokio::test]
async fn keys_older_than_the_refresh_interval_are_refreshed_on_next_use() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.app.advance(seconds(301));
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2);
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2, "the refreshed keys are fresh again");
}

#[tokio::test]
async fn a_failed_refresh_keeps_serving_the_cached_keys_until_the_ttl() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.set_jwks_mode(JwksMode::Status(500));
    h.app.advance(seconds(301));
    assert_ok(&h.login().await);
    assert_eq!(h.app.backend.provider_key_stats().expect("OpenID Connect is on").failures, 1);
    h.app.advance(seconds(3600 - 301 - 1));
    assert_ok(&h.login().await);
}

#[tokio::test]
async fn past_the_ttl_without_fresh_keys_logins_fail_closed_with_503() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.set_jwks_mode(JwksMode::Status(500));
    h.app.advance(seconds(3601));
    h.login().await.assert_problem(503, "provider_keys_unavailable");
}

#[tokio::test]
async fn a_failed_fetch_is_never_cached_as_keys() {
    let h = linked().await;
    h.op.set_jwks_mode(JwksMode::Status(503));
    h.login().await.assert_problem(503, "provider_keys_unavailable");
    h.op.set_jwks_mode(JwksMode::Normal);
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_at_once_on_its_first_use() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.rotate_key();
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_are_spaced_by_a_cooldown() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.rotate_key();
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2);
    h.op.rotate_key();
    h.login().await.assert_problem(401, "id_token_rejected");
    assert_eq!(
        h.op.jwks_requests(),
        2,
        "a second unknown kid within the cooldown is not refetched"
    );
    h.app.advance(seconds(11));
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 3);
}

#[tokio::test]
async fn the_first_unknown_kid_after_an_ordinary_fetch_is_refetched_however_recent() {
    let cache = CacheSettings { refresh: Duration::from_secs(5), ..DEFAULT_CACHE };
    let h = OidcHarness::start_with_cache(cache).await;
    h.linked_user("keys@example.com", "subject-1").await;
    assert_ok(&h.login().await); // ordinary fetch (cold)
    h.op.rotate_key();
    assert_ok(&h.login().await); // unknown-kid refetch
    h.app.advance(seconds(6));
    assert_ok(&h.login().await); // ordinary fetch (refresh), within the cooldown
    assert_eq!(h.op.jwks_requests(), 3);
    h.op.rotate_key();
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 4);
}

#[tokio::test]
async fn keys_moved_to_a_new_jwks_uri_are_found_through_discovery_without_a_restart() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.set_jwks_path("/moved/keys.json");
    h.op.rotate_key();
    assert_ok(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 2, "the old address once, then one request at the new one");
}

#[tokio::test]
async fn a_discovery_document_that_turns_untrusted_stops_logins_at_the_next_refresh() {
    let h = linked().await;
    assert_ok(&h.login().await);
    h.op.set_discovery_issuer("https://evil.example");
    h.app.advance(seconds(301));
    // The refresh that rediscovers happens at the callback; the next login is not even begun.
    let _ = h.login().await;
    h.begin_reply(None).await.assert_problem(503, "provider_misconfigured");
}
