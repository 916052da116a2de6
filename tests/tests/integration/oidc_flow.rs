//! The OpenID Connect login end to end against the fake provider: the redirect, the callback's
//! state checks, identity linking, provider failures.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use codex_cloud_tests::fake_op::{CLIENT_ID, CLIENT_SECRET};
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::{OidcHarness, set_cookie};
use codex_cloud_tests::{StoreBackend, TestApp};
use sha2::{Digest as _, Sha256};

fn token_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "login failed: {}", reply.text());
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    body["access_token"].as_str().expect("access_token").to_owned()
}

#[tokio::test]
async fn a_linked_identity_logs_in_and_the_token_works_on_me() {
    let h = OidcHarness::start().await;
    let user = h.linked_user("linked@example.com", "subject-1").await;
    let token = token_of(&h.login().await);
    let me = Reply::read(h.app.me(&token).await).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["id"], user.id.to_string());
    assert_eq!(me.json()["email"], "linked@example.com");
}

#[tokio::test]
async fn the_login_redirect_asks_for_the_code_flow_with_pkce_and_binds_the_browser() {
    let h = OidcHarness::start().await;
    let reply = h.begin_reply(None).await;
    assert!(matches!(reply.status.as_u16(), 302 | 303), "{}", reply.text());
    let location = reply.header("location").unwrap().to_owned();
    assert!(location.starts_with(&format!("{}/authorize?", h.op.issuer)), "{location}");
    let cookie = set_cookie(&reply, "codex_oidc_state").expect("state cookie").to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "an http redirect URI gets no Secure cookie: {cookie}");
    // approve() checks response_type, client_id, redirect_uri, scope, state, nonce and S256.
    let (_code, state) = h.op.approve(&location);
    assert!(cookie.starts_with(&format!("codex_oidc_state={state}")));
    assert!(state.len() >= 16, "state must be unguessable");
}

#[tokio::test]
async fn a_login_that_asked_to_return_redirects_there_with_a_session_cookie_the_api_accepts() {
    let h = OidcHarness::start().await;
    h.linked_user("browser@example.com", "subject-1").await;
    let reply = h.login_returning_to(Some("/app/home?tab=1")).await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("/app/home?tab=1"));
    let cookie = set_cookie(&reply, "codex_session").expect("session cookie").to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let me = Reply::read(h.app.client.get("/auth/me").header("cookie", pair).send().await).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["email"], "browser@example.com");
}

#[tokio::test]
async fn return_to_that_is_not_a_local_path_is_400_and_redirects_nowhere() {
    let h = OidcHarness::start().await;
    for bad in
        ["//evil.example/x", "https://evil.example/", "relative/path", "/\\evil.example", "/café"]
    {
        let reply = h.begin_reply(Some(bad)).await;
        reply.assert_problem(400, "invalid_return_to");
        assert!(reply.header("location").is_none());
        assert!(reply.header("set-cookie").is_none(), "no login state for {bad:?}");
    }
}

#[tokio::test]
async fn an_unlinked_identity_is_403_and_gets_no_token() {
    let h = OidcHarness::start().await;
    let reply = h.login().await;
    let problem = reply.assert_problem(403, "identity_not_linked");
    assert!(problem.get("access_token").is_none());
    assert!(set_cookie(&reply, "codex_session").is_none());
}

#[tokio::test]
async fn an_email_claim_never_links_an_identity_to_the_user_with_that_address() {
    let h = OidcHarness::start().await;
    // The fake provider asserts email someone@example.com; a local user has that address.
    h.app.create_user("someone@example.com", "correct horse battery staple").await;
    h.login().await.assert_problem(403, "identity_not_linked");
}

#[tokio::test]
async fn an_identity_of_a_disabled_user_is_refused_like_an_unlinked_one() {
    let h = OidcHarness::start().await;
    let unlinked = h.login().await;
    let user = h.linked_user("disabled@example.com", "subject-1").await;
    h.app.disable(&user).await;
    let disabled = h.login().await;
    disabled.assert_problem(403, "identity_not_linked");
    assert_eq!(disabled.body, unlinked.body, "nothing tells the two apart");
}

#[tokio::test]
async fn identity_is_issuer_and_subject_so_another_subject_is_not_the_linked_user() {
    let h = OidcHarness::start().await;
    h.linked_user("one@example.com", "subject-1").await;
    h.op.set_subject("subject-2");
    h.login().await.assert_problem(403, "identity_not_linked");
}

#[tokio::test]
async fn a_state_used_once_cannot_be_replayed() {
    let h = OidcHarness::start().await;
    h.linked_user("replay@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (code, state) = h.op.approve(&begun.authorization_url);
    let query = [("code", code.as_str()), ("state", state.as_str())];
    let first = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    token_of(&first);
    let again = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    again.assert_problem(400, "invalid_state");
}

async fn two_callbacks_of_one_login_at_once(backend: StoreBackend) {
    let h = OidcHarness::start_with(backend, |_| {}).await;
    h.linked_user("race@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (code, state) = h.op.approve(&begun.authorization_url);
    let query = [("code", code.as_str()), ("state", state.as_str())];
    let cookie = Some(begun.state_cookie.as_str());
    let (a, b) = tokio::join!(h.callback(&query, cookie), h.callback(&query, cookie));
    let replies = [Reply::read(a).await, Reply::read(b).await];
    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "{backend:?}");
    token_of(won[0]);
    let lost = replies.iter().find(|r| r.status != 200).expect("a refused callback");
    lost.assert_problem(400, "invalid_state");
    assert_eq!(h.op.token_requests().len(), 1, "only the callback that took the login exchanges");
    let later = Reply::read(h.callback(&query, cookie).await).await;
    later.assert_problem(400, "invalid_state");
}

#[tokio::test]
async fn of_two_callbacks_of_one_login_at_once_exactly_one_logs_in() {
    two_callbacks_of_one_login_at_once(StoreBackend::Memory).await;
    two_callbacks_of_one_login_at_once(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn of_two_callbacks_of_one_login_at_once_exactly_one_logs_in_on_postgres() {
    two_callbacks_of_one_login_at_once(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn a_callback_without_the_browser_binding_cookie_is_400_and_consumes_the_login() {
    let h = OidcHarness::start().await;
    h.linked_user("cookie@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (code, state) = h.op.approve(&begun.authorization_url);
    let query = [("code", code.as_str()), ("state", state.as_str())];
    Reply::read(h.callback(&query, None).await).await.assert_problem(400, "invalid_state");
    let later = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    later.assert_problem(400, "invalid_state");
}

#[tokio::test]
async fn a_state_begun_by_another_browser_is_400() {
    let h = OidcHarness::start().await;
    h.linked_user("csrf@example.com", "subject-1").await;
    let attacker = h.begin(None).await;
    let victim = h.begin(None).await;
    let (code, state) = h.op.approve(&attacker.authorization_url);
    let query = [("code", code.as_str()), ("state", state.as_str())];
    let reply = Reply::read(h.callback(&query, Some(&victim.state_cookie)).await).await;
    reply.assert_problem(400, "invalid_state");
}

#[tokio::test]
async fn a_login_older_than_ten_minutes_is_400() {
    let h = OidcHarness::start().await;
    h.linked_user("slow@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (code, state) = h.op.approve(&begun.authorization_url);
    h.app.advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    let query = [("code", code.as_str()), ("state", state.as_str())];
    let reply = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    reply.assert_problem(400, "invalid_state");
}

#[tokio::test]
async fn missing_or_unknown_state_is_400() {
    let h = OidcHarness::start().await;
    Reply::read(h.callback(&[("code", "x")], Some("x")).await)
        .await
        .assert_problem(400, "invalid_state");
    let unknown =
        h.callback(&[("code", "x"), ("state", "never-issued")], Some("never-issued")).await;
    Reply::read(unknown).await.assert_problem(400, "invalid_state");
}

#[tokio::test]
async fn a_provider_error_is_400_provider_denied_with_its_code_and_no_token() {
    let h = OidcHarness::start().await;
    h.linked_user("denied@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (_code, state) = h.op.approve(&begun.authorization_url);
    let query = [
        ("error", "access_denied"),
        ("error_description", "the user said no"),
        ("state", state.as_str()),
    ];
    let reply = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    let problem = reply.assert_problem(400, "provider_denied");
    assert_eq!(problem["provider_error"], "access_denied");
    assert!(h.op.token_requests().is_empty(), "no code exchange after an error");
}

#[tokio::test]
async fn an_rfc9207_iss_that_is_not_the_configured_issuer_is_400() {
    let h = OidcHarness::start().await;
    h.linked_user("mixup@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let (code, state) = h.op.approve(&begun.authorization_url);
    let query =
        [("code", code.as_str()), ("state", state.as_str()), ("iss", "https://attacker.example")];
    let reply = Reply::read(h.callback(&query, Some(&begun.state_cookie)).await).await;
    reply.assert_problem(400, "issuer_mismatch");
    assert!(h.op.token_requests().is_empty());
}

#[tokio::test]
async fn a_failing_token_endpoint_is_502_provider_error() {
    let h = OidcHarness::start().await;
    h.linked_user("tokenfail@example.com", "subject-1").await;
    h.op.fail_token_endpoint(500, "server_error");
    h.login().await.assert_problem(502, "provider_error");
    h.op.fail_token_endpoint(400, "invalid_grant");
    h.login().await.assert_problem(502, "provider_error");
}

#[tokio::test]
async fn the_code_is_exchanged_with_client_secret_basic_form_encoded() {
    let h = OidcHarness::start().await;
    h.linked_user("basic@example.com", "subject-1").await;
    token_of(&h.login().await);
    let requests = h.op.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].basic_client_id.as_deref(), Some(CLIENT_ID));
    assert_eq!(requests[0].basic_client_secret.as_deref(), Some(CLIENT_SECRET));
    assert!(
        !requests[0].form.contains_key("client_secret"),
        "the secret travels only in the header"
    );
    assert_eq!(requests[0].form["grant_type"], "authorization_code");
}

#[tokio::test]
async fn the_pkce_verifier_is_sent_and_belongs_to_the_login_being_finished() {
    let h = OidcHarness::start().await;
    h.linked_user("pkce@example.com", "subject-1").await;
    let begun = h.begin(None).await;
    let challenge: String = url::Url::parse(&begun.authorization_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code_challenge")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let (code, state) = h.op.approve(&begun.authorization_url);
    let reply = Reply::read(
        h.callback(&[("code", &code), ("state", &state)], Some(&begun.state_cookie)).await,
    )
    .await;
    token_of(&reply);
    let verifier = h.op.token_requests()[0].form["code_verifier"].clone();
    assert_eq!(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge);

    // A code issued for login A, brought back with login B's state, is exchanged with B's
    // verifier, which the provider refuses.
    let a = h.begin(None).await;
    let b = h.begin(None).await;
    let (code_a, _) = h.op.approve(&a.authorization_url);
    let (_, state_b) = h.op.approve(&b.authorization_url);
    let swapped =
        h.callback(&[("code", &code_a), ("state", &state_b)], Some(&b.state_cookie)).await;
    Reply::read(swapped).await.assert_problem(502, "provider_error");
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_stops_every_login_before_any_redirect() {
    let h = OidcHarness::start_with(StoreBackend::Memory, |op| {
        op.set_discovery_issuer("https://evil.example")
    })
    .await;
    let reply = h.begin_reply(None).await;
    reply.assert_problem(503, "provider_misconfigured");
    assert!(reply.header("location").is_none());
    let ready = Reply::read(h.app.client.get("/readyz").send().await).await;
    ready.assert_problem(503, "not_ready");
}

#[tokio::test]
async fn a_provider_down_at_start_makes_the_server_not_ready_until_discovery_succeeds() {
    let h = OidcHarness::start_with(StoreBackend::Memory, |op| op.set_down(true)).await;
    h.linked_user("later@example.com", "subject-1").await;
    h.begin_reply(None).await.assert_problem(503, "provider_unavailable");
    h.app.create_admin("root@example.com", codex_cloud_tests::app::PASSWORD).await;
    let root = h.app.token("root@example.com", codex_cloud_tests::app::PASSWORD).await;
    let ready = h.app.client.get("/readyz").header("authorization", format!("Bearer {root}"));
    let ready = Reply::read(ready.send().await).await;
    let problem = ready.assert_problem(503, "not_ready");
    assert!(problem["detail"].as_str().unwrap().contains("unavailable"), "{problem}");
    h.op.set_down(false);
    // Discovery is retried on demand, at most once a second.
    h.begin_reply(None).await.assert_problem(503, "provider_unavailable");
    h.app.advance(time::Duration::seconds(1));
    assert_eq!(h.begin_reply(None).await.status, 302, "discovery is retried after a second");
    assert_eq!(Reply::read(h.app.client.get("/readyz").send().await).await.status, 200);
    token_of(&h.login().await);
}

#[tokio::test]
async fn the_jwks_uri_comes_from_discovery() {
    let h =
        OidcHarness::start_with(StoreBackend::Memory, |op| op.set_jwks_path("/rotated/keys.json"))
            .await;
    h.linked_user("jwksuri@example.com", "subject-1").await;
    token_of(&h.login().await);
    assert_eq!(h.op.jwks_requests(), 1);
}

#[tokio::test]
async fn with_oidc_off_the_oidc_routes_answer_404_oidc_not_configured() {
    let app = TestApp::spawn().await;
    for path in ["/auth/oidc/login", "/auth/oidc/callback?state=x&code=y"] {
        Reply::read(app.client.get(path).send().await)
            .await
            .assert_problem(404, "oidc_not_configured");
    }
}

#[tokio::test]
async fn a_login_works_with_pending_logins_in_sqlite() {
    let h = OidcHarness::start_with(StoreBackend::Sqlite, |_| {}).await;
    h.linked_user("sqlite@example.com", "subject-1").await;
    token_of(&h.login().await);
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn a_login_works_with_pending_logins_in_postgres() {
    let h = OidcHarness::start_with(StoreBackend::Postgres, |_| {}).await;
    h.linked_user("postgres@example.com", "subject-1").await;
    token_of(&h.login().await);
}
