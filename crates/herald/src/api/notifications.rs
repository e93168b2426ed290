//! `/v1/notifications`: trigger, log, one notification's story, preview.

use super::error::ApiError;
use super::extract::{PathId, QueryParams, StrictJson, TenantAuth};
use super::{query, views};
use crate::service::{App, TriggerInput, Triggered};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// `POST /v1/notifications`: `202 {"id", "status": "pending"}` once the
/// notification is stored; the same idempotency key again answers `200`
/// with that notification as it stands.
pub async fn trigger(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    StrictJson(input): StrictJson<TriggerInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match app.trigger(&tenant, input).await? {
        Triggered::Created(id) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "id": id, "status": "pending" })),
        )),
        Triggered::Existing(id) => {
            let view = match app.store.get_notification(&tenant.id, &id).await? {
                Some(n) => views::notification(&n),
                None => json!({ "id": id, "status": "pending" }),
            };
            Ok((StatusCode::OK, Json(view)))
        }
    }
}

/// `GET /v1/notifications/{id}`: the notification with every channel's
/// outcome, reason and attempts.
pub async fn get_one(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let n = app
        .store
        .get_notification(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("notification {id:?} not found")))?;
    Ok(Json(views::notification(&n)))
}

/// `GET /v1/notifications?status=&type=&limit=&before=`: the log, newest
/// first, with `next` set when the page is full.
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    QueryParams(params): QueryParams,
) -> Result<Json<Value>, ApiError> {
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
    let items: Vec<Value> = page.iter().map(views::summary).collect();
    Ok(Json(json!({ "notifications": items, "next": next })))
}

/// `POST /v1/notifications/preview`: what a trigger would do and the texts
/// it would send; nothing is stored or sent.
pub async fn preview(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    StrictJson(input): StrictJson<TriggerInput>,
) -> Result<Json<Value>, ApiError> {
    let (planned, items) = app.preview(&tenant, &input).await?;
    Ok(Json(views::preview(&planned, &items)?))
}
