//! PostgreSQL's errors in the store's backend-neutral terms: a server that
//! cannot take the work now (refused connection, too many connections,
//! shutting down, disk full, a deadlock or serialization failure) is
//! `Unavailable`, an undecodable row is `Corrupt`, anything else `Backend`.
//! A database URL shown in an error has its password replaced.

use crate::StoreError;

/// The start of the message of a transaction that lost a race with
/// another (deadlock, serialization failure): the caller runs it again.
pub(super) const RACE: &str = "transaction lost a race with another node";

/// Whether an SQLSTATE means "try again later".
fn retryable_state(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (disk full, out
    // of memory, too many connections); 57P01..57P03: the server is
    // shutting down or starting; 40001/40P01: a race (see `RACE`).
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// An sqlx error as a `StoreError`.
pub(super) fn from_sqlx(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("40001" | "40P01") => StoreError::Unavailable(format!("{RACE}: {e}")),
            Some(code) if retryable_state(code) => StoreError::Unavailable(e.to_string()),
            // The constraint's name and the taken values stay out of the
            // answer: the callers that expect a taken key say which.
            Some("23505") => StoreError::Conflict("a unique key is already taken".into()),
            _ => StoreError::Backend(e.to_string()),
        },
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(e.to_string())
        }
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => StoreError::Closed,
        // The URL's options are not echoed: the text names the fault only.
        sqlx::Error::Configuration(_) => StoreError::BadUrl(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Whether an sqlx error is a UNIQUE (or PRIMARY KEY) violation.
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

/// Whether a store error is a lost race that running the transaction again
/// resolves.
pub(super) fn is_race(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.starts_with(RACE))
}

/// A database URL fit to show: its password (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    // The authority ends at the first '/', '?' or '#'; the user info, at
    // its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return redact_query(url);
    };
    let userinfo = &authority[..at];
    let user = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    redact_query(&format!(
        "{}{}@{}",
        &url[..scheme_end + 3],
        user,
        &rest[at + 1..]
    ))
}

/// Replaces a `password=` query parameter's value.
fn redact_query(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let (head, query) = url.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{head}{}", parts.join("&"))
}

/// `.db()?` on sqlx's result: its error in the store's terms.
pub(super) trait Db<T> {
    /// Maps the driver's error.
    fn db(self) -> crate::Result<T>;
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
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://herald:s3cret@db.example.com:5432/herald"),
            "postgres://herald:***@db.example.com:5432/herald"
        );
        assert_eq!(
            redact_url("postgresql://u:p@ss@h/db?sslmode=require"),
            "postgresql://u:***@h/db?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://h/db?user=u&password=s3cret&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn states_map_to_the_store_terms() {
        assert!(retryable_state("08006"));
        assert!(retryable_state("53300"));
        assert!(retryable_state("57P03"));
        assert!(!retryable_state("23505"));
        assert!(!retryable_state("42P01"));
        assert!(is_race(&StoreError::Unavailable(format!("{RACE}: x"))));
        assert!(!is_race(&StoreError::Unavailable("disk full".into())));
        assert!(matches!(
            from_sqlx(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            from_sqlx(sqlx::Error::PoolClosed),
            StoreError::Closed
        ));
    }
}
