//! The compact row shapes of migration 0010 at the edge: an attempt's id
//! is its integer row number, shown to the rest of Herald as an opaque
//! string (zero-padded decimal, so that ids sort as text in the order they
//! were made, as uuid v7 ids did); a notification's texts are stored once,
//! and an attempt's text is its channel's; uuids and hex digests are
//! stored as their bytes (columns of type ANY: a string that is not in
//! the canonical form stays text, so every string reads back the same).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, Value, ValueRef};

/// Digits of a shown attempt id: string order is numeric order up to 10^12.
const WIDTH: usize = 12;

/// The attempt id shown for a row number.
pub(super) fn attempt_id(no: i64) -> String {
    format!("{no:0WIDTH$}")
}

/// The row number of a shown attempt id; `None` (matches no row) for a
/// string that is not one.
pub(super) fn attempt_no(id: &str) -> Option<i64> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// A uuid column's value: the 16 bytes of a canonical (lowercase,
/// hyphenated) uuid, else the text itself.
pub(super) fn uuid_value(s: &str) -> Value {
    match uuid_bytes(s) {
        Some(b) => Value::Blob(b),
        None => Value::Text(s.to_string()),
    }
}

/// The 16 bytes a canonical uuid is stored as (`uuid_value`), for sqlx
/// binds: bind these if `Some`, else the text.
pub(super) fn uuid_bytes(s: &str) -> Option<Vec<u8>> {
    match uuid::Uuid::try_parse(s) {
        Ok(u) if u.hyphenated().to_string() == s => Some(u.as_bytes().to_vec()),
        _ => None,
    }
}

/// A `uuid_value` column read back as its string on the writer's
/// connection (decoded here, not in SQL: the hot statements return the
/// stored bytes).
pub(super) struct UuidText(pub String);

impl FromSql for UuidText {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        match v {
            ValueRef::Blob(b) => uuid::Uuid::from_slice(b)
                .map(|u| UuidText(u.hyphenated().to_string()))
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(|s| UuidText(s.to_string()))
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// A `hex_value` column read back as its string on the writer's
/// connection.
pub(super) struct HexText(pub String);

impl FromSql for HexText {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        match v {
            ValueRef::Blob(b) => Ok(HexText(hex::encode(b))),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(|s| HexText(s.to_string()))
                .map_err(|e| FromSqlError::Other(Box::new(e))),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// A digest column's value: the bytes of lowercase hex of even length,
/// else the text itself.
pub(super) fn hex_value(s: &str) -> Value {
    let canonical = !s.is_empty()
        && s.len().is_multiple_of(2)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match canonical.then(|| hex::decode(s).ok()).flatten() {
        Some(bytes) => Value::Blob(bytes),
        None => Value::Text(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores `v` in an ANY column and reads it back as `T`.
    fn round_trip<T: FromSql>(v: Value) -> T {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x ANY NOT NULL) STRICT")
            .unwrap();
        c.execute("INSERT INTO t (x) VALUES (?1)", [v]).unwrap();
        c.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn uuids_and_digests_are_bytes_and_read_back_the_same() {
        let u = "01a23738-b3b1-7719-ba68-2ff85633cc57";
        assert!(matches!(uuid_value(u), Value::Blob(b) if b.len() == 16));
        let sha = "00ff".repeat(16);
        assert!(matches!(hex_value(&sha), Value::Blob(b) if b.len() == 32));
        for s in [
            u,
            "01A23738-B3B1-7719-BA68-2FF85633CC57",
            "01a23738b3b17719ba682ff85633cc57",
            "nope",
            "",
        ] {
            assert_eq!(round_trip::<UuidText>(uuid_value(s)).0, s);
        }
        for s in [sha.as_str(), "body-sha", "ABCD", "abc", "", "00"] {
            assert_eq!(round_trip::<HexText>(hex_value(s)).0, s);
        }
        assert!(matches!(uuid_value("nope"), Value::Text(_)));
        assert!(matches!(hex_value("ABCD"), Value::Text(_)));
    }

    #[test]
    fn attempt_ids_round_trip_and_sort_as_numbers() {
        assert_eq!(attempt_id(7), "000000000007");
        assert_eq!(attempt_no(&attempt_id(7)), Some(7));
        assert_eq!(attempt_no(&attempt_id(123_456_789)), Some(123_456_789));
        assert!(attempt_id(9) < attempt_id(10));
        for bad in [
            "",
            "-1",
            "12a",
            "01a23738-b3b1-7719-ba68-2ff85633cc57",
            "+5",
        ] {
            assert_eq!(attempt_no(bad), None, "{bad}");
        }
    }
}
