//! `/v1/notification-types`: the channels, order, scenarios and templates
//! of each kind of notification.

use super::error::ApiError;
use super::extract::{PathId, StrictJson, TenantAuth};
use super::model::{NotificationTypeList, NotificationTypeView};
use super::openapi::{E400, E401, E404, E413, E415, E422, E503};
use super::views;
use crate::service::App;
use axum::extract::State;
use axum::Json;
use herald_core::TypeConfig;
use std::sync::Arc;

/// `PUT /v1/notification-types/{key}`: validates and stores the type;
/// returns it with its `key`.
#[utoipa::path(
    put,
    path = "/v1/notification-types/{key}",
    operation_id = "put_notification_type",
    tag = "notification-types",
    security(("tenant_key" = [])),
    params(("key" = String, Path, description = "The type's key (up to 255 characters).")),
    request_body(content = TypeConfig, description = "The array order is the channel order; a rule broken (SPEC.md) → 422 naming the field, e.g. `channels[1].scenario`; a template that does not parse → 422 naming it (`templates.email.en.subject`)."),
    responses(
        (status = 200, description = "The type as stored.", body = NotificationTypeView),
        E400, E401, E413, E415, E422, E503,
    ),
)]
pub async fn put(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(key): PathId,
    StrictJson(config): StrictJson<TypeConfig>,
) -> Result<Json<NotificationTypeView>, ApiError> {
    let stored = app.put_type(&tenant, &key, config).await?;
    Ok(Json(views::notification_type(&stored)))
}

/// `GET /v1/notification-types/{key}`.
#[utoipa::path(
    get,
    path = "/v1/notification-types/{key}",
    operation_id = "get_notification_type",
    tag = "notification-types",
    security(("tenant_key" = [])),
    params(("key" = String, Path, description = "The type's key.")),
    responses(
        (status = 200, description = "The type.", body = NotificationTypeView),
        E400, E401, E404,
    ),
)]
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(key): PathId,
) -> Result<Json<NotificationTypeView>, ApiError> {
    let stored = app
        .store
        .get_type(&tenant.id, &key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("notification type {key:?} not found")))?;
    Ok(Json(views::notification_type(&stored)))
}

/// `GET /v1/notification-types`: `{"notification_types": [...]}` by key.
#[utoipa::path(
    get,
    path = "/v1/notification-types",
    operation_id = "list_notification_types",
    tag = "notification-types",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "Every type, by key.", body = NotificationTypeList),
        E401,
    ),
)]
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
) -> Result<Json<NotificationTypeList>, ApiError> {
    let notification_types = app
        .store
        .list_types(&tenant.id)
        .await?
        .iter()
        .map(views::notification_type)
        .collect();
    Ok(Json(NotificationTypeList { notification_types }))
}

/// `DELETE /v1/notification-types/{key}`: 204; what was already triggered
/// stays in the log.
#[utoipa::path(
    delete,
    path = "/v1/notification-types/{key}",
    operation_id = "delete_notification_type",
    tag = "notification-types",
    security(("tenant_key" = [])),
    params(("key" = String, Path, description = "The type's key.")),
    responses(
        (status = 204, description = "Removed; what was already triggered stays in the log."),
        E400, E401, E404, E503,
    ),
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(key): PathId,
) -> Result<axum::http::StatusCode, ApiError> {
    app.delete_type(&tenant, &key).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
