//! The Codex Cloud authentication domain: types, ports (traits implemented by adapters) and use
//! cases. This crate does no IO of its own; everything outside the process is behind a port.

pub mod domain;
pub mod ports;
pub mod service;

/// The error type carried by the opaque `Internal` arm of every error enum.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
