//! `POST /v1/tenants`: the operator creates a tenant and gets its API key.

use super::error::ApiError;
use super::extract::{Admin, StrictJson};
use super::model::{NewTenant, TenantCreated};
use super::openapi::{E400, E401, E403, E413, E415, E422, E503};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;

/// Creates a tenant: `201 {"id", "name", "api_key"}`; the key is shown
/// only here.
#[utoipa::path(
    post,
    path = "/v1/tenants",
    operation_id = "create_tenant",
    tag = "operator",
    security(("admin_token" = [])),
    request_body = NewTenant,
    responses(
        (status = 201, description = "The tenant, with its API key (shown only here).", body = TenantCreated),
        E400, E401, E403, E413, E415, E422, E503,
    ),
)]
pub async fn create(
    State(app): State<Arc<App>>,
    _admin: Admin,
    StrictJson(body): StrictJson<NewTenant>,
) -> Result<(StatusCode, Json<TenantCreated>), ApiError> {
    let (tenant, api_key) = app.create_tenant(&body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantCreated {
            id: tenant.id,
            name: tenant.name,
            api_key,
            created_at: super::views::time(tenant.created_at),
        }),
    ))
}
