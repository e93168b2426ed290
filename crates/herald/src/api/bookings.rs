//! Cancels and moves (API.md "Bookings, schedules, deadlines, quiet
//! hours"): one notification's cancel, a booking's cancel and move, and
//! the tenant's time zone.

use super::error::ApiError;
use super::extract::{PathId, StrictJson, TenantAuth};
use super::model::{
    BookingCancelledView, BookingMove, BookingMoved, NotificationView, TenantPatch, TenantView,
};
use super::openapi::{E400, E401, E404, E413, E415, E422, E503};
use super::views;
use crate::service::App;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;

/// `POST /v1/notifications/{id}/cancel`: channels not yet sent end
/// `cancelled`; what was sent stays. Again: changes nothing.
#[utoipa::path(
    post,
    path = "/v1/notifications/{id}/cancel",
    operation_id = "cancel_notification",
    tag = "notifications",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The notification's id.")),
    responses(
        (status = 200, description = "The notification after the cancel.", body = NotificationView),
        E400, E401, E404, E503,
    ),
)]
pub async fn cancel_notification(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<NotificationView>, ApiError> {
    app.cancel_notification(&tenant, &id).await?;
    let n = app
        .store
        .get_notification(&tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("notification {id:?} not found")))?;
    Ok(Json(views::notification_view(&n)))
}

/// `POST /v1/bookings/{id}/cancel`: every scheduled or pending
/// notification of the booking is cancelled.
#[utoipa::path(
    post,
    path = "/v1/bookings/{id}/cancel",
    operation_id = "cancel_booking",
    tag = "bookings",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The booking's id.")),
    responses(
        (status = 200, description = "How many were cancelled, and how many had already been sent.", body = BookingCancelledView),
        E400, E401, E404, E503,
    ),
)]
pub async fn cancel_booking(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
) -> Result<Json<BookingCancelledView>, ApiError> {
    let done = app.cancel_booking(&tenant, &id).await?;
    Ok(Json(BookingCancelledView {
        cancelled: done.cancelled,
        already_sent: done.already_sent,
    }))
}

/// `PUT /v1/bookings/{id}`: the booking moved; its notifications not yet
/// started get their relative send time and default deadline again.
#[utoipa::path(
    put,
    path = "/v1/bookings/{id}",
    operation_id = "move_booking",
    tag = "bookings",
    security(("tenant_key" = [])),
    params(("id" = String, Path, description = "The booking's id.")),
    request_body = BookingMove,
    responses(
        (status = 200, description = "How many notifications were moved.", body = BookingMoved),
        E400, E401, E404, E413, E415, E422, E503,
    ),
)]
pub async fn move_booking(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    PathId(id): PathId,
    StrictJson(body): StrictJson<BookingMove>,
) -> Result<Json<BookingMoved>, ApiError> {
    let rescheduled = app
        .reschedule_booking(&tenant, &id, &body.starts_at)
        .await?;
    Ok(Json(BookingMoved { rescheduled }))
}

/// `GET /v1/tenant`: the tenant's own settings.
#[utoipa::path(
    get,
    path = "/v1/tenant",
    operation_id = "get_tenant",
    tag = "tenant",
    security(("tenant_key" = [])),
    responses(
        (status = 200, description = "The tenant.", body = TenantView),
        E401,
    ),
)]
pub async fn get_tenant(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
) -> Result<Json<TenantView>, ApiError> {
    let timezone = app.tenant_timezone(&tenant).await?;
    Ok(Json(TenantView {
        id: tenant.id,
        name: tenant.name,
        timezone,
    }))
}

/// `PATCH /v1/tenant` `{"timezone": "Europe/Berlin"}`: sets the given
/// fields (an unknown zone → 422 `timezone`).
#[utoipa::path(
    patch,
    path = "/v1/tenant",
    operation_id = "patch_tenant",
    tag = "tenant",
    security(("tenant_key" = [])),
    request_body = TenantPatch,
    responses(
        (status = 200, description = "The tenant as it is now.", body = TenantView),
        E400, E401, E413, E415, E422, E503,
    ),
)]
pub async fn patch_tenant(
    State(app): State<Arc<App>>,
    TenantAuth(tenant): TenantAuth,
    StrictJson(body): StrictJson<TenantPatch>,
) -> Result<Json<TenantView>, ApiError> {
    if let Some(tz) = &body.timezone {
        app.set_tenant_timezone(&tenant, Some(tz)).await?;
    }
    get_tenant(State(app), TenantAuth(tenant)).await
}
