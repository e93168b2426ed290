//! SQLite's errors (from rusqlite on the writer, sqlx on the readers) in
//! the store's backend-neutral terms: a full disk or a lock held too long
//! is `Unavailable` (retry later), a damaged file or undecodable row is
//! `Corrupt`, anything else `Backend`.

use crate::StoreError;
use rusqlite::ErrorCode;

/// SQLite's primary result codes that mean "try again later".
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_FULL: i32 = 13;
/// And the ones that mean the file is damaged.
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_NOTADB: i32 = 26;

fn by_code(code: i32, msg: String) -> StoreError {
    match code & 0xff {
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_FULL => StoreError::Unavailable(msg),
        SQLITE_CORRUPT | SQLITE_NOTADB => StoreError::Corrupt(msg),
        _ => StoreError::Backend(msg),
    }
}

/// A rusqlite error as a `StoreError`.
pub(super) fn from_rusqlite(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => by_code(f.extended_code, e.to_string()),
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

/// An sqlx error as a `StoreError`.
pub(super) fn from_sqlx(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => match d.code().and_then(|c| c.parse::<i32>().ok()) {
            Some(code) => by_code(code, e.to_string()),
            None => StoreError::Backend(e.to_string()),
        },
        sqlx::Error::PoolTimedOut => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(e.to_string())
        }
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => StoreError::Closed,
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Whether a rusqlite error is a UNIQUE (or PRIMARY KEY) violation.
pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation
            && matches!(f.extended_code, 2067 | 1555))
}

/// `.db()?` on a driver's result: its error in the store's terms.
pub(super) trait Db<T> {
    /// Maps the driver's error.
    fn db(self) -> crate::Result<T>;
}

impl<T> Db<T> for Result<T, rusqlite::Error> {
    fn db(self) -> crate::Result<T> {
        self.map_err(from_rusqlite)
    }
}

impl<T> Db<T> for Result<T, sqlx::Error> {
    fn db(self) -> crate::Result<T> {
        self.map_err(from_sqlx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_busy_are_retryable_and_corruption_is_not() {
        assert!(matches!(
            by_code(13, "full".into()),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            by_code(5, "busy".into()),
            StoreError::Unavailable(_)
        ));
        // Extended codes keep their primary code in the low byte.
        assert!(matches!(
            by_code(261, "busy recovery".into()),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            by_code(11, "corrupt".into()),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            by_code(19, "constraint".into()),
            StoreError::Backend(_)
        ));
    }
}
