//! `POST /v1/tenants`: the operator creates a tenant and gets its API key.

use super::error::ApiError;
use super::extract::{Admin, StrictJson};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The body of `POST /v1/tenants`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// The business's name.
    pub name: String,
}

/// Creates a tenant: `201 {"id", "name", "api_key"}`; the key is shown
/// only here.
pub async fn create(
    State(app): State<Arc<App>>,
    _admin: Admin,
    StrictJson(body): StrictJson<NewTenant>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (tenant, api_key) = app.create_tenant(&body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": tenant.id,
            "name": tenant.name,
            "api_key": api_key,
            "created_at": super::views::timestamp(tenant.created_at),
        })),
    ))
}
