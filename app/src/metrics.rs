//! Prometheus metrics: the `metrics` facade everywhere (no-ops until a recorder is installed),
//! rendered by `metrics-exporter-prometheus` at `/metrics` on a listener of its own
//! (`CODEX_METRICS_BIND`), never on the API's.
//!
//! | metric | labels |
//! | --- | --- |
//! | `codex_http_requests_total`, `codex_http_request_duration_seconds` (histogram) | `route` (template), `method`, `status` |
//! | `codex_logins_total` | `method` (`password`, `oidc`), `outcome` (`success` or the problem code) |
//! | `codex_oidc_discovery_fetches_total`, `codex_oidc_jwks_fetches_total` | `outcome` |
//! | `codex_password_hash_queue_depth` (gauge), `codex_password_hash_wait_seconds` (histogram), `codex_password_hash_refused_total` | `reason` for refusals |
//! | `codex_db_pool_connections` (gauge, read at each scrape) | `state` (`idle`, `in_use`) |

use std::sync::Arc;

use anyhow::Context as _;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt as _, Response, Route, handler};

/// Request latencies and hash waits, in seconds.
const BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histograms are compacted when nobody scrapes (the recorder's upkeep).
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process-wide recorder (once: later calls get the same handle), with a task
/// that keeps its memory bounded between scrapes.
///
/// # Errors
/// When another recorder is installed already.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .context("metric buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let handle = HANDLE.get_or_init(|| handle).clone();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            interval.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// What a scrape reads at the moment it happens: the database pool's (open, idle)
/// connections, when the store has a pool.
pub type PoolUsage = Arc<dyn Fn() -> Option<(u32, usize)> + Send + Sync>;

/// `GET /metrics` (and nothing else) over `handle`.
pub fn endpoint(handle: PrometheusHandle, pool: PoolUsage) -> impl Endpoint + use<> {
    #[handler]
    fn scrape(
        handle: poem::web::Data<&PrometheusHandle>,
        pool: poem::web::Data<&PoolUsage>,
    ) -> Response {
        if let Some((open, idle)) = pool() {
            let in_use = (open as usize).saturating_sub(idle);
            metrics::gauge!("codex_db_pool_connections", "state" => "idle").set(idle as f64);
            metrics::gauge!("codex_db_pool_connections", "state" => "in_use").set(in_use as f64);
        }
        Response::builder().status(StatusCode::OK).content_type(CONTENT_TYPE).body(handle.render())
    }
    Route::new().at("/metrics", poem::get(scrape)).data(handle).data(pool)
}

/// Counts one finished request.
pub fn record_request(route: &str, method: &str, status: u16, seconds: f64, code: Option<&str>) {
    // Any token is a method to HTTP: only the standard ones become labels.
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    };
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("codex_http_requests_total", &labels).increment(1);
    metrics::histogram!("codex_http_request_duration_seconds", &labels).record(seconds);
    let login = match (method, route) {
        ("POST", "/auth/login") => Some("password"),
        ("GET", "/auth/oidc/callback") => Some("oidc"),
        _ => None,
    };
    if let Some(login) = login {
        let outcome = if status < 400 { "success" } else { code.unwrap_or("error") };
        let labels = [("method", login.to_owned()), ("outcome", outcome.to_owned())];
        metrics::counter!("codex_logins_total", &labels).increment(1);
    }
}
