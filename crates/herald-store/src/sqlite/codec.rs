//! How values cross the SQLite boundary: enums as their API names, JSON
//! documents as TEXT, integers as `i64`, and every decoding failure mapped
//! to `StoreError::Corrupt` (never a panic on stored data).

pub(super) use crate::codec::{int, to_json};
use crate::{AttemptStatus, Result, StoreError};
use herald_core::Millis;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Row, TypeInfo, ValueRef};

/// Reads a column, mapping a type mismatch to `Corrupt`.
pub(super) fn col<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Reads a JSON TEXT column into `T`.
pub(super) fn col_json<T: DeserializeOwned>(row: &SqliteRow, name: &str) -> Result<T> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Reads an enum stored as its serde name.
pub(super) fn col_enum<T: DeserializeOwned>(row: &SqliteRow, name: &str) -> Result<T> {
    let text: String = col(row, name)?;
    parse_name(&text).map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Reads a non-negative integer column as `u32`.
pub(super) fn col_u32(row: &SqliteRow, name: &str) -> Result<u32> {
    let v: i64 = col(row, name)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("column {name}: {v} is out of range")))
}

/// Reads a non-negative integer column as `usize`.
pub(super) fn col_usize(row: &SqliteRow, name: &str) -> Result<usize> {
    let v: i64 = col(row, name)?;
    usize::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("column {name}: {v} is out of range")))
}

/// Reads an attempt status.
pub(super) fn col_attempt_status(row: &SqliteRow, name: &str) -> Result<AttemptStatus> {
    col_enum(row, name)
}

/// Parses an enum from its serde name.
pub(super) fn parse_name<T: DeserializeOwned>(s: &str) -> std::result::Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| format!("{s:?}: {e}"))
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
pub(super) fn wall_now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Reads a column that holds a string or, stored by `compact::uuid_value`
/// or `compact::hex_value`, its bytes (decoded here, not in SQL): the bytes
/// through `of_bytes`, `None` for NULL.
fn col_bytes_or_text(
    row: &SqliteRow,
    name: &str,
    of_bytes: fn(&[u8]) -> Option<String>,
) -> Result<Option<String>> {
    let raw = row
        .try_get_raw(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))?;
    if raw.is_null() {
        return Ok(None);
    }
    let blob = raw.type_info().name() == "BLOB";
    if blob {
        let bytes: Vec<u8> = col(row, name)?;
        of_bytes(&bytes)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("column {name}: {} bytes", bytes.len())))
    } else {
        col(row, name)
    }
}

fn uuid_of(b: &[u8]) -> Option<String> {
    uuid::Uuid::from_slice(b)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// Reads a `compact::uuid_value` column (NULL is `None`).
pub(super) fn col_uuid_opt(row: &SqliteRow, name: &str) -> Result<Option<String>> {
    col_bytes_or_text(row, name, uuid_of)
}

/// Reads a NOT NULL `compact::uuid_value` column.
pub(super) fn col_uuid(row: &SqliteRow, name: &str) -> Result<String> {
    col_uuid_opt(row, name)?.ok_or_else(|| StoreError::Corrupt(format!("column {name}: NULL")))
}

/// Reads a NOT NULL `compact::hex_value` column.
pub(super) fn col_hex(row: &SqliteRow, name: &str) -> Result<String> {
    col_bytes_or_text(row, name, |b| Some(hex::encode(b)))?
        .ok_or_else(|| StoreError::Corrupt(format!("column {name}: NULL")))
}
