//! Test support for the Codex Cloud backend: a `TestApp` built by the composition root over a
//! chosen store, per-test databases, token forging, a fake OpenID Provider on 127.0.0.1 with an
//! `OidcHarness` around it, and helpers to run the real binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

pub mod app;
pub mod conformance;
pub mod database;
pub mod failing_store;
pub mod fake_op;
pub mod http;
pub mod keys;
pub mod oidc;
pub mod process;
pub mod tls;
pub mod tokens;

pub use app::{TestApp, TestAppBuilder};
pub use database::{StoreBackend, TestStore};
