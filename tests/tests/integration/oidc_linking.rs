//! Invitations, self-service linking, the caller's own identities and provider logout, through
//! the routes, against the fake provider.

use poem::http::Method;
use serde_json::Value;

use codex_cloud_tests::fake_op::CLIENT_ID;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::oidc::{HarnessOptions, OidcHarness, cookie_value, set_cookie};
use codex_cloud_tests::{StoreBackend, TestApp};

const ADMIN_PASSWORD: &str = "a long passphrase for operations";

async fn admin_token(h: &OidcHarness) -> String {
    h.app.create_admin("admin@example.com", ADMIN_PASSWORD).await;
    h.app.token("admin@example.com", ADMIN_PASSWORD).await
}

async fn invite(h: &OidcHarness, token: &str, user_id: &str) -> Value {
    let path = format!("/admin/users/{user_id}/invitations");
    let reply = h.app.send(Method::POST, &path, Some(token), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

async fn invitations(h: &OidcHarness, token: &str, user_id: &str) -> Vec<Value> {
    let path = format!("/admin/users/{user_id}/invitations");
    let reply = h.app.send(Method::GET, &path, Some(token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json().as_array().expect("a list").clone()
}

/// Opens a URL of this service (path and query) as the browser does, without following it.
async fn open(h: &OidcHarness, url: &str, cookie: Option<&str>) -> Reply {
    let path = url.strip_prefix("http://localhost:8000").unwrap_or(url);
    let mut request = h.app.client.get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    Reply::read(request.send().await).await
}

/// From a redirect to the provider: approve there and come back with the state cookie.
async fn approve_and_return(h: &OidcHarness, begun: &Reply) -> Reply {
    assert_eq!(begun.status, 302, "{}", begun.text());
    let location = begun.header("location").expect("location");
    let state = cookie_value(set_cookie(begun, h.state_cookie).expect("state cookie"));
    let (code, state_param) = h.op.approve(location);
    Reply::read(h.callback(&[("code", &code), ("state", &state_param)], Some(&state)).await).await
}

fn identities_of(reply: &Reply) -> Vec<(String, String)> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let list = reply.json();
    list.as_array()
        .expect("a list")
        .iter()
        .map(|i| {
            (i["subject"].as_str().unwrap().to_owned(), i["user_id"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn own_identity_query(issuer: &str, subject: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("issuer", issuer)
        .append_pair("subject", subject)
        .finish()
}

async fn identities(h: &OidcHarness, token: &str) -> Vec<(String, String)> {
    identities_of(&h.app.send(Method::GET, "/auth/identities", Some(token), None).await)
}

async fn invitation_links_a_free_identity_then_is_spent(backend: StoreBackend) {
    let h = OidcHarness::start_with(backend, |_| {}).await;
    let admin = admin_token(&h).await;
    let ada = h.app.create_identity_only_user("ada@example.com").await;
    let created = invite(&h, &admin, &ada.id.to_string()).await;
    let url = created["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://localhost:8000/auth/oidc/login?invitation="), "{url}");
    let token = url.rsplit_once('=').unwrap().1;
    assert!(token.len() >= 32, "at least 128 bits: {token}");
    let listed = invitations(&h, &admin, &ada.id.to_string()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], created["id"]);
    assert_eq!(listed[0]["status"], "pending");
    assert!(listed[0].get("url").is_none() && listed[0].get("spent_at").is_none());
    assert!(!serde_json::to_string(&listed).unwrap().contains(token), "never shown again");

    h.op.set_subject("ada-at-provider");
    let done =
        approve_and_return(&h, &open(&h, &format!("{url}&return_to=/welcome"), None).await).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), Some("/welcome"));
    let session = set_cookie(&done, "codex_session").expect("a session starts").to_owned();
    let pair = session.split(';').next().unwrap().to_owned();
    let me = open(&h, "/auth/me", Some(&pair)).await;
    assert_eq!(me.json()["id"], ada.id.to_string(), "{}", me.text());

    let spent = invitations(&h, &admin, &ada.id.to_string()).await;
    assert_eq!(spent[0]["status"], "spent");
    assert!(spent[0]["spent_at"].is_string());
    // Spent: refused before any redirect, and no state cookie is set.
    let again = open(&h, &url, None).await;
    again.assert_problem(400, "invalid_invitation");
    assert!(set_cookie(&again, h.state_cookie).is_none());

    // The identity now logs in plainly, as the invited user; the link is audited.
    let reply = h.login().await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let audit = h
        .app
        .send(Method::GET, "/admin/audit-events?kind=identity.linked", Some(&admin), None)
        .await;
    let events = audit.json();
    let event = &events["events"].as_array().or(events.as_array()).expect("events")[0];
    assert_eq!(event["user_id"], ada.id.to_string(), "{event}");
    assert_eq!(event["detail"]["subject"], "ada-at-provider", "{event}");
    assert_eq!(event["detail"]["invitation"], created["id"], "{event}");
}

#[tokio::test]
async fn an_invitation_links_a_free_identity_logs_in_and_is_spent() {
    invitation_links_a_free_identity_then_is_spent(StoreBackend::Memory).await;
}

#[tokio::test]
async fn an_invitation_links_a_free_identity_logs_in_and_is_spent_on_sqlite() {
    invitation_links_a_free_identity_then_is_spent(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn an_invitation_links_a_free_identity_logs_in_and_is_spent_on_postgres() {
    invitation_links_a_free_identity_then_is_spent(StoreBackend::Postgres).await;
}

async fn linked_elsewhere_is_refused_and_unspent(backend: StoreBackend) {
    let h = OidcHarness::start_with(backend, |_| {}).await;
    let admin = admin_token(&h).await;
    h.linked_user("bob@example.com", "subject-1").await;
    let ada = h.app.create_identity_only_user("ada@example.com").await;
    let url = invite(&h, &admin, &ada.id.to_string()).await["url"].as_str().unwrap().to_owned();

    let refused = approve_and_return(&h, &open(&h, &url, None).await).await;
    refused.assert_problem(409, "identity_already_linked");
    assert_eq!(invitations(&h, &admin, &ada.id.to_string()).await[0]["status"], "pending");

    h.op.set_subject("ada-at-provider");
    let done = approve_and_return(&h, &open(&h, &url, None).await).await;
    assert_eq!(done.status, 303, "the URL as issued ends in a browser session: {}", done.text());
    assert_eq!(done.header("location"), Some("/"));
    assert!(set_cookie(&done, "codex_session").is_some());
}

#[tokio::test]
async fn an_identity_linked_to_someone_else_is_refused_and_the_invitation_stays_unspent() {
    linked_elsewhere_is_refused_and_unspent(StoreBackend::Memory).await;
}

#[tokio::test]
async fn an_identity_linked_to_someone_else_is_refused_and_the_invitation_stays_unspent_on_sqlite()
{
    linked_elsewhere_is_refused_and_unspent(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn an_identity_linked_to_someone_else_is_refused_and_the_invitation_stays_unspent_on_postgres()
 {
    linked_elsewhere_is_refused_and_unspent(StoreBackend::Postgres).await;
}

async fn unknown_expired_revoked_and_disabled(backend: StoreBackend) {
    let h = OidcHarness::start_with(backend, |_| {}).await;
    let admin = admin_token(&h).await;
    let ada = h.app.create_identity_only_user("ada@example.com").await;
    let id = ada.id.to_string();

    open(&h, "/auth/oidc/login?invitation=nope", None)
        .await
        .assert_problem(400, "invalid_invitation");

    let expiring = invite(&h, &admin, &id).await;
    h.app.advance(time::Duration::days(7));
    let admin = h.app.token("admin@example.com", ADMIN_PASSWORD).await;
    let expired = open(&h, expiring["url"].as_str().unwrap(), None).await;
    expired.assert_problem(400, "invalid_invitation");
    assert_eq!(invitations(&h, &admin, &id).await[0]["status"], "expired");

    let revoked = invite(&h, &admin, &id).await;
    // Begun before the revocation: refused at the callback, and nothing is linked.
    let begun = open(&h, revoked["url"].as_str().unwrap(), None).await;
    let path = format!("/admin/invitations/{}", revoked["id"].as_str().unwrap());
    assert_eq!(h.app.send(Method::DELETE, &path, Some(&admin), None).await.status, 204);
    h.app
        .send(Method::DELETE, &path, Some(&admin), None)
        .await
        .assert_problem(404, "invitation_not_found");
    open(&h, revoked["url"].as_str().unwrap(), None)
        .await
        .assert_problem(400, "invalid_invitation");
    h.op.set_subject("ada-at-provider");
    approve_and_return(&h, &begun).await.assert_problem(400, "invalid_invitation");
    let links =
        h.app.send(Method::GET, &format!("/admin/users/{id}/identities"), Some(&admin), None).await;
    assert_eq!(links.json(), serde_json::json!([]));

    // A disabled user's invitation: refused before any redirect, and at the callback when the
    // user was disabled meanwhile, unspent.
    let pending = invite(&h, &admin, &id).await;
    let begun = open(&h, pending["url"].as_str().unwrap(), None).await;
    h.app.disable(&ada).await;
    open(&h, pending["url"].as_str().unwrap(), None)
        .await
        .assert_problem(400, "invalid_invitation");
    approve_and_return(&h, &begun).await.assert_problem(400, "invalid_invitation");
    assert_eq!(invitations(&h, &admin, &id).await[0]["status"], "pending");
}

#[tokio::test]
async fn unknown_expired_revoked_and_disabled_users_invitations_are_refused() {
    unknown_expired_revoked_and_disabled(StoreBackend::Memory).await;
}

#[tokio::test]
async fn unknown_expired_revoked_and_disabled_users_invitations_are_refused_on_sqlite() {
    unknown_expired_revoked_and_disabled(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn unknown_expired_revoked_and_disabled_users_invitations_are_refused_on_postgres() {
    unknown_expired_revoked_and_disabled(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn invitations_are_for_administrators_and_name_existing_users() {
    let h = OidcHarness::start().await;
    let admin = admin_token(&h).await;
    let (user, token) = h.app.user_with_token("user@example.com").await;
    let path = format!("/admin/users/{}/invitations", user.id);
    h.app.send(Method::POST, &path, Some(&token), None).await.assert_problem(403, "forbidden");
    h.app.send(Method::POST, &path, None, None).await.assert_problem(401, "invalid_token");
    let nobody = format!("/admin/users/{}/invitations", uuid::Uuid::new_v4());
    h.app
        .send(Method::POST, &nobody, Some(&admin), None)
        .await
        .assert_problem(404, "user_not_found");
    h.app
        .send(Method::GET, &nobody, Some(&admin), None)
        .await
        .assert_problem(404, "user_not_found");
    let bad =
        h.app.send(Method::POST, "/admin/users/not-a-uuid/invitations", Some(&admin), None).await;
    bad.assert_problem(400, "invalid_request");
    let unknown = format!("/admin/invitations/{}", uuid::Uuid::new_v4());
    h.app
        .send(Method::DELETE, &unknown, Some(&admin), None)
        .await
        .assert_problem(404, "invitation_not_found");
}

#[tokio::test]
async fn without_openid_connect_the_routes_say_so() {
    let app = TestApp::spawn().await;
    app.create_admin("admin@example.com", ADMIN_PASSWORD).await;
    let admin = app.token("admin@example.com", ADMIN_PASSWORD).await;
    let (user, token) = app.user_with_token("user@example.com").await;
    let path = format!("/admin/users/{}/invitations", user.id);
    app.send(Method::POST, &path, Some(&admin), None)
        .await
        .assert_problem(404, "oidc_not_configured");
    app.send(Method::GET, "/auth/oidc/link", Some(&token), None)
        .await
        .assert_problem(404, "oidc_not_configured");
    app.send(Method::GET, "/auth/oidc/logout", None, None)
        .await
        .assert_problem(404, "oidc_not_configured");
    // A user's own links need no provider.
    let own = app.send(Method::GET, "/auth/identities", Some(&token), None).await;
    assert_eq!(own.json(), serde_json::json!([]));
}

#[tokio::test]
async fn a_signed_in_user_links_a_second_identity_and_never_someone_elses() {
    let h = OidcHarness::start().await;
    let (ada, token) = h.app.user_with_token("ada@example.com").await;
    h.linked_user("bob@example.com", "bob-subject").await;

    h.app
        .send(Method::GET, "/auth/oidc/link", None, None)
        .await
        .assert_problem(401, "invalid_token");
    h.app
        .send(Method::GET, "/auth/oidc/link?return_to=//evil", Some(&token), None)
        .await
        .assert_problem(400, "invalid_return_to");

    h.op.set_subject("ada-first");
    let begun =
        h.app.send(Method::GET, "/auth/oidc/link?return_to=/settings", Some(&token), None).await;
    let done = approve_and_return(&h, &begun).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), Some("/settings"));
    assert!(set_cookie(&done, "codex_session").is_none(), "linking starts no session");
    h.op.set_subject("ada-second");
    let begun = h.app.send(Method::GET, "/auth/oidc/link", Some(&token), None).await;
    let done = approve_and_return(&h, &begun).await;
    assert_eq!(done.header("location"), Some("/"));
    let id = ada.id.to_string();
    assert_eq!(
        identities(&h, &token).await,
        vec![("ada-first".to_owned(), id.clone()), ("ada-second".to_owned(), id.clone())]
    );

    h.op.set_subject("bob-subject");
    let begun = h.app.send(Method::GET, "/auth/oidc/link", Some(&token), None).await;
    approve_and_return(&h, &begun).await.assert_problem(409, "identity_already_linked");
    assert_eq!(identities(&h, &token).await.len(), 2);

    // The linked identity logs in as Ada.
    h.op.set_subject("ada-second");
    let login = h.login().await;
    let me = Reply::read(h.app.me(login.json()["access_token"].as_str().unwrap()).await).await;
    assert_eq!(me.json()["id"], id);
}

async fn the_last_way_in_stays(backend: StoreBackend) {
    let h = OidcHarness::start_with(backend, |_| {}).await;
    let user = h.linked_user("only@example.com", "first").await;
    h.op.set_subject("first");
    let login = h.login().await;
    let token = login.json()["access_token"].as_str().unwrap().to_owned();
    let issuer = h.op.issuer.clone();
    let unlink =
        |subject: &str| format!("/auth/identities?{}", own_identity_query(&issuer, subject));
    let last = h.app.send(Method::DELETE, &unlink("first"), Some(&token), None).await;
    last.assert_problem(409, "last_login_method");
    h.app
        .send(Method::DELETE, &unlink("nobody"), Some(&token), None)
        .await
        .assert_problem(404, "identity_not_found");
    h.app
        .send(Method::DELETE, "/auth/identities?issuer=x", Some(&token), None)
        .await
        .assert_problem(400, "invalid_request");
    let bad = "/auth/identities?issuer=not-a-url&subject=first";
    h.app
        .send(Method::DELETE, bad, Some(&token), None)
        .await
        .assert_problem(400, "invalid_identity");

    h.op.set_subject("second");
    let begun = h.app.send(Method::GET, "/auth/oidc/link", Some(&token), None).await;
    assert_eq!(approve_and_return(&h, &begun).await.status, 303);
    // Logged in through "second", remove "first": the session through "first" ends.
    h.op.set_subject("second");
    let second = h.login().await.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(h.app.send(Method::DELETE, &unlink("first"), Some(&second), None).await.status, 204);
    assert_eq!(identities(&h, &second).await, vec![("second".to_owned(), user.id.to_string())]);
    assert_eq!(Reply::read(h.app.me(&token).await).await.status, 401, "sessions through it end");
    h.app
        .send(Method::DELETE, &unlink("second"), Some(&second), None)
        .await
        .assert_problem(409, "last_login_method");
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked_and_another_can() {
    the_last_way_in_stays(StoreBackend::Memory).await;
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked_and_another_can_on_sqlite() {
    the_last_way_in_stays(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn the_last_way_to_sign_in_cannot_be_unlinked_and_another_can_on_postgres() {
    the_last_way_in_stays(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn a_user_with_a_password_may_unlink_their_only_identity() {
    let h = OidcHarness::start().await;
    let (_, token) = h.app.user_with_token("ada@example.com").await;
    let begun = h.app.send(Method::GET, "/auth/oidc/link", Some(&token), None).await;
    assert_eq!(approve_and_return(&h, &begun).await.status, 303);
    let path = format!("/auth/identities?{}", own_identity_query(&h.op.issuer, "subject-1"));
    assert_eq!(h.app.send(Method::DELETE, &path, Some(&token), None).await.status, 204);
    assert!(identities(&h, &token).await.is_empty());
}

async fn browser_session(h: &OidcHarness) -> String {
    let done = h.login_returning_to(Some("/app")).await;
    assert_eq!(done.status, 303, "{}", done.text());
    set_cookie(&done, "codex_session").unwrap().split(';').next().unwrap().to_owned()
}

async fn provider_logout_hints_with_the_sessions_id_token(backend: StoreBackend) {
    let options = HarnessOptions {
        backend,
        post_logout_redirect_uri: Some("http://localhost:8000/goodbye".to_owned()),
        ..HarnessOptions::default()
    };
    let h = OidcHarness::start_options(options, |op| op.set_end_session_endpoint(true)).await;
    let ada = h.linked_user("ada@example.com", "subject-1").await;
    let cookie = browser_session(&h).await;
    let id_token = h.op.issued_id_tokens().pop().expect("an ID token");

    // The store keeps the ID token sealed under the cookie: its bytes do not show it.
    let store = h.app.store.store();
    let session = store.sessions_of_user(ada.id).await.unwrap().pop().expect("the session");
    let sealed = store.sealed_id_token(session.id).await.unwrap().expect("kept sealed");
    let payload = id_token.split('.').nth(1).unwrap();
    assert!(!String::from_utf8_lossy(sealed.as_bytes()).contains(payload));

    let out = open(&h, "/auth/oidc/logout?return_to=/ignored", Some(&cookie)).await;
    assert_eq!(out.status, 302, "{}", out.text());
    let location = url::Url::parse(out.header("location").unwrap()).unwrap();
    assert_eq!(
        location.as_str().split('?').next(),
        Some(format!("{}/session/end", h.op.issuer).as_str())
    );
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query.get("id_token_hint"), Some(&id_token));
    assert_eq!(query.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        query.get("post_logout_redirect_uri").map(String::as_str),
        Some("http://localhost:8000/goodbye")
    );
    let cleared = set_cookie(&out, "codex_session").expect("the cookie is cleared");
    assert!(cleared.starts_with("codex_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    open(&h, "/auth/me", Some(&cookie)).await.assert_problem(401, "invalid_token");

    // Without a session: still to the provider, with no hint and no failure.
    let anonymous = open(&h, "/auth/oidc/logout", None).await;
    assert_eq!(anonymous.status, 302);
    assert!(!anonymous.header("location").unwrap().contains("id_token_hint"));
}

#[tokio::test]
async fn provider_logout_ends_the_session_and_hints_with_its_id_token() {
    provider_logout_hints_with_the_sessions_id_token(StoreBackend::Memory).await;
}

#[tokio::test]
async fn provider_logout_ends_the_session_and_hints_with_its_id_token_on_sqlite() {
    provider_logout_hints_with_the_sessions_id_token(StoreBackend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn provider_logout_ends_the_session_and_hints_with_its_id_token_on_postgres() {
    provider_logout_hints_with_the_sessions_id_token(StoreBackend::Postgres).await;
}

#[tokio::test]
async fn without_an_end_session_endpoint_logout_returns_to_the_page_asked_for() {
    let h = OidcHarness::start().await;
    h.linked_user("ada@example.com", "subject-1").await;
    let cookie = browser_session(&h).await;
    let out = open(&h, "/auth/oidc/logout?return_to=/signed-out", Some(&cookie)).await;
    assert_eq!(out.status, 302, "{}", out.text());
    assert_eq!(out.header("location"), Some("/signed-out"));
    open(&h, "/auth/me", Some(&cookie)).await.assert_problem(401, "invalid_token");
    let default = open(&h, "/auth/oidc/logout", None).await;
    assert_eq!(default.header("location"), Some("/"));
    let cookie = browser_session(&h).await;
    let bad = open(&h, "/auth/oidc/logout?return_to=https://evil.example/", Some(&cookie)).await;
    bad.assert_problem(400, "invalid_return_to");
    let me = open(&h, "/auth/me", Some(&cookie)).await;
    assert_eq!(me.status, 200, "a refused logout ends nothing: {}", me.text());
}

#[tokio::test]
async fn linking_through_the_session_cookie_needs_the_users_own_navigation_and_asks_which_account()
{
    let h = OidcHarness::start().await;
    let ada = h.app.create_user("ada@example.com", codex_cloud_tests::app::PASSWORD).await;
    let (cookie, _) = h.app.cookie_session(&ada).await;
    let pair = format!("codex_session={cookie}");
    let link = |site: Option<&'static str>| {
        let mut request = h.app.client.get("/auth/oidc/link").header("cookie", pair.clone());
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        async move { Reply::read(request.send().await).await }
    };
    link(None).await.assert_problem(403, "cross_site_request");
    link(Some("cross-site")).await.assert_problem(403, "cross_site_request");
    link(Some("same-site")).await.assert_problem(403, "cross_site_request");
    let begun = link(Some("none")).await;
    assert_eq!(begun.status, 302, "{}", begun.text());
    let location = url::Url::parse(begun.header("location").unwrap()).unwrap();
    assert!(location.query_pairs().any(|(k, v)| k == "prompt" && v == "login"), "{location}");
    let login = h.begin_reply(None).await;
    assert!(!login.header("location").unwrap().contains("prompt="), "plain logins do not force it");

    h.op.set_subject("ada-at-provider");
    let done = approve_and_return(&h, &begun).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let admin = admin_token(&h).await;
    let audit = h
        .app
        .send(Method::GET, "/admin/audit-events?kind=identity.linked", Some(&admin), None)
        .await;
    let events = audit.json();
    let event = &events.as_array().or(events["events"].as_array()).expect("events")[0];
    assert_eq!(event["user_id"], ada.id.to_string(), "{event}");
    assert_eq!(event["actor_id"], ada.id.to_string(), "{event}");
    assert_eq!(event["detail"]["subject"], "ada-at-provider", "{event}");
    assert_eq!(event["detail"]["via"], "self_service", "{event}");
}

#[tokio::test]
async fn a_link_whose_session_ended_while_at_the_provider_links_nothing() {
    let h = OidcHarness::start().await;
    let (_, token) = h.app.user_with_token("ada@example.com").await;
    let begun = h.app.send(Method::GET, "/auth/oidc/link", Some(&token), None).await;
    assert_eq!(Reply::read(h.app.logout(&token).await).await.status, 204);
    approve_and_return(&h, &begun).await.assert_problem(400, "invalid_state");
    let store = h.app.store.store();
    let issuer = codex_cloud_core::domain::Issuer::new(h.op.issuer.clone()).unwrap();
    let subject = codex_cloud_core::domain::Subject::new("subject-1").unwrap();
    assert!(store.user_by_identity(&issuer, &subject).await.unwrap().is_none());
}

#[tokio::test]
async fn without_a_post_logout_uri_none_is_sent_to_the_provider() {
    let h =
        OidcHarness::start_with(StoreBackend::Memory, |op| op.set_end_session_endpoint(true)).await;
    h.linked_user("ada@example.com", "subject-1").await;
    let cookie = browser_session(&h).await;
    let out = open(&h, "/auth/oidc/logout", Some(&cookie)).await;
    assert_eq!(out.status, 302, "{}", out.text());
    let location = url::Url::parse(out.header("location").unwrap()).unwrap();
    let names: Vec<String> = location.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["id_token_hint", "client_id"]);
}

/// `GET /auth/oidc/link` with the caller's bearer token and this `Accept`.
async fn link_accepting(h: &OidcHarness, token: &str, accept: &str) -> Reply {
    let request = h.app.client.get("/auth/oidc/link");
    let request = request.header("authorization", format!("Bearer {token}"));
    Reply::read(request.header("accept", accept).send().await).await
}

#[tokio::test]
async fn a_script_that_asks_for_json_gets_the_authorization_url_and_the_link_completes() {
    let h = OidcHarness::start().await;
    let (ada, token) = h.app.user_with_token("ada@example.com").await;
    h.op.set_subject("ada-from-a-script");

    let asked = link_accepting(&h, &token, "application/json").await;
    assert_eq!(asked.status, 200, "{}", asked.text());
    assert_eq!(asked.content_type(), "application/json");
    let url = asked.json()["authorization_url"].as_str().unwrap().to_owned();
    assert!(url.contains("prompt=login"), "{url}");
    let state = cookie_value(set_cookie(&asked, h.state_cookie).expect("state cookie"));
    let (code, state_param) = h.op.approve(&url);
    let done =
        Reply::read(h.callback(&[("code", &code), ("state", &state_param)], Some(&state)).await)
            .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(
        identities(&h, &token).await,
        vec![("ada-from-a-script".to_owned(), ada.id.to_string())]
    );

    // JSON refused (q=0) is not asked for.
    let refused = link_accepting(&h, &token, "application/json;q=0, */*").await;
    assert_eq!(refused.status, 302);

    // A browser's navigation (it accepts pages) is redirected as before.
    let accept = "text/html,application/json;q=0.9,*/*;q=0.8";
    assert_eq!(link_accepting(&h, &token, accept).await.status, 302);
}
