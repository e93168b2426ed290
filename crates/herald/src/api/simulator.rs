//! `GET /v1/simulator/outbox`: what the tenant's simulators were asked to
//! send, oldest first, once per idempotency key.

use super::error::ApiError;
use super::extract::{QueryParams, TenantAuth};
use super::model::Outbox;
use super::openapi::{E400, E401, E422, E501};
use super::{query, views};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;

/// `GET /v1/simulator/outbox?notification=&channel=&limit=&after=`.
#[utoipa::path(
    get,
    path = "/v1/simulator/outbox",
    operation_id = "simulator_outbox",
    tag = "simulator",
    security(("tenant_key" = [])),
    params(
        ("notification" = Option<String>, Query, description = "Only this notification's messages."),
        ("channel" = Option<herald_core::Channel>, Query, description = "Only this channel's messages."),
        ("limit" = Option<u32>, Query, description = "At most this many (default 100, at most 1,000).", minimum = 1, maximum = 1000),
        ("after" = Option<String>, Query, description = "The last `id` of the previous page."),
    ),
    responses(
        (status = 200, description = "Messages, oldest first.", body = Outbox),
        E400, E401, E422, E501,
    ),
)]
pub async fn outbox(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<Outbox>, ApiError> {
    let q = query::outbox_query(&params)?;
    let Some(sim) = &app.sim else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "simulator_unavailable",
            "this store keeps no simulator outbox",
            None,
        ));
    };
    let messages = sim
        .sim_outbox(&tenant.id, &q)
        .await?
        .iter()
        .map(views::sim_message)
        .collect();
    Ok(Json(Outbox { messages }))
}
