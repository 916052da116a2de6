//! Signing-key rotation through the real binary: `rotate-signing-key` and `list-signing-keys`,
//! and a rotation that activates at once while two replicas serve a load of `/auth/me` with
//! tokens from each other: no request fails, and the replica that did not rotate signs with the
//! new key within `CODEX_SIGNING_KEY_RELOAD_INTERVAL`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use codex_cloud_tests::process::{Server, TempDir, backend_command, http_client};

use super::binary::{PASSWORD, assert_failure_mentioning, printed_id, run, stdout};

/// `list-signing-keys` as (kid, state, activates, retired) rows, the header checked.
fn listed(dir: &TempDir) -> Vec<Vec<String>> {
    let output = run(dir, &["list-signing-keys"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(header, ["kid", "state", "created", "activates", "retired", "drops"]);
    lines.map(|line| line.split_whitespace().map(str::to_owned).collect()).collect()
}

fn rotate(dir: &TempDir, delay: Option<&str>) -> String {
    let mut command = backend_command(dir);
    if let Some(delay) = delay {
        command.env("CODEX_SIGNING_KEY_PUBLISH_DELAY", delay);
    }
    let output = command.arg("rotate-signing-key").output().expect("rotate-signing-key");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let kid = stdout(&output).trim().to_owned();
    assert_eq!(kid.len(), 43, "a key id: {kid}");
    kid
}

fn parse(date: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 date")
}

#[tokio::test]
async fn rotate_makes_a_next_key_and_list_shows_kid_state_and_dates() {
    let dir = TempDir::new();
    printed_id(&run(&dir, &["create-admin", "admin@example.com", PASSWORD]));
    let first = listed(&dir);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0][1], "active");
    assert_eq!((first[0][4].as_str(), first[0][5].as_str()), ("-", "-"));
    let old = first[0][0].clone();

    let next = rotate(&dir, None);
    let rows = listed(&dir);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |kid: &str| rows.iter().find(|r| r[0] == kid).expect("listed").clone();
    let (old_row, next_row) = (row(&old), row(&next));
    assert_eq!((old_row[1].as_str(), next_row[1].as_str()), ("active", "next"));
    let delay = parse(&next_row[3]) - parse(&next_row[2]);
    assert_eq!(delay, time::Duration::hours(1), "CODEX_SIGNING_KEY_PUBLISH_DELAY defaults to 3600");

    let now = rotate(&dir, Some("0"));
    let rows = listed(&dir);
    let state = |kid: &str| rows.iter().find(|r| r[0] == kid).map(|r| r[1].clone());
    assert_eq!(state(&now).as_deref(), Some("active"));
    assert_eq!(state(&old).as_deref(), Some("retired"));
    assert_eq!(state(&next).as_deref(), Some("next"), "it still activates an hour on");
    let old_row = rows.iter().find(|r| r[0] == old).expect("listed");
    let kept = parse(&old_row[5]) - parse(&old_row[4]);
    // The default token lifetime (900 s), reload interval (60 s) and clock skew (60 s).
    assert_eq!(kept, time::Duration::seconds(1020));

    let bad = backend_command(&dir)
        .env("CODEX_SIGNING_KEY_PUBLISH_DELAY", "-1")
        .arg("rotate-signing-key")
        .output()
        .expect("run");
    assert_failure_mentioning(&bad, "CODEX_SIGNING_KEY_PUBLISH_DELAY");
    let bad = backend_command(&dir)
        .env("CODEX_SIGNING_KEY_RELOAD_INTERVAL", "0")
        .arg("list-signing-keys")
        .output()
        .expect("run");
    assert_failure_mentioning(&bad, "CODEX_SIGNING_KEY_RELOAD_INTERVAL");
    assert_eq!(listed(&dir).len(), 3, "a refused command changes nothing");
}

async fn login(server: &Server) -> String {
    login_as(server, "admin@example.com").await
}

async fn login_as(server: &Server, email: &str) -> String {
    let body = json!({ "email": email, "password": PASSWORD });
    let response = http_client().post(server.url("/auth/login")).json(&body).send().await;
    let response = response.expect("login");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    body["access_token"].as_str().expect("access_token").to_owned()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).expect("a JWT").kid.expect("a kid")
}

async fn jwks_kids(server: &Server) -> Vec<String> {
    let response = http_client().get(server.url("/.well-known/jwks.json")).send().await;
    let body: Value = response.expect("jwks").json().await.expect("JSON");
    let keys = body["keys"].as_array().expect("keys").iter();
    keys.map(|k| k["kid"].as_str().expect("kid").to_owned()).collect()
}

#[tokio::test]
async fn a_rotation_that_activates_at_once_fails_no_request_on_two_replicas() {
    let dir = TempDir::new();
    for email in ["admin@example.com", "a@example.com", "b@example.com"] {
        printed_id(&run(&dir, &["create-admin", email, PASSWORD]));
    }
    let env = [("CODEX_SIGNING_KEY_RELOAD_INTERVAL", "2")];
    let mut a = Server::start_with_env(&dir, &env);
    a.wait_until_ready(&http_client()).await;
    // Half an interval apart, so that one replica reloads well before the other.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut b = Server::start_with_env(&dir, &env);
    b.wait_until_ready(&http_client()).await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let old = kid_of(&login(&a).await);

    // The load: each round logs in on one replica (a user per replica) and calls /auth/me on
    // both, the other first.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    let directions =
        [(a.clone(), b.clone(), "a@example.com"), (b.clone(), a.clone(), "b@example.com")];
    for (from, to, email) in directions {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            let client = http_client();
            while !stop.load(Ordering::Relaxed) {
                let token = login_as(&from, email).await;
                for server in [&to, &from, &to, &from, &to] {
                    let me = client.get(server.url("/auth/me")).bearer_auth(&token).send().await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    if me.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let new = rotate(&dir, Some("0"));
    let rotated = Instant::now();
    assert_ne!(new, old);
    // Neither replica rotated: both pick the key up from the store.
    for server in [&a, &b] {
        loop {
            if kid_of(&login(server).await) == new {
                break;
            }
            assert!(rotated.elapsed() < Duration::from_secs(10), "not signing with {new} in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let kids = jwks_kids(server).await;
        assert!(kids.contains(&new) && kids.contains(&old), "both published: {kids:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("the load ran");
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
    assert!(sent >= 10, "only {sent} requests were sent");
}
