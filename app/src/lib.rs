//! Codex Cloud Backend: the HTTP API that authenticates Codex Cloud users locally or through an
//! external OpenID Connect provider, and issues Codex sessions and access tokens.

pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod metrics;
pub mod server;
pub mod telemetry;
