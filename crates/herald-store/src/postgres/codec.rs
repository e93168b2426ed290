//! How values cross the PostgreSQL boundary: enums as their API names,
//! JSON documents as TEXT, integers as BIGINT (`i64`), every decoding
//! failure mapped to `StoreError::Corrupt` (never a panic on stored data).

pub(super) use crate::codec::{int, to_json};
use crate::{AttemptStatus, Result, StoreError};
use herald_core::Channel;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::Row;

/// Reads a column, mapping a type mismatch to `Corrupt`.
pub(super) fn col<'r, T>(row: &'r PgRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Reads a JSON TEXT column into `T`.
pub(super) fn col_json<T: DeserializeOwned>(row: &PgRow, name: &str) -> Result<T> {
    let text: &str = col(row, name)?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Reads an enum stored as its serde name.
pub(super) fn col_enum<T: DeserializeOwned>(row: &PgRow, name: &str) -> Result<T> {
    let text: &str = col(row, name)?;
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {text:?}: {e}")))
}

/// Reads a channel (the hottest enum: no serde).
pub(super) fn col_channel(row: &PgRow, name: &str) -> Result<Channel> {
    let text: &str = col(row, name)?;
    Channel::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown channel {text:?}")))
}

/// Reads a non-negative BIGINT column as `u32`.
pub(super) fn col_u32(row: &PgRow, name: &str) -> Result<u32> {
    let v: i64 = col(row, name)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("column {name}: {v} is out of range")))
}

/// Reads a non-negative BIGINT column as `usize`.
pub(super) fn col_usize(row: &PgRow, name: &str) -> Result<usize> {
    let v: i64 = col(row, name)?;
    usize::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("column {name}: {v} is out of range")))
}

/// Reads an attempt status.
pub(super) fn col_attempt_status(row: &PgRow, name: &str) -> Result<AttemptStatus> {
    let text: &str = col(row, name)?;
    AttemptStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("attempt status {text:?}")))
}

/// The serde name of an enum value (e.g. `Confirm::Receipt` → `receipt`).
pub(super) fn name_of<T: Serialize>(v: &T) -> Result<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Err(StoreError::Corrupt(format!("{other} is not a name"))),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

/// Wall-clock now, for bookkeeping columns the trait gives no time for.
pub(super) fn wall_now() -> herald_core::Millis {
    chrono::Utc::now().timestamp_millis()
}
