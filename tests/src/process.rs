//! Running the real `codex-cloud-backend` binary: finding (and if need be building) it, a
//! scratch directory per test, a free port, and a server process that is killed when dropped.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use uuid::Uuid;

pub const BINARY_NAME: &str = "codex-cloud-backend";

/// The backend binary next to this test executable (`target/<profile>/codex-cloud-backend`).
///
/// Under `cargo test` (`CARGO` is set) it is built once per test process with
/// `cargo build -p codex-cloud-backend`, a no-op when it is up to date, so that a stale binary is
/// never tested; otherwise it is built only when missing.
pub fn backend_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        // target/<profile>/deps/<test executable>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lives in target/<profile>/deps");
        let binary = profile_dir.join(format!("{BINARY_NAME}{}", std::env::consts::EXE_SUFFIX));
        let cargo = std::env::var_os("CARGO");
        if cargo.is_some() || !binary.exists() {
            build(cargo.unwrap_or_else(|| "cargo".into()), profile_dir);
        }
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// Variables cargo sets for the crate under test (besides `CARGO_PKG_*`, `CARGO_BIN_EXE_*`).
const CARGO_TEST_VARIABLES: [&str; 7] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

fn build(cargo: std::ffi::OsString, profile_dir: &Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let target_dir = profile_dir.parent().expect("the target directory");
    let mut command = Command::new(cargo);
    // Without the variables cargo sets for this test process: build scripts that watch one
    // (ring's watches CARGO_MANIFEST_DIR) would rerun, and the outer `cargo test` would then
    // rebuild everything again.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if CARGO_TEST_VARIABLES.contains(&name.as_ref())
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(name.as_ref());
        }
    }
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "-p", BINARY_NAME, "--bin", BINARY_NAME])
        .arg("--target-dir")
        .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    let status = command.status().expect("run cargo build");
    assert!(status.success(), "cargo build -p {BINARY_NAME} failed");
}

/// A scratch directory under the system temp directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("codex-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A SQLite database file in this directory, created on first use.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("codex.db").display())
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// The binary with a clean environment (no stray `CODEX_*`), run in `dir` with the database in
/// `dir` and logs at `warn`.
pub fn backend_command(dir: &TempDir) -> Command {
    let mut command = Command::new(backend_binary());
    command
        .env_clear()
        .current_dir(dir.path())
        .env("CODEX_DATABASE_URL", dir.database_url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// A running `serve`; killed when dropped (also when a test panics).
pub struct Server {
    child: Child,
    log: PathBuf,
    pub address: SocketAddr,
}

impl Server {
    /// Starts `serve` on a free port, logging to a file in `dir`.
    pub fn start(dir: &TempDir) -> Self {
        Self::start_with_env(dir, &[])
    }

    /// As `start`, with these environment variables too (e.g. `CODEX_OIDC_*`, `RUST_LOG`).
    pub fn start_with_env(dir: &TempDir, env: &[(&str, &str)]) -> Self {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let log = dir.path().join(format!("serve-{}.log", address.port()));
        let stderr = File::create(&log).expect("create the server log");
        let child = backend_command(dir)
            .arg("serve")
            .envs(env.iter().copied())
            .env("CODEX_BIND", address.to_string())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn the backend");
        Self { child, log, address }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/healthz` until it answers 200 (bounded: about 30 s in all).
    ///
    /// # Panics
    /// When the server exits or does not become healthy in time.
    pub async fn wait_until_healthy(&mut self, client: &reqwest::Client) {
        self.wait_for_200(client, "/healthz").await;
    }

    /// Polls `/readyz` until it answers 200: the database answers and (with OpenID Connect on)
    /// the provider is discovered (bounded: about 30 s in all).
    ///
    /// # Panics
    /// When the server exits or does not become ready in time.
    pub async fn wait_until_ready(&mut self, client: &reqwest::Client) {
        self.wait_for_200(client, "/readyz").await;
    }

    async fn wait_for_200(&mut self, client: &reqwest::Client, path: &str) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                panic!("the server exited with {status}:\n{}", self.log());
            }
            if let Ok(response) = client.get(self.url(path)).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not answer 200 on {path} in time:\n{}", self.log());
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client for a server on 127.0.0.1: no proxy, short timeouts, no redirects.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}
