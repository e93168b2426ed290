//! `GET /healthz` and `GET /metrics`: no key needed.

use crate::service::App;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

/// The Prometheus text exposition format's content type.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// `200 {"status": "ok", "writable": true}` when the store answers, `503`
/// otherwise. While the database refuses writes (a full disk, a lock held
/// by another process) reads still work, so it answers `200` with
/// `"status": "degraded", "writable": false` and says why: the node is up,
/// its triggers answer 503 with `Retry-After`, and it resumes by itself.
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) if app.store.writable() => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "writable": true })),
        )
            .into_response(),
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "degraded",
                "writable": false,
                "reason": "the database cannot take writes now (disk full or locked by another \
                           process); reads work, writes answer 503 and are retried",
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "error": {
                        "code": "store_unavailable",
                        "message": "the database does not answer",
                        "field": null,
                    }
                })),
            )
                .into_response()
        }
    }
}

/// The counters in the Prometheus text format.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        app.metrics.render(&app.store.counters()),
    )
        .into_response()
}
