//! `ApiError`: the one place where service, store, body and JSON errors
//! become HTTP answers of the shape
//! `{"error": {"code": "...", "message": "...", "field": "..." | null}}`.
//!
//! Store failures are logged here and answered with a generic 500 message;
//! their text never reaches the client.

use crate::error::ServiceError;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_core::FieldError;
use herald_store::StoreError;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`unauthorized`, `required`, …).
    pub code: String,
    /// A sentence for the integrating engineer.
    pub message: String,
    /// The request field at fault, as a JSON path (`channels[1].scenario`).
    pub field: Option<String>,
    /// Seconds to wait before trying again (`Retry-After`), for a 503.
    pub retry_after_s: Option<u32>,
}

impl ApiError {
    /// Builds an error with any status.
    pub fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
        field: Option<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            field,
            retry_after_s: None,
        }
    }

    /// 503 with `Retry-After`: the request was fine, Herald cannot take it
    /// now; nothing was stored.
    pub fn unavailable(message: impl Into<String>, retry_after_s: u32) -> Self {
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                message,
                None,
            )
        }
    }

    /// 400: a body or query that cannot be read.
    pub fn bad_request(code: &str, message: impl Into<String>, field: Option<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message, field)
    }

    /// 401: no key, or a key Herald does not know.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown API key; send it as Authorization: Bearer <key>",
            None,
        )
    }

    /// 404: nothing at this path (for this tenant).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message, None)
    }

    /// 405: the path exists, the method does not.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed on this path",
            None,
        )
    }

    /// 413: the body is over the limit.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than 1 MiB",
            None,
        )
    }

    /// 415: the body is not `application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as JSON with Content-Type: application/json",
            None,
        )
    }

    /// 422: a rule broken by a field.
    pub fn invalid(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message,
            Some(field.into()),
        )
    }

    /// 500: something broke inside Herald. The detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error answering a request");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the details are in Herald's log",
            None,
        )
    }

    /// Turns a failure to read the request body into an answer: 413 when
    /// the body is over the limit, 400 otherwise.
    pub fn from_body_rejection(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::body_too_large()
        } else {
            Self::bad_request(
                "unreadable_body",
                "the request body could not be read",
                None,
            )
        }
    }

    /// Answers a JSON error as `crate::json` reads it: 400 for malformed
    /// JSON or a wrong type, 422 for the rest, with the field named.
    pub fn from_json(err: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        crate::json::field_error(err, None).into()
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let status = if crate::json::is_bad_request(e.code) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let field = (!e.field.is_empty()).then_some(e.field);
        Self::new(status, e.code, e.message, field)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m, None),
            StoreError::Closed => {
                tracing::warn!("request refused: the store is shutting down");
                Self::unavailable("Herald is shutting down; try again shortly", 5)
            }
            // The disk is full or the database is locked (a backup): the
            // request was fine and nothing was stored; the client retries.
            StoreError::Unavailable(why) => {
                tracing::warn!("request refused, the database cannot write now: {why}");
                Self::unavailable(
                    "Herald cannot write to its database right now; nothing was stored, try again shortly",
                    1,
                )
            }
            other => Self::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthorized => Self::unauthorized(),
            ServiceError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m, None),
            ServiceError::NotFound(what) => Self::not_found(format!("{what} not found")),
            ServiceError::Invalid(fe) => fe.into(),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m, None),
            ServiceError::Store(se) => se.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = super::model::ErrorBody {
            error: super::model::ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
