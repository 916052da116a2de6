//! Test support for the Codex Cloud backend: a `TestApp` wired with the real use cases over a
//! chosen identity store, per-test databases, token forging, and helpers to run the real binary.
//!
//! OpenID Connect support (a fake OpenID Provider on 127.0.0.1 and its wiring) belongs in its own
//! module here (`pub mod oidc;`), plugged into `TestAppBuilder::oidc`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a panic is how a test fails"
)]

pub mod app;
pub mod database;
pub mod failing_store;
pub mod fake_op;
pub mod http;
pub mod keys;
pub mod oidc;
pub mod process;
pub mod tokens;

pub use app::{TestApp, TestAppBuilder};
pub use database::{StoreBackend, TestStore};
