//! Connecting: Herald's own options in a `sqlite://` URL, the readers'
//! settings, and the writer's connection.

use super::error::Db;
use crate::{Result, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// Prepared statements the writer's connection keeps (a few dozen shapes,
/// plus one claim query per number of keys at their bound).
const WRITER_STATEMENTS: usize = 256;
/// How long a connection waits for a lock before giving up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Herald's own options in a `sqlite://` URL's query, taken out before
/// the rest goes to the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Options {
    /// `max_page_count=N`: the file may grow to at most N pages (4 KiB
    /// each); writes past it answer "unavailable" until space is freed,
    /// as on a full disk.
    pub(super) max_page_count: Option<u64>,
}

/// Splits Herald's own options off a URL.
pub(super) fn own_options(url: &str) -> Result<(String, Options)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Options::default()));
    };
    let mut opts = Options::default();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_page_count", n)) => {
                let n = n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::BadUrl(format!(
                        "max_page_count={n}: expected a whole number of pages above 0"
                    ))
                })?;
                opts.max_page_count = Some(n);
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, opts))
}

/// The readers' connection settings for a `sqlite://` URL.
pub(super) fn connect_options(url: &str) -> Result<SqliteConnectOptions> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::BadUrl(format!("{url}: expected sqlite://PATH")))?;
    if path.is_empty() || path.starts_with(":memory:") || path.contains("mode=memory") {
        return Err(StoreError::BadUrl(format!(
            "{url}: give a file path (sqlite://PATH); in-memory databases are not supported"
        )));
    }
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
    Ok(opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT))
}

/// The writer's connection, with the same settings as the readers'.
pub(super) fn open_writer(path: &std::path::Path, own: Options) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    // Every job runs in a savepoint, whose undo pages go to a statement
    // journal: kept in memory, not in a temporary file opened per batch.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .db()?;
    if let Some(n) = own.max_page_count {
        // A connection's own setting: only the writer grows the file.
        conn.pragma_update(None, "max_page_count", n).db()?;
    }
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::{connect_options, own_options, Options};

    #[test]
    fn urls() {
        assert!(connect_options("sqlite:///tmp/x.db").is_ok());
        assert!(connect_options("sqlite:x.db").is_ok());
        assert!(connect_options("sqlite::memory:").is_err());
        assert!(connect_options("sqlite://").is_err());
        assert!(connect_options("postgres://x").is_err());
    }

    #[test]
    fn own_options_are_taken_out_of_the_url() {
        assert_eq!(
            own_options("sqlite:///x.db?max_page_count=100").unwrap(),
            (
                "sqlite:///x.db".to_string(),
                Options {
                    max_page_count: Some(100)
                }
            )
        );
        let (url, own) = own_options("sqlite:///x.db?mode=rwc&max_page_count=7").unwrap();
        assert_eq!(url, "sqlite:///x.db?mode=rwc");
        assert_eq!(own.max_page_count, Some(7));
        assert_eq!(own_options("sqlite:///x.db").unwrap().1, Options::default());
        assert!(own_options("sqlite:///x.db?max_page_count=0").is_err());
        assert!(own_options("sqlite:///x.db?max_page_count=lots").is_err());
    }
}
