//! Connecting: the options every session gets, and the schemas tests and
//! tools make for themselves.

use super::error::{is_race, redact_url, Db};
use super::RACE_TRIES;
use crate::{Result, StoreError};
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::time::Duration;

/// Whether a schema name is safe to splice into SQL (it cannot be bound).
pub(super) fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The session options of every connection Herald opens.
pub(super) fn connect_options(url: &str) -> Result<PgConnectOptions> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::BadUrl(format!(
            "{}: expected postgres://USER@HOST/DATABASE",
            redact_url(url)
        )));
    }
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("{}: {e}", redact_url(url))))?;
    // Sessions show as `herald` unless the URL names them.
    let opts = match opts.get_application_name() {
        Some(_) => opts,
        None => opts.application_name("herald"),
    };
    // Herald's statements are short and touch a few rows by index. JIT
    // compilation and parallel workers only pay off for long scans, and a
    // planner without statistics yet (a fresh schema) would buy them for
    // these: one JIT compile of a cascade's attempt lookup took 280 ms
    // against 0.3 ms without (BENCHMARKS.md "PostgreSQL").
    let opts = opts.options([("jit", "off"), ("max_parallel_workers_per_gather", "0")]);
    // Statements are logged at debug only: a slow-statement warning would
    // print SQL on every busy second.
    Ok(opts
        .log_statements(tracing::log::LevelFilter::Debug)
        .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(1)))
}

/// Creates a schema if it does not exist (names: lower-case letters,
/// digits and `_`).
pub async fn create_schema(url: &str, schema: &str) -> Result<()> {
    if !valid_schema(schema) {
        return Err(StoreError::BadUrl(format!(
            "schema {schema:?}: use lower-case letters, digits and _"
        )));
    }
    let mut conn = connect_options(url)?.connect().await.db()?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&mut conn)
        .await
        .db()?;
    sqlx::Connection::close(conn).await.db()
}

/// Drops a schema and everything in it (tests and tools that made one
/// with `open_in_schema`). Sessions whose `application_name` is the
/// schema's name (a test server's) are ended first, so their open
/// transactions cannot hold the drop up; others are waited for at most
/// `lock_wait`.
pub async fn drop_schema(url: &str, schema: &str, lock_wait: Duration) -> Result<()> {
    if !valid_schema(schema) {
        return Err(StoreError::BadUrl(format!("schema {schema:?}")));
    }
    let mut conn = connect_options(url)?.connect().await.db()?;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(schema)
    .execute(&mut conn)
    .await
    .db()?;
    sqlx::query(&format!("SET lock_timeout = {}", lock_wait.as_millis()))
        .execute(&mut conn)
        .await
        .db()?;
    // Drops of several schemas at once may deadlock on the catalogs: the
    // loser tries again.
    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    let mut tries = 0;
    loop {
        tries += 1;
        match sqlx::query(&drop).execute(&mut conn).await.db() {
            Err(e) if is_race(&e) && tries < RACE_TRIES => {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(tries))).await;
            }
            Err(e) => return Err(e),
            Ok(_) => break,
        }
    }
    sqlx::Connection::close(conn).await.db()
}
