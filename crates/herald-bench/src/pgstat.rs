//! What PostgreSQL itself says about a run, over a connection of the
//! bench's own (named `herald-bench`, so it is in no figure): which backend
//! processes serve the run's sessions, which are its background processes,
//! and its commit and WAL counters.

use crate::cpu::Snapshot;
use crate::error::BenchError;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;

/// The bench's own session name.
const APPLICATION: &str = "herald-bench";

/// A connection for looking at the server.
pub struct PgMonitor {
    conn: PgConnection,
}

/// PostgreSQL's cumulative counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Transactions committed in the database (every session's).
    pub commits: i64,
    /// Bytes of WAL written so far (the cluster's).
    pub wal_bytes: i64,
}

/// CPU of PostgreSQL's processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct PgCpu {
    /// The backends of the run's sessions.
    pub backends: Snapshot,
    /// The background processes (WAL writer, checkpointer, …).
    pub background: Snapshot,
}

impl PgMonitor {
    /// Connects to `url` (the one the bench was given).
    pub async fn connect(url: &str) -> Result<PgMonitor, BenchError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| BenchError::Postgres(format!("--database-url: {e}")))?
            .application_name(APPLICATION);
        let conn = opts
            .connect()
            .await
            .map_err(|e| BenchError::Postgres(format!("connecting: {e}")))?;
        Ok(PgMonitor { conn })
    }

    async fn pids(&mut self, sql: &str, bind: Option<&str>) -> Result<Vec<u32>, BenchError> {
        let mut q = sqlx::query_scalar::<_, i32>(sql);
        if let Some(b) = bind {
            q = q.bind(b.to_string());
        }
        let pids = q
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| BenchError::Postgres(format!("pg_stat_activity: {e}")))?;
        Ok(pids
            .into_iter()
            .filter_map(|p| u32::try_from(p).ok())
            .collect())
    }

    /// The CPU of the backends whose `application_name` is `session` and of
    /// the background processes, now.
    pub async fn cpu(&mut self, session: &str) -> Result<PgCpu, BenchError> {
        let backends = self
            .pids(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                Some(session),
            )
            .await?;
        let background = self
            .pids(
                "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'",
                None,
            )
            .await?;
        Ok(PgCpu {
            backends: Snapshot::of(backends),
            background: Snapshot::of(background),
        })
    }

    /// The commit and WAL counters now (the statistics are flushed by the
    /// backends at the end of their transactions, so they may lag by up to
    /// a second: over a phase of seconds that is noise).
    pub async fn counters(&mut self) -> Result<Counters, BenchError> {
        let (commits, wal_bytes): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                    (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| BenchError::Postgres(format!("pg_stat_database: {e}")))?;
        Ok(Counters { commits, wal_bytes })
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}
