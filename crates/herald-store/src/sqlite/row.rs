//! Decoding what the writer's connection reads: enums stored as their API
//! names and JSON documents stored as TEXT, every failure a
//! `StoreError::Corrupt` (never a panic on stored data).

use crate::{AttemptStatus, Result, StoreError};
use serde::de::DeserializeOwned;

/// An enum from its serde name.
pub(super) fn enum_of<T: DeserializeOwned>(s: &str) -> Result<T> {
    super::codec::parse_name(s).map_err(StoreError::Corrupt)
}

/// An attempt status from its name (the hottest enum: no serde).
pub(super) fn attempt_status(s: &str) -> Result<AttemptStatus> {
    AttemptStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("attempt status {s:?}")))
}

/// A JSON document stored in column `what`.
pub(super) fn json_of<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("column {what}: {e}")))
}
