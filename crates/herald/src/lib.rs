//! Herald: notification cascades for booking businesses. This crate wires
//! the pure core and the store to the outside world: providers, workers,
//! the HTTP API and the CLI.

pub mod api;
pub mod cache;
pub mod clock;
pub mod console;
pub mod error;
pub mod json;
pub mod limiter;
pub mod metrics;
pub mod providers;
pub mod retention;
pub mod secrets;
pub mod server;
pub mod service;
pub mod worker;
