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
use serde_json::json;

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

    /// Classifies a JSON error: syntax → 400 `malformed_json`, a value of
    /// the wrong JSON type → 400 `wrong_type`, an unknown field → 422
    /// `unknown_field`, a missing field → 422 `required`, any other data
    /// error (unknown variant, number out of range) → 422 `invalid_value`.
    pub fn from_json(err: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        use serde_json::error::Category;
        let inner = err.inner();
        let text = strip_position(&inner.to_string()).to_string();
        match inner.classify() {
            Category::Io | Category::Syntax | Category::Eof => Self::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {inner}"),
                None,
            ),
            Category::Data => {
                let path = field_path(err.path());
                // A number where a number is wanted, but not one that fits
                // (1.5 or 1e30 for a count): a value outside the allowed set.
                let number_out_of_range = (text.starts_with("invalid type: floating point")
                    || text.starts_with("invalid type: integer"))
                    && text.split(", expected ").nth(1).is_some_and(|want| {
                        matches!(
                            want.trim(),
                            "u8" | "u16"
                                | "u32"
                                | "u64"
                                | "usize"
                                | "i8"
                                | "i16"
                                | "i32"
                                | "i64"
                                | "isize"
                        )
                    });
                if number_out_of_range {
                    let message = match &path {
                        Some(p) => format!("{p} is out of range: {text}"),
                        None => text.clone(),
                    };
                    Self::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "out_of_range",
                        message,
                        path,
                    )
                } else if text.starts_with("invalid type") {
                    let message = match &path {
                        Some(p) => format!("{p}: {text}"),
                        None => format!("the body has the wrong JSON type: {text}"),
                    };
                    Self::bad_request("wrong_type", message, path)
                } else if let Some(name) = quoted_after(&text, "unknown field ") {
                    // The path usually ends at the unknown key already.
                    let field = match err.path().iter().next_back() {
                        Some(serde_path_to_error::Segment::Map { key }) if *key == name => {
                            path.unwrap_or(name)
                        }
                        _ => join(path.as_deref(), &name),
                    };
                    Self::invalid(
                        field.clone(),
                        "unknown_field",
                        format!("unknown field {field}: {text}"),
                    )
                } else if let Some(name) = quoted_after(&text, "missing field ") {
                    let field = join(path.as_deref(), &name);
                    Self::invalid(field.clone(), "required", format!("{field} is required"))
                } else {
                    let message = match &path {
                        Some(p) => format!("{p}: {text}"),
                        None => text.clone(),
                    };
                    Self::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_value",
                        message,
                        path,
                    )
                }
            }
        }
    }
}

/// Drops serde_json's ` at line L column C` suffix.
fn strip_position(s: &str) -> &str {
    match s.rfind(" at line ") {
        Some(i) if s[i..].contains(" column ") => &s[..i],
        _ => s,
    }
}

/// The name in backticks right after `prefix` at the start of `text`
/// (`unknown field \`colour\`, expected …` → `colour`).
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('`')?;
    let end = rest.find('`')?;
    Some(rest[..end].to_string())
}

/// `parent.name`, or `name` at the top level.
fn join(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) if !p.is_empty() => format!("{p}.{name}"),
        _ => name.to_string(),
    }
}

/// A JSON path as the API names fields: `channels[0].scenario`,
/// `templates.email.en.subject`; `None` for the top level.
pub fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        // Rules found deeper (provider settings) may still be JSON type
        // errors, which the contract answers with 400.
        let status = if e.code == "wrong_type" {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Self::new(status, e.code, e.message, Some(e.field))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m, None),
            StoreError::Closed => {
                tracing::warn!("request refused: the store is shutting down");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Herald is shutting down; try again shortly",
                    None,
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
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "field": self.field,
            }
        });
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
