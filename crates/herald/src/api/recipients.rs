//! `/v1/clients/{id}` and `/v1/staff/{id}`: the people notifications go to.

use super::error::ApiError;
use super::extract::{PathId, StrictJson, TenantAuth};
use super::views;
use crate::service::App;
use axum::extract::State;
use axum::Json;
use herald_core::{Audience, Recipient};
use serde_json::Value;
use std::sync::Arc;

/// Validates and stores a recipient; returns `{"id", ...fields}`.
async fn put(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    id: &str,
    r: Recipient,
) -> Result<Json<Value>, ApiError> {
    let stored = app.put_recipient(tenant, kind, id, r).await?;
    Ok(Json(views::recipient(id, &stored)?))
}

/// The recipient as stored now (a token removed as unregistered is gone).
async fn get(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    let stored = app
        .store
        .get_recipient(&tenant.id, kind, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{} {id:?} not found", kind.as_str())))?;
    Ok(Json(views::recipient(id, &stored)?))
}

/// `PUT /v1/clients/{id}`.
pub async fn put_client(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
    StrictJson(r): StrictJson<Recipient>,
) -> Result<Json<Value>, ApiError> {
    put(&app, &tenant, Audience::Client, &id, r).await
}

/// `GET /v1/clients/{id}`.
pub async fn get_client(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    get(&app, &tenant, Audience::Client, &id).await
}

/// `PUT /v1/staff/{id}`.
pub async fn put_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
    StrictJson(r): StrictJson<Recipient>,
) -> Result<Json<Value>, ApiError> {
    put(&app, &tenant, Audience::Staff, &id, r).await
}

/// `GET /v1/staff/{id}`.
pub async fn get_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    get(&app, &tenant, Audience::Staff, &id).await
}
