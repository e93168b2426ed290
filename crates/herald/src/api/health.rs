//! `GET /healthz` and `GET /metrics`: no key needed.

use super::model::{ErrorDetail, Health, HealthStatus};
use crate::service::App;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// The Prometheus text exposition format's content type.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// `200 {"status": "ok", "writable": true}` when the store answers, `503`
/// otherwise. While the database refuses writes (a full disk, a lock held
/// by another process) reads still work, so it answers `200` with
/// `"status": "degraded", "writable": false` and says why: the node is up,
/// its triggers answer 503 with `Retry-After`, and it resumes by itself.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    responses(
        (status = 200, description = "The store answers (writable, or degraded: reads only).", body = Health),
        (status = 503, description = "The store does not answer.", body = Health),
    ),
)]
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) if app.store.writable() => (
            StatusCode::OK,
            Json(Health {
                status: HealthStatus::Ok,
                writable: Some(true),
                reason: None,
                error: None,
            }),
        )
            .into_response(),
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: HealthStatus::Degraded,
                writable: Some(false),
                reason: Some(
                    "the database cannot take writes now (disk full or locked by another \
                     process); reads work, writes answer 503 and are retried"
                        .into(),
                ),
                error: None,
            }),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: HealthStatus::Unavailable,
                    writable: None,
                    reason: None,
                    error: Some(ErrorDetail {
                        code: "store_unavailable".into(),
                        message: "the database does not answer".into(),
                        field: None,
                    }),
                }),
            )
                .into_response()
        }
    }
}

/// The counters in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text exposition format; no key.", content_type = "text/plain", body = String)),
)]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        app.metrics.render(&app.store.counters()),
    )
        .into_response()
}
