//! Herald's HTTP API (API.md): routes, extractors, error answers and JSON
//! views. Handlers stay thin: parse, call the service or the store, format.
//!
//! Every error leaves as `{"error": {"code", "message", "field"}}` through
//! [`error::ApiError`], including unknown routes (404), wrong methods (405)
//! and bodies over 1 MiB (413). The routes are listed once, in
//! [`routes`]; `GET /openapi.json` ([`openapi`]) describes them from the
//! request and response types of [`model`].

pub mod bookings;
pub mod error;
pub mod extract;
pub mod fallback;
pub mod health;
pub mod hooks;
pub mod integrations;
pub mod model;
pub mod notifications;
pub mod openapi;
pub mod query;
pub mod recipients;
pub mod routes;
pub mod simulator;
pub mod tenants;
pub mod types;
pub mod views;

#[cfg(test)]
mod tests;

use crate::service::App;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::sync::Arc;

/// The largest request body accepted (1 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole API over a service: the routes of `routes::ROUTES`, the
/// error answers for unknown paths and methods, the body limit, and the
/// console beside it.
pub fn router(app: Arc<App>) -> Router {
    routes::router()
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app.clone())
        // The console's pages (`/`, `/login`, `/types`, …) beside the API.
        .merge(crate::console::router(app))
}
