//! Stored documents on every backend: a value as its JSON text, a count as
//! the `i64` both databases store, and a column that does not decode as
//! `StoreError::Corrupt` (never a panic on stored data).

use crate::{Result, StoreError};
use serde::Serialize;
use std::fmt;

/// A column that does not hold what it should.
pub(crate) fn corrupt(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {what}: {e}"))
}

/// A value as the JSON text of column `what`.
pub(crate) fn encode<T: Serialize + ?Sized>(v: &T, what: &str) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt(what, e))
}

/// Encodes a document as JSON TEXT.
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("does not encode as JSON: {e}")))
}

/// A `usize` count or index as the `i64` the databases store (saturating:
/// none come near).
pub(crate) fn int(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
