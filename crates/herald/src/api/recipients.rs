//! `/v1/clients` and `/v1/staff`: the people notifications go to, one by
//! one and listed with search and paging.

use super::error::ApiError;
use super::extract::{PathId, QueryParams, StrictJson, TenantAuth};
use super::{query, views};
use crate::service::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use herald_core::{Audience, Recipient};
use serde_json::{json, Value};
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

/// Removes a recipient: 204, or 404 when there is none.
async fn delete(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    id: &str,
) -> Result<StatusCode, ApiError> {
    app.delete_recipient(tenant, kind, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One page of recipients: `{"<list>": [...], "next"}`.
async fn list(
    app: &App,
    tenant: &herald_store::Tenant,
    kind: Audience,
    list_name: &str,
    params: &std::collections::HashMap<String, String>,
) -> Result<Json<Value>, ApiError> {
    let q = query::recipient_query(params)?;
    let (page, next) = app.list_recipients(tenant, kind, &q).await?;
    let items = page
        .iter()
        .map(|(id, r)| views::recipient(id, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ list_name: items, "next": next })))
}

/// `DELETE /v1/clients/{id}`.
pub async fn delete_client(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    delete(&app, &tenant, Audience::Client, &id).await
}

/// `DELETE /v1/staff/{id}`.
pub async fn delete_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    delete(&app, &tenant, Audience::Staff, &id).await
}

/// `GET /v1/clients?q=&limit=&after=`.
pub async fn list_clients(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<Value>, ApiError> {
    list(&app, &tenant, Audience::Client, "clients", &params).await
}

/// `GET /v1/staff?q=&limit=&after=`.
pub async fn list_staff(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<Value>, ApiError> {
    list(&app, &tenant, Audience::Staff, "staff", &params).await
}
