//! `/v1/notifications`: trigger, log, one notification's story, preview.

use super::error::ApiError;
use super::extract::{PathId, QueryParams, StrictJson, TenantAuth};
use super::model::{NotificationList, NotificationView, PreviewView, TriggerAccepted};
use super::openapi::{E400, E401, E404, E409, E413, E415, E422, E503};
use super::{query, views};
use crate::service::{App, TriggerInput, Triggered};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_core::Status;
use std::sync::Arc;

/// `POST /v1/notifications`: `202 {"id", "status": "pending"}` once the
/// notification is stored; the same idempotency key again answers `200`
/// with that notification as it stands.
#[utoipa::path(
    post,
    path = "/v1/notifications",
    operation_id = "trigger_notification",
    tag = "notifications",
    security(("tenant_key" = [])),
    request_body = TriggerInput,
    responses(
        (status = 202, description = "Stored durably; the cascade has started.", body = TriggerAccepted),
        (status = 200, description = "The same idempotency key again: the first notification as it stands; nothing new was created.", body = NotificationView),
        E400, E401, E409, E413, E415, E422, E503,
    ),
)]
pub async fn trigger(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    StrictJson(input): StrictJson<TriggerInput>,
) -> Result<Response, ApiError> {
    let accepted = |id, status| TriggerAccepted { id, status };
    match app.trigger(&tenant, input).await? {
        Triggered::Created(id, status) => {
            Ok((StatusCode::ACCEPTED, Json(accepted(id, status))).into_response())
        }
        Triggered::Existing(id) => Ok(match app.store.get_notification(&tenant.id, &id).await? {
            Some(n) => (StatusCode::OK, Json(views::notification_view(&n))).into_response(),
            None => (StatusCode::OK, Json(accepted(id, Status::Pending))).into_response(),
        }),
    }
}

/// `GET /v1/notifications/{id}`: the notification with every channel's
/// outcome, reason and attempts.
#[utoipa::path(
    get,
    path = "/v1/notifications/{id}",
    operation_id = "get_notification",
    tag = "notifications",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The notification's id.")),
    responses(
        (status = 200, description = "The notification with its cascade.", body = NotificationView),
        E400, E401, E404,
    ),
)]
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<NotificationView>, ApiError> {
    let n = app
        .store
        .get_notification(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("notification {id:?} not found")))?;
    Ok(Json(views::notification_view(&n)))
}

/// `GET /v1/notifications?status=&type=&limit=&before=`: the log, newest
/// first, with `next` set when the page is full.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    operation_id = "list_notifications",
    tag = "notifications",
    security(("tenant_key" = [])),
    params(
        ("status" = Option<Status>, Query, description = "Only notifications with this status."),
        ("type" = Option<String>, Query, description = "Only this notification type."),
        ("limit" = Option<u32>, Query, description = "At most this many (default 50, 1–1,000).", minimum = 1, maximum = 1000),
        ("before" = Option<String>, Query, description = "The `next` of the previous page."),
    ),
    responses(
        (status = 200, description = "One page of the log, newest first.", body = NotificationList),
        E400, E401, E422,
    ),
)]
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<NotificationList>, ApiError> {
    let q = query::list_query(&params)?;
    if let Some(before) = &q.before {
        // A cursor is an id of this tenant's log; anything else is a bad
        // cursor, not an empty page.
        if app
            .store
            .get_notification(&tenant.id, before)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "before".to_string(),
                "unknown_cursor",
                format!("before: no notification {before:?} in this log"),
            ));
        }
    }
    let page = app.store.list_notifications(&tenant.id, &q).await?;
    let next = if page.len() >= q.limit {
        page.last().map(|s| s.id.clone())
    } else {
        None
    };
    let notifications = page.iter().map(views::summary).collect();
    Ok(Json(NotificationList {
        notifications,
        next,
    }))
}

/// `POST /v1/notifications/preview`: what a trigger would do and the texts
/// it would send; nothing is stored or sent.
#[utoipa::path(
    post,
    path = "/v1/notifications/preview",
    operation_id = "preview_notification",
    tag = "notifications",
    security(("tenant_key" = [])),
    request_body(content = TriggerInput, description = "The same body as a trigger."),
    responses(
        (status = 200, description = "The plan: what each channel would do and why, and the rendered texts. Nothing was stored or sent.", body = PreviewView),
        E400, E401, E413, E415, E422,
    ),
)]
pub async fn preview(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    StrictJson(input): StrictJson<TriggerInput>,
) -> Result<Json<PreviewView>, ApiError> {
    let (planned, items) = app.preview(&tenant, &input).await?;
    Ok(Json(views::preview_view(&planned, &items)))
}
