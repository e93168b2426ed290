//! The one list of the API's routes. The router, the OpenAPI document's
//! paths and the test that checks the document describes every route
//! all come from the `api_routes!` table below, so a route is added in
//! one place: a line here, naming a handler that has its
//! `#[utoipa::path]` (a handler without one does not compile here).

use super::{bookings, health, hooks, integrations, notifications, openapi, recipients, simulator};
use super::{tenants, types};
use crate::service::App;
use axum::routing::MethodRouter;
use axum::Router;
use std::sync::Arc;

/// Builds, from one table of `path => { method: module::handler, … }`:
/// `ROUTES` (every path with its methods), `router()` and `paths()` (the
/// handlers' OpenAPI operations).
macro_rules! api_routes {
    ($($path:literal => { $($method:ident : $module:ident :: $handler:ident),+ $(,)? }),+ $(,)?) => {
        /// Every route the API serves: its path (axum's `{name}` syntax,
        /// which is OpenAPI's too) and its methods, lower case.
        pub const ROUTES: &[(&str, &[&str])] = &[$(($path, &[$(stringify!($method)),+])),+];

        /// The API's routes, without the fallbacks and layers `api::router`
        /// adds.
        pub fn router() -> Router<Arc<App>> {
            Router::new()$(.route($path, MethodRouter::new()$(.$method($module::$handler))+))+
        }

        /// The operations of every route, from the handlers' attributes.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($module::$handler),+),+))]
        struct Paths;

        /// The document's paths and the schemas they use.
        pub fn paths() -> utoipa::openapi::OpenApi {
            <Paths as utoipa::OpenApi>::openapi()
        }
    };
}

api_routes! {
    "/healthz" => { get: health::healthz },
    "/metrics" => { get: health::metrics },
    "/openapi.json" => { get: openapi::openapi_json },
    "/v1/tenants" => { post: tenants::create },
    "/v1/integrations" => { get: integrations::list },
    "/v1/integrations/{channel}" => {
        put: integrations::put,
        get: integrations::get_one,
        delete: integrations::delete,
    },
    "/v1/integrations/{channel}/test" => { post: integrations::test },
    "/v1/operator/integrations" => { get: integrations::list_operator },
    "/v1/operator/integrations/{channel}" => {
        put: integrations::put_operator,
        get: integrations::get_operator,
        delete: integrations::delete_operator,
    },
    "/v1/hooks/{hook_id}" => { post: hooks::receive, get: hooks::handshake },
    "/v1/notification-types" => { get: types::list },
    "/v1/notification-types/{key}" => {
        put: types::put,
        get: types::get_one,
        delete: types::delete,
    },
    "/v1/clients" => { get: recipients::list_clients },
    "/v1/clients/{id}" => {
        put: recipients::put_client,
        get: recipients::get_client,
        delete: recipients::delete_client,
    },
    "/v1/staff" => { get: recipients::list_staff },
    "/v1/staff/{id}" => {
        put: recipients::put_staff,
        get: recipients::get_staff,
        delete: recipients::delete_staff,
    },
    "/v1/notifications" => { post: notifications::trigger, get: notifications::list },
    // The static segment wins over `{id}`: a GET of it is a wrong method
    // (405).
    "/v1/notifications/preview" => { post: notifications::preview },
    "/v1/notifications/{id}" => { get: notifications::get_one },
    "/v1/notifications/{id}/cancel" => { post: bookings::cancel_notification },
    "/v1/bookings/{id}" => { put: bookings::move_booking },
    "/v1/bookings/{id}/cancel" => { post: bookings::cancel_booking },
    "/v1/tenant" => { get: bookings::get_tenant, patch: bookings::patch_tenant },
    "/v1/simulator/outbox" => { get: simulator::outbox },
}
