//! A database outage through the real binary on PostgreSQL: while the database cannot be
//! reached, requests that need it answer 503 `database_unavailable` with `Retry-After` (never
//! 500), and service resumes without a restart when it is back. The outage is a TCP gate
//! between the server and PostgreSQL that drops every connection and refuses new ones.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use codex_cloud_tests::database::PostgresDatabase;
use codex_cloud_tests::process::{Server, TempDir, backend_command, http_client};

use super::binary::{PASSWORD, printed_id};

/// Forwards 127.0.0.1:<port> to the database while open; closed, it holds no connection.
struct Gate {
    address: SocketAddr,
    upstream: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Gate {
    async fn new(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the gate");
        let address = listener.local_addr().expect("its address");
        let gate = Self { address, upstream, tasks: Arc::default() };
        gate.serve(listener);
        gate
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Drops every connection and stops listening: new connections are refused.
    fn close(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn open(&self) {
        self.serve(TcpListener::bind(self.address).await.expect("listen again on the same port"));
    }
}

async fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let client = http_client();
    let mut request = match method {
        "POST" => client.post(server.url(path)),
        _ => client.get(server.url(path)),
    };
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let retry_after =
        response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_owned());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

// The gate runs on the test's runtime while the CLI blocks a thread: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(codex_postgres),
    ignore = "set CODEX_TEST_DATABASE_URL to run the PostgreSQL variants"
)]
async fn a_database_outage_is_503_database_unavailable_and_service_resumes_without_a_restart() {
    let database = PostgresDatabase::empty().await;
    let mut url = url::Url::parse(database.url()).expect("a URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port_or_known_default().expect("a port")
    );
    let gate = Gate::new(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(gate.address.port())).expect("port");
    let env = [("CODEX_DATABASE_URL", url.as_str())];

    let dir = TempDir::new();
    let created = backend_command(&dir)
        .envs(env)
        .args(["create-admin", "admin@example.com", PASSWORD])
        .output()
        .expect("create-admin");
    printed_id(&created);
    let mut server = Server::start_with_env(&dir, &env);
    server.wait_until_ready(&http_client()).await;
    let login = json!({ "email": "admin@example.com", "password": PASSWORD });
    let (status, _, body) = call(&server, "POST", "/auth/login", "", Some(login.clone())).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(call(&server, "GET", "/auth/me", &token, None).await.0, 200);

    gate.close();
    // The bearer check trusts a session it read for less than a second: past that, it asks the
    // database again.
    tokio::time::sleep(codex_cloud_adapters::SeaOrmStore::SESSION_CACHE_TTL).await;
    let outage: [(&str, &str, &str, Option<Value>); 4] = [
        ("GET", "/auth/me", token.as_str(), None),
        ("POST", "/auth/login", "", Some(login.clone())),
        ("GET", "/admin/users", token.as_str(), None),
        ("GET", "/auth/sessions", token.as_str(), None),
    ];
    for (method, path, token, body) in outage {
        let (status, retry_after, problem) = call(&server, method, path, token, body).await;
        assert_eq!(status, 503, "{method} {path}: {problem}");
        assert_eq!(problem["code"], "database_unavailable", "{method} {path}: {problem}");
        assert_eq!(retry_after.as_deref(), Some("5"), "{method} {path}");
    }
    let (status, _, problem) = call(&server, "GET", "/readyz", "", None).await;
    assert_eq!((status, problem["code"].as_str()), (503, Some("not_ready")));
    assert!(!server.log().contains("internal_error"), "{}", server.log());

    gate.open().await;
    let back = Instant::now();
    loop {
        let (status, _, body) = call(&server, "GET", "/auth/me", &token, None).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(back.elapsed() < Duration::from_secs(30), "service did not resume: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(call(&server, "POST", "/auth/login", "", Some(login)).await.0, 200);
    server.stop();
    gate.close();
}
