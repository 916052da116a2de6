//! The one integration test binary of the Codex Cloud backend: contract tests of the store
//! ports, HTTP tests through `poem::test::TestClient`, configuration, seeding, and the real
//! binary over a socket.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

mod admin;
mod binary;
mod binary_keys;
mod binary_logs;
mod binary_metrics;
mod binary_oidc;
mod binary_oidc_check;
mod binary_outage;
mod binary_replicas;
mod binary_rotation;
mod binary_security;
mod config;
mod contract;
mod http_auth;
mod http_cors;
mod http_csrf;
mod http_docs;
mod http_errors;
mod http_queries;
mod http_readiness;
mod http_tokens;
mod key_rotation;
mod oidc_conformance;
mod oidc_flow;
mod oidc_hardening;
mod oidc_jwks;
mod oidc_linking;
mod oidc_outbound;
mod oidc_transport;
mod openapi_snapshot;
mod security_accounts;
mod security_audit;
mod security_hash_queue;
mod security_sessions;
mod security_throttling;
mod seed;
mod session_cache;
mod store_writes;
