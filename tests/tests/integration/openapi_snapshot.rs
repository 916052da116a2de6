//! The OpenAPI document against its snapshot, `tests/fixtures/openapi.json`: every change to the
//! described API shows up here, and is accepted by regenerating the snapshot
//! (`UPDATE_OPENAPI_SNAPSHOT=1`).

use serde_json::Value;

use codex_cloud_tests::TestApp;
use codex_cloud_tests::http::Reply;
use codex_cloud_tests::process::{TempDir, backend_command};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/openapi.json");
const UPDATE_VARIABLE: &str = "UPDATE_OPENAPI_SNAPSHOT";
const UPDATE_COMMAND: &str =
    "UPDATE_OPENAPI_SNAPSHOT=1 cargo test -p codex-cloud-tests --test integration openapi_snapshot";
/// At most this many differences are listed.
const SHOWN: usize = 30;

async fn served_document() -> Value {
    let app = TestApp::spawn().await;
    let reply = Reply::read(app.client.get("/openapi.json").send().await).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// A JSON Pointer segment (RFC 6901).
fn segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn brief(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Where `actual` differs from `expected`, as JSON Pointers with both values.
fn differences(expected: &Value, actual: &Value, at: &str, found: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in old {
                let path = format!("{at}/{}", segment(key));
                match new.get(key) {
                    Some(other) => differences(value, other, &path, found),
                    None => found.push(format!("{path}: removed (was {})", brief(value))),
                }
            }
            for (key, value) in new.iter().filter(|(key, _)| !old.contains_key(*key)) {
                found.push(format!("{at}/{}: added {}", segment(key), brief(value)));
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            for (index, (value, other)) in old.iter().zip(new).enumerate() {
                differences(value, other, &format!("{at}/{index}"), found);
            }
        }
        _ if expected == actual => {}
        _ => found.push(format!("{at}: {} → {}", brief(expected), brief(actual))),
    }
}

#[tokio::test]
async fn the_served_openapi_document_matches_the_snapshot() {
    let served = served_document().await;

    if std::env::var(UPDATE_VARIABLE).is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&served).expect("JSON") + "\n";
        std::fs::write(SNAPSHOT, text).unwrap_or_else(|e| panic!("cannot write {SNAPSHOT}: {e}"));
        eprintln!("{SNAPSHOT} updated");
        return;
    }
    let text = std::fs::read_to_string(SNAPSHOT).unwrap_or_else(|e| {
        panic!("cannot read the snapshot {SNAPSHOT} ({e}); create it with:\n  {UPDATE_COMMAND}")
    });
    let snapshot: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("{SNAPSHOT} is not JSON ({e}); regenerate it with:\n  {UPDATE_COMMAND}")
    });

    let mut found = Vec::new();
    differences(&snapshot, &served, "", &mut found);

    assert!(
        found.is_empty(),
        "the served OpenAPI document differs from {SNAPSHOT} in {} place(s):\n  {}{}\n\
         If the API change is intended, review it and update the snapshot with:\n  {UPDATE_COMMAND}",
        found.len(),
        found.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("\n  "),
        if found.len() > SHOWN { "\n  …" } else { "" },
    );
}

#[tokio::test]
async fn the_openapi_command_prints_the_served_document() {
    let served = served_document().await;
    let dir = TempDir::new();

    let output = backend_command(&dir).arg("openapi").output().expect("run the backend binary");

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    let mut found = Vec::new();
    differences(&served, &printed, "", &mut found);
    assert!(found.is_empty(), "`openapi` prints another document:\n  {}", found.join("\n  "));
}
