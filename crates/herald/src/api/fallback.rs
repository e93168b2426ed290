//! Answers for requests no route takes: an unknown path (404) or a known
//! path with a method it does not serve (405), both in the error shape.

use super::error::ApiError;

/// Any path Herald does not serve.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see the API reference")
}

/// A known path with the wrong method (axum adds the `Allow` header).
pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
