//! Herald's HTTP API (API.md): routes, extractors, error answers and JSON
//! views. Handlers stay thin: parse, call the service or the store, format.
//!
//! Every error leaves as `{"error": {"code", "message", "field"}}` through
//! [`error::ApiError`], including unknown routes (404), wrong methods (405)
//! and bodies over 1 MiB (413).

pub mod error;
pub mod extract;
pub mod fallback;
pub mod health;
pub mod hooks;
pub mod integrations;
pub mod notifications;
pub mod query;
pub mod recipients;
pub mod simulator;
pub mod tenants;
pub mod types;
pub mod views;

#[cfg(test)]
mod tests;

use crate::service::App;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

/// The largest request body accepted (1 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole API over a service.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/v1/tenants", post(tenants::create))
        .route("/v1/integrations", get(integrations::list))
        .route(
            "/v1/integrations/{channel}",
            put(integrations::put)
                .get(integrations::get_one)
                .delete(integrations::delete),
        )
        .route("/v1/integrations/{channel}/test", post(integrations::test))
        .route(
            "/v1/operator/integrations",
            get(integrations::list_operator),
        )
        .route(
            "/v1/operator/integrations/{channel}",
            put(integrations::put_operator)
                .get(integrations::get_operator)
                .delete(integrations::delete_operator),
        )
        .route("/v1/hooks/{hook_id}", post(hooks::take).get(hooks::take))
        .route("/v1/notification-types", get(types::list))
        .route(
            "/v1/notification-types/{key}",
            put(types::put).get(types::get_one).delete(types::delete),
        )
        .route("/v1/clients", get(recipients::list_clients))
        .route(
            "/v1/clients/{id}",
            put(recipients::put_client)
                .get(recipients::get_client)
                .delete(recipients::delete_client),
        )
        .route("/v1/staff", get(recipients::list_staff))
        .route(
            "/v1/staff/{id}",
            put(recipients::put_staff)
                .get(recipients::get_staff)
                .delete(recipients::delete_staff),
        )
        .route(
            "/v1/notifications",
            post(notifications::trigger).get(notifications::list),
        )
        // The static segment wins over `{id}`: a GET of it is a wrong
        // method (405).
        .route("/v1/notifications/preview", post(notifications::preview))
        .route("/v1/notifications/{id}", get(notifications::get_one))
        .route("/v1/simulator/outbox", get(simulator::outbox))
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app.clone())
        // The console's pages (`/`, `/login`, `/types`, …) beside the API.
        .merge(crate::console::router(app))
}
