//! `GET /`: a small read-only console in the browser: the notification log
//! of the tenant whose API key is entered, and each notification's cascade.
//! One static page that speaks the public API, so it needs no session of
//! its own and shows exactly what an integration sees.

use axum::http::header;
use axum::response::IntoResponse;

/// The page, embedded in the binary.
const PAGE: &str = include_str!("console/index.html");

/// Serves the console page.
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}
