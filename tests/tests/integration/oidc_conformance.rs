//! The OpenID Foundation RP conformance cases (code flow) and RFC 8725 algorithm confusion: every
//! misbehaviour of the provider is refused, and none of them (but an unknown key id) makes the
//! backend fetch the provider's keys again.

use jsonwebtoken::Algorithm;
use serde_json::json;

use codex_cloud_core::service::Admin;
use codex_cloud_tests::StoreBackend;
use codex_cloud_tests::fake_op::{CLIENT_ID, IdTokenFault, JwksMode};
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::OidcHarness;

/// A login with a linked identity whose ID token is made wrong by `fault`.
async fn login_with(fault: IdTokenFault, jwks: JwksMode) -> (OidcHarness, Reply) {
    let h = OidcHarness::start_with(StoreBackend::Memory, |op| op.set_jwks_mode(jwks)).await;
    h.linked_user("conformance@example.com", "subject-1").await;
    h.op.set_id_token_fault(fault);
    let reply = h.login().await;
    (h, reply)
}

#[track_caller]
fn assert_accepted(reply: &Reply) {
    assert_eq!(reply.status, 200, "must be accepted: {}", reply.text());
    assert!(reply.json()["access_token"].is_string());
}

async fn assert_rejected_without_refetch(fault: IdTokenFault) {
    let (h, reply) = login_with(fault.clone(), JwksMode::Normal).await;
    let problem = reply.assert_problem(401, "id_token_rejected");
    assert!(problem.get("access_token").is_none(), "{fault:?}: {problem}");
    assert_eq!(h.op.jwks_requests(), 1, "{fault:?} must not cause a JWKS refetch");
}

#[tokio::test]
async fn response_type_code_with_an_rs256_token_succeeds() {
    let (_h, reply) = login_with(IdTokenFault::None, JwksMode::Normal).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn rs384_and_rs512_tokens_are_accepted() {
    for alg in [Algorithm::RS384, Algorithm::RS512] {
        let (_h, reply) = login_with(IdTokenFault::Rsa(alg), JwksMode::Normal).await;
        assert_accepted(&reply);
    }
}

#[tokio::test]
async fn an_altered_issuer_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Issuer("https://attacker.example".into())).await;
}

#[tokio::test]
async fn an_issuer_differing_only_by_a_trailing_slash_is_rejected() {
    let h = OidcHarness::start().await;
    let issuer = format!("{}/", h.op.issuer);
    drop(h);
    assert_rejected_without_refetch(IdTokenFault::Issuer(issuer)).await;
}

#[tokio::test]
async fn an_altered_audience_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Audience(json!("another-client"))).await;
}

#[tokio::test]
async fn an_extra_untrusted_audience_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Audience(json!([CLIENT_ID, "another-client"])))
        .await;
}

#[tokio::test]
async fn a_missing_audience_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Remove("aud")).await;
}

#[tokio::test]
async fn a_missing_sub_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Remove("sub")).await;
}

#[tokio::test]
async fn a_missing_iat_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Remove("iat")).await;
}

#[tokio::test]
async fn an_altered_nonce_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Nonce("not-the-nonce".into())).await;
}

#[tokio::test]
async fn a_missing_nonce_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Remove("nonce")).await;
}

#[tokio::test]
async fn a_corrupted_signature_is_rejected_without_refetching_keys() {
    assert_rejected_without_refetch(IdTokenFault::CorruptSignature).await;
}

#[tokio::test]
async fn alg_none_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::AlgNone).await;
}

#[tokio::test]
async fn hs256_maced_with_the_client_secret_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Hs256WithClientSecret).await;
}

#[tokio::test]
async fn hs256_maced_with_the_rsa_public_key_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Hs256WithPublicKey).await;
}

#[tokio::test]
async fn es256_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::Es256).await;
}

#[tokio::test]
async fn an_expired_token_is_rejected_but_sixty_seconds_of_skew_are_allowed() {
    assert_rejected_without_refetch(IdTokenFault::ExpiredSecondsAgo(120)).await;
    let (_h, reply) = login_with(IdTokenFault::ExpiredSecondsAgo(30), JwksMode::Normal).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn an_iat_far_in_the_future_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::IatInFuture(3600)).await;
}

#[tokio::test]
async fn an_at_hash_that_does_not_match_the_access_token_is_rejected() {
    assert_rejected_without_refetch(IdTokenFault::WrongAtHash).await;
}

#[tokio::test]
async fn without_a_kid_the_single_rsa_key_among_other_key_types_verifies() {
    let (_h, reply) = login_with(IdTokenFault::NoKid, JwksMode::SingleRsaNoKid).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn without_a_kid_several_rsa_keys_are_ambiguous_and_rejected() {
    let (h, reply) = login_with(IdTokenFault::NoKid, JwksMode::MultipleRsaNoKid).await;
    reply.assert_problem(401, "id_token_rejected");
    assert_eq!(h.op.jwks_requests(), 1, "an ambiguous key is no reason to refetch");
}

#[tokio::test]
async fn an_unknown_kid_is_refetched_once_and_then_rejected() {
    let (h, reply) = login_with(IdTokenFault::UnknownKid, JwksMode::Normal).await;
    reply.assert_problem(401, "id_token_rejected");
    assert_eq!(h.op.jwks_requests(), 2, "one immediate refetch for an unknown kid");
}

#[tokio::test]
async fn a_rejected_token_starts_no_session() {
    let (h, reply) = login_with(IdTokenFault::CorruptSignature, JwksMode::Normal).await;
    reply.assert_problem(401, "id_token_rejected");
    let accounts = &h.app.services.accounts;
    let users = accounts.list_users(&Admin::operator(), 0, 10).await.unwrap();
    assert_eq!(users.len(), 1);
}
