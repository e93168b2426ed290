//! The service layer's errors; `api::error` turns them into HTTP answers in
//! one place.

use herald_core::FieldError;
use herald_store::StoreError;

/// What a service call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No key, or a key Herald does not know.
    #[error("missing or unknown API key")]
    Unauthorized,
    /// A key without the right (e.g. a tenant key on an operator call).
    #[error("{0}")]
    Forbidden(String),
    /// An id in the path that the tenant does not have.
    #[error("{0} not found")]
    NotFound(String),
    /// A rule broken by a field of the request.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// A conflicting request (idempotency key reused with another body).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// Whether the store refused for now (full disk, lock) and the same
    /// call may succeed later: the caller keeps what it holds and retries.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ServiceError::Store(e) if e.is_retryable())
    }
}

/// Short for service results.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Builds a 422 error.
pub fn invalid(
    field: impl Into<String>,
    code: &'static str,
    message: impl Into<String>,
) -> ServiceError {
    ServiceError::Invalid(FieldError::new(field, code, message))
}
