//! `/v1/notification-types`: the channels, order, scenarios and templates
//! of each kind of notification.

use super::error::ApiError;
use super::extract::{PathId, StrictJson, TenantAuth};
use super::views;
use crate::service::App;
use axum::extract::State;
use axum::Json;
use herald_core::TypeConfig;
use serde_json::{json, Value};
use std::sync::Arc;

/// `PUT /v1/notification-types/{key}`: validates and stores the type;
/// returns it with its `key`.
pub async fn put(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(key): PathId,
    StrictJson(config): StrictJson<TypeConfig>,
) -> Result<Json<Value>, ApiError> {
    let stored = app.put_type(&tenant, &key, config).await?;
    Ok(Json(views::notification_type(&stored)?))
}

/// `GET /v1/notification-types/{key}`.
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(key): PathId,
) -> Result<Json<Value>, ApiError> {
    let stored = app
        .store
        .get_type(&tenant.id, &key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("notification type {key:?} not found")))?;
    Ok(Json(views::notification_type(&stored)?))
}

/// `GET /v1/notification-types`: `{"notification_types": [...]}` by key.
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
) -> Result<Json<Value>, ApiError> {
    let all = app
        .store
        .list_types(&tenant.id)
        .await?
        .iter()
        .map(views::notification_type)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "notification_types": all })))
}

/// `DELETE /v1/notification-types/{key}`: 204; what was already triggered
/// stays in the log.
pub async fn delete(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(key): PathId,
) -> Result<axum::http::StatusCode, ApiError> {
    app.delete_type(&tenant, &key).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
