//! The `codex-cloud-backend` binary.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;

use codex_cloud_backend::bootstrap::{Backend, Overrides};
use codex_cloud_backend::cli::{self, Cli, Command};
use codex_cloud_backend::config::Settings;
use codex_cloud_backend::server::{self, Limits};
use codex_cloud_backend::{http, metrics, telemetry};

/// jemalloc: freed memory goes back to the system (with its background thread on, even while
/// the server is idle), so a login storm leaves no lasting footprint.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        // `oidc-check` reports bad settings as its first failed check.
        Err(e) if matches!(cli.command, Some(Command::OidcCheck { .. })) => {
            let json = matches!(cli.command, Some(Command::OidcCheck { json: true }));
            let finding = cli::Finding {
                check: "variables",
                outcome: cli::Outcome::Fail,
                seen: e.to_string(),
                fix: "fix the variable named above".to_owned(),
            };
            cli::print_findings(&[finding], json);
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings).await,
        command => cli::run(command, &settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    #[cfg(all(target_os = "linux", not(target_env = "msvc")))]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc's background purging is off: freed memory returns later");
    }
    // The recorder comes first, so that what the backend records while it is built counts.
    let recorder = settings.metrics_bind.map(|_| metrics::install()).transpose()?;
    let backend = Backend::build(settings, Overrides::default()).await?;
    backend.spawn_background_tasks();
    if let (Some(bind), Some(handle)) = (settings.metrics_bind, recorder) {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} (CODEX_METRICS_BIND)"))?;
        let endpoint = metrics::endpoint(handle, backend.pool_usage());
        tracing::info!(%bind, "serving /metrics");
        tokio::spawn(async move {
            let never = std::future::pending::<()>();
            if let Err(e) = server::serve(listener, endpoint, Limits::default(), never).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {} (CODEX_BIND)", settings.bind))?;
    tracing::info!(bind = %settings.bind, oidc = settings.oidc.is_some(), "serving");
    let limits = Limits { max_connections: settings.max_connections, ..Limits::default() };
    server::serve(listener, http::endpoint(backend.services), limits, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
