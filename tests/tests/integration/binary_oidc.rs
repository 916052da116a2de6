//! The real binary with OpenID Connect: `link-identity` and `unlink-identity`, start-up with the
//! `CODEX_OIDC_*` variables, and a whole provider login over real sockets against a `FakeOp`.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use uuid::Uuid;

use codex_cloud_tests::fake_op::{CLIENT_ID, CLIENT_SECRET, FakeOp, REDIRECT_URI};
use codex_cloud_tests::process::{Server, TempDir, backend_command, free_port, http_client};

use super::binary::{PASSWORD, assert_failure_mentioning, printed_id, run, stderr, stdout};

const ISSUER: &str = "https://op.example.com";

/// The variables that turn OpenID Connect on against `op`, with this client secret.
pub(super) fn oidc_env<'a>(op: &'a FakeOp, client_secret: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("CODEX_OIDC_ISSUER", op.issuer.as_str()),
        ("CODEX_OIDC_CLIENT_ID", CLIENT_ID),
        ("CODEX_OIDC_CLIENT_SECRET", client_secret),
        ("CODEX_OIDC_REDIRECT_URI", REDIRECT_URI),
    ]
}

/// Runs `command` to its end, killing it (and failing) if it is still running after about
/// 30 s: a server that should have refused to start must not hang the test.
async fn output_of_exiting(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the backend binary");
    for _ in 0..300 {
        if child.try_wait().expect("poll the child").is_some() {
            return child.wait_with_output().expect("collect the output");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("collect the output");
    panic!("the binary did not exit; stderr: {}", stderr(&output));
}

/// Begins a provider login at the server: the authorization URL and the whole `Set-Cookie`
/// value of `codex_oidc_state`.
pub(super) async fn begin_login(server: &Server) -> (String, String) {
    let begin = http_client().get(server.url("/auth/oidc/login")).send().await.expect("begin");
    assert!(matches!(begin.status().as_u16(), 302 | 303), "login must redirect: {begin:?}");
    let location = begin.headers()[LOCATION].to_str().expect("location").to_owned();
    let state_cookie = begin
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("codex_oidc_state=") || v.starts_with("__Host-codex_oidc_state="))
        .expect("the state cookie")
        .to_owned();
    (location, state_cookie)
}

/// A provider login as a browser does it: begin at the server, approve at the provider, come
/// back with the state cookie. The callback's status and JSON body.
pub(super) async fn browser_login(server: &Server, op: &FakeOp) -> (u16, Value) {
    let (location, set_cookie) = begin_login(server).await;
    assert!(location.starts_with(&format!("{}/authorize?", op.issuer)), "{location}");
    let state_cookie = set_cookie.split(';').next().expect("name=value");
    let (code, state) = op.approve(&location);
    let callback = http_client()
        .get(server.url("/auth/oidc/callback"))
        .query(&[("code", &code), ("state", &state)])
        .header(COOKIE, state_cookie)
        .send()
        .await
        .expect("callback");
    let status = callback.status().as_u16();
    let body = callback.json().await.expect("a JSON body");
    (status, body)
}

/// The `Set-Cookie` of `codex_oidc_state` from a server whose redirect URI is `redirect_uri`.
async fn state_cookie_with_redirect_uri(redirect_uri: &str) -> String {
    let op = FakeOp::start().await;
    let dir = TempDir::new();
    let mut env = oidc_env(&op, CLIENT_SECRET);
    env[3] = ("CODEX_OIDC_REDIRECT_URI", redirect_uri);
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_ready(&http_client()).await;
    let (location, state_cookie) = begin_login(&server).await;
    let sent = url::Url::parse(&location).expect("authorization URL");
    let sent = sent.query_pairs().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.into_owned());
    assert_eq!(sent.as_deref(), Some(redirect_uri), "the redirect URI is sent as configured");
    state_cookie
}

fn is_secure(set_cookie: &str) -> bool {
    set_cookie.split(';').skip(1).any(|a| a.trim().eq_ignore_ascii_case("secure"))
}

#[test]
fn link_identity_prints_the_identity_id_and_refuses_duplicates_and_unknown_users() {
    let dir = TempDir::new();
    let admin = printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let link = |subject: &str, user: &[&str]| {
        let mut args = vec!["link-identity", "--issuer", ISSUER, "--subject", subject];
        args.extend_from_slice(user);
        run(&dir, &args)
    };

    printed_id(&link("subject-1", &["--user-email", "Admin@Example.com"]));
    let admin_id = admin.to_string();
    printed_id(&link("subject-2", &["--user-id", &admin_id, "--email", "a@corp.example"]));

    let again = link("subject-1", &["--user-id", &admin_id]);
    assert_failure_mentioning(&again, "already linked");
    assert!(stdout(&again).trim().is_empty(), "no id for a refused link: {}", stdout(&again));
    let nobody = link("subject-3", &["--user-email", "nobody@example.com"]);
    assert_failure_mentioning(&nobody, "no such user");
    let unknown_id = Uuid::new_v4().to_string();
    assert_failure_mentioning(&link("subject-3", &["--user-id", &unknown_id]), "no such user");
    assert!(!link("subject-3", &[]).status.success(), "a user must be named");
    let bad_issuer = run(
        &dir,
        &["link-identity", "--issuer", "not a url", "--subject", "s", "--user-id", &admin_id],
    );
    assert!(!bad_issuer.status.success());
    assert!(!stderr(&bad_issuer).trim().is_empty());
}

#[test]
fn unlink_identity_succeeds_once_and_then_fails_with_a_message() {
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let identity = ["--issuer", ISSUER, "--subject", "subject-1"];
    let mut link = vec!["link-identity"];
    link.extend_from_slice(&identity);
    link.extend_from_slice(&["--user-email", "admin@example.com"]);
    printed_id(&run(&dir, &link));
    let mut unlink = vec!["unlink-identity"];
    unlink.extend_from_slice(&identity);

    let first = run(&dir, &unlink);
    let second = run(&dir, &unlink);

    assert!(first.status.success(), "unlink failed: {}", stderr(&first));
    assert_failure_mentioning(&second, "no such external identity");
    // Unlinked, it can be linked again.
    printed_id(&run(&dir, &link));
}

#[tokio::test]
async fn a_linked_identity_logs_in_through_the_real_binary_and_the_provider() {
    let op = FakeOp::start().await;
    let dir = TempDir::new();
    let admin = printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let link = [
        "link-identity",
        "--issuer",
        &op.issuer,
        "--subject",
        "subject-1",
        "--user-email",
        "admin@example.com",
    ];
    let identity = printed_id(&run(&dir, &link));
    let client = http_client();
    let mut server = Server::start_with_env(&dir, &oidc_env(&op, CLIENT_SECRET));
    server.wait_until_ready(&client).await;

    let (status, body) = browser_login(&server, &op).await;

    assert_eq!(status, 200, "{body}\n{}", server.log());
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().expect("access_token");
    let me = client.get(server.url("/auth/me")).bearer_auth(token).send().await.expect("me");
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.expect("me JSON");
    assert_eq!(me, json!({ "id": admin, "email": "admin@example.com", "is_admin": true }));
    let identities = client
        .get(server.url(&format!("/admin/users/{admin}/identities")))
        .bearer_auth(token)
        .send()
        .await
        .expect("identities");
    let identities: Value = identities.json().await.expect("identities JSON");
    assert_eq!(identities[0]["id"], identity.to_string(), "{identities}");
    assert_eq!(identities[0]["issuer"], op.issuer.as_str());
    let requests = op.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].basic_client_secret.as_deref(), Some(CLIENT_SECRET));
    assert!(!server.log().contains(CLIENT_SECRET), "the secret is logged:\n{}", server.log());
}

#[tokio::test]
async fn a_partial_oidc_configuration_stops_the_binary_naming_the_missing_variable() {
    let op = FakeOp::start().await;
    let dir = TempDir::new();

    let output = output_of_exiting(
        backend_command(&dir)
            .arg("serve")
            .env("CODEX_BIND", format!("127.0.0.1:{}", free_port()))
            .env("CODEX_OIDC_ISSUER", &op.issuer)
            .env("CODEX_OIDC_CLIENT_ID", CLIENT_ID),
    )
    .await;

    assert_eq!(output.status.code(), Some(2), "invalid configuration exits 2");
    assert_failure_mentioning(&output, "CODEX_OIDC_CLIENT_SECRET");
}

#[tokio::test]
async fn a_numeric_client_secret_is_used_verbatim_and_never_printed() {
    const SECRET: &str = "12345678";
    let op = FakeOp::start().await;
    let dir = TempDir::new();
    let mut env = oidc_env(&op, SECRET).to_vec();
    env.push(("RUST_LOG", "debug"));
    let client = http_client();
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_ready(&client).await;

    // The fake provider knows another secret: the login fails at its token endpoint.
    let (status, body) = browser_login(&server, &op).await;

    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "provider_error");
    let requests = op.token_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].basic_client_secret.as_deref(), Some(SECRET), "sent verbatim");
    let log = server.log();
    assert!(!log.is_empty(), "debug logging should have written something");
    assert!(!log.contains(SECRET), "the client secret is printed:\n{log}");
}

#[tokio::test]
async fn an_https_redirect_uri_makes_the_binary_set_secure_cookies() {
    let https =
        state_cookie_with_redirect_uri("https://codex.example.com/auth/oidc/callback").await;
    let http = state_cookie_with_redirect_uri(REDIRECT_URI).await;

    assert!(is_secure(&https) && https.starts_with("__Host-codex_oidc_state="), "{https}");
    assert!(!is_secure(&http) && http.starts_with("codex_oidc_state="), "{http}");
}

#[tokio::test]
async fn an_https_redirect_uri_with_a_capitalised_scheme_gets_secure_cookies_too() {
    let cookie =
        state_cookie_with_redirect_uri("HTTPS://codex.example.com/auth/oidc/callback").await;

    assert!(is_secure(&cookie) && cookie.starts_with("__Host-"), "{cookie}");
}

#[tokio::test]
async fn a_flood_of_begun_logins_from_one_address_leaves_logins_from_another_working() {
    use codex_cloud_core::service::MAX_PENDING_LOGINS_PER_CLIENT;

    let op = FakeOp::start().await;
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let link = ["link-identity", "--issuer", &op.issuer, "--subject", "subject-1"];
    printed_id(&run(&dir, &[&link[..], &["--user-email", "admin@example.com"]].concat()));
    let mut env = oidc_env(&op, CLIENT_SECRET).to_vec();
    env.push(("CODEX_TRUSTED_PROXIES", "127.0.0.1/32"));
    let client = http_client();
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_ready(&client).await;
    let begin_from = |address: &'static str| {
        let request = client.get(server.url("/auth/oidc/login"));
        async move { request.header("x-forwarded-for", address).send().await.expect("begin") }
    };

    for n in 0..MAX_PENDING_LOGINS_PER_CLIENT {
        let begun = begin_from("203.0.113.7").await;
        assert_eq!(begun.status(), 302, "begin {n} from the flooding address");
    }
    let refused = begin_from("203.0.113.7").await;
    assert_eq!(refused.status(), 429, "{}", server.log());
    assert_eq!(refused.headers()["retry-after"], "60");
    assert!(refused.headers().get(SET_COOKIE).is_none());
    let another = begin_from("2001:db8::1").await;
    assert_eq!(another.status(), 302, "another address begins");

    // A whole login from another client (the proxy itself, without X-Forwarded-For).
    let (status, body) = browser_login(&server, &op).await;
    assert_eq!(status, 200, "{body}\n{}", server.log());
}

/// `invite` prints a single-use URL on the redirect URI's origin; opened at the running server
/// and walked through the provider, it links the identity to the invited user and logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_prints_a_url_that_links_the_provider_account_and_logs_in() {
    let op = FakeOp::start().await;
    let dir = TempDir::new();
    let env = oidc_env(&op, CLIENT_SECRET);
    let user_id = printed_id(&run(&dir, &["create-admin", "ada@example.com", PASSWORD]));

    let without_oidc = run(&dir, &["invite", "--user-email", "ada@example.com"]);
    assert_failure_mentioning(&without_oidc, "CODEX_OIDC_ISSUER");
    let invite = |args: &[&str]| {
        let mut command = backend_command(&dir);
        command.envs(env.iter().copied()).arg("invite").args(args);
        command.output().expect("run invite")
    };
    let unknown = invite(&["--user-email", "nobody@example.com"]);
    assert_failure_mentioning(&unknown, "no such user");
    let by_id = invite(&["--user-id", &user_id.to_string()]);
    assert!(by_id.status.success(), "{}", stderr(&by_id));
    let output = invite(&["--user-email", "ada@example.com"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let url = stdout(&output).trim().to_owned();
    let origin = REDIRECT_URI.trim_end_matches("/auth/oidc/callback");
    assert!(url.starts_with(&format!("{origin}/auth/oidc/login?invitation=")), "{url}");
    assert!(!stderr(&output).contains(url.rsplit_once('=').unwrap().1), "the token only once");

    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_ready(&http_client()).await;
    let path_and_query = url.strip_prefix(origin).expect("on the public origin");
    let begin = http_client().get(server.url(path_and_query)).send().await.expect("open the URL");
    assert_eq!(begin.status(), 302, "{begin:?}");
    let location = begin.headers()[LOCATION].to_str().expect("location").to_owned();
    let state_cookie = begin.headers()[SET_COOKIE].to_str().expect("cookie").to_owned();
    op.set_subject("ada-at-provider");
    let (code, state) = op.approve(&location);
    let callback = http_client()
        .get(server.url("/auth/oidc/callback"))
        .query(&[("code", &code), ("state", &state)])
        .header(COOKIE, state_cookie.split(';').next().expect("name=value"))
        .send()
        .await
        .expect("callback");
    assert_eq!(callback.status(), 303, "a browser session starts");
    assert_eq!(callback.headers()[LOCATION], "/");
    let session = callback
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("codex_session="))
        .expect("the session cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let me =
        http_client().get(server.url("/auth/me")).header(COOKIE, session).send().await.expect("me");
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["id"], user_id.to_string());
    let again = http_client().get(server.url(path_and_query)).send().await.expect("open again");
    assert_eq!(again.status(), 400, "spent");
    server.stop();
}
