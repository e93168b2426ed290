//! `GET /v1/simulator/outbox`: what the tenant's simulators were asked to
//! send, oldest first, once per idempotency key.

use super::error::ApiError;
use super::extract::{QueryParams, TenantAuth};
use super::{query, views};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /v1/simulator/outbox?notification=&channel=&limit=&after=`.
pub async fn outbox(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<Value>, ApiError> {
    let q = query::outbox_query(&params)?;
    let Some(sim) = &app.sim else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "simulator_unavailable",
            "this store keeps no simulator outbox",
            None,
        ));
    };
    let messages: Vec<Value> = sim
        .sim_outbox(&tenant.id, &q)
        .await?
        .iter()
        .map(views::sim_message)
        .collect();
    Ok(Json(json!({ "messages": messages })))
}
