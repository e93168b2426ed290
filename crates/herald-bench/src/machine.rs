//! This machine's limits, measured in the same run as the figures they are
//! compared with: what SQLite with `synchronous=FULL` commits on this disk,
//! one row per commit and in batches.

use crate::error::BenchError;
use crate::progress;
use crate::stats::rate;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::Path;
use std::time::{Duration, Instant};

/// Rows per statement in the batched measurement.
const ROWS_PER_STATEMENT: usize = 100;

/// Statements per transaction in the batched measurement (so 1,000 rows
/// per commit).
const STATEMENTS_PER_COMMIT: usize = 10;

/// A row's payload, about the size of a notification's main row.
const PAYLOAD: usize = 200;

/// A fresh SQLite file with the settings Herald's store uses.
async fn open(path: &Path) -> Result<SqliteConnection, BenchError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// Single-row INSERTs, each its own fsync'd transaction, for `length`:
/// commits per second.
pub async fn single_commits(dir: &Path, length: Duration) -> Result<f64, BenchError> {
    let mut conn = open(&dir.join("limits-single.db")).await?;
    let bar = progress::bar(length.as_millis() as u64, "fsync'd single commits");
    let payload = vec![7u8; PAYLOAD];
    let start = Instant::now();
    let mut commits = 0u64;
    while start.elapsed() < length {
        sqlx::query("INSERT INTO t (v) VALUES (?)")
            .bind(payload.as_slice())
            .execute(&mut conn)
            .await?;
        commits += 1;
        if commits.is_multiple_of(64) {
            bar.set_position(start.elapsed().as_millis() as u64);
            bar.set_message(format!("{:.0}/s", rate(commits, start.elapsed())));
        }
    }
    let per_s = rate(commits, start.elapsed());
    bar.finish_with_message(format!("{per_s:.0}/s"));
    conn.close().await?;
    Ok(per_s)
}

/// Multi-row INSERTs, 1,000 rows per fsync'd transaction, for `length`:
/// rows per second.
pub async fn batched_rows(dir: &Path, length: Duration) -> Result<f64, BenchError> {
    let mut conn = open(&dir.join("limits-batched.db")).await?;
    let bar = progress::bar(length.as_millis() as u64, "batched rows");
    let statement = format!(
        "INSERT INTO t (v) VALUES {}",
        vec!["(?)"; ROWS_PER_STATEMENT].join(", ")
    );
    let payload = vec![7u8; PAYLOAD];
    let start = Instant::now();
    let mut rows = 0u64;
    while start.elapsed() < length {
        let mut tx = conn.begin().await?;
        for _ in 0..STATEMENTS_PER_COMMIT {
            let mut q = sqlx::query(&statement);
            for _ in 0..ROWS_PER_STATEMENT {
                q = q.bind(payload.as_slice());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        rows += (ROWS_PER_STATEMENT * STATEMENTS_PER_COMMIT) as u64;
        bar.set_position(start.elapsed().as_millis() as u64);
        bar.set_message(format!("{:.0} rows/s", rate(rows, start.elapsed())));
    }
    let per_s = rate(rows, start.elapsed());
    bar.finish_with_message(format!("{per_s:.0} rows/s"));
    conn.close().await?;
    Ok(per_s)
}
