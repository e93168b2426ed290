//! The command line: every flag, and the method in `--help`.

use clap::Parser;
use std::path::PathBuf;

/// How the figures are made, shown by `--help`.
const METHOD: &str = "\
Starts a real `herald serve` (the binary given by --herald) on a fresh SQLite \
file in a temp dir, with simulators that answer at once (latency_ms 0, \
receipt_ms 0, record false), sets it up through the public API, and drives it \
over HTTP from this separate process.

Phases, in order:
 1. Machine limits, measured in the same run: fsync'd single-row commits/s \
(one INSERT per transaction, WAL, synchronous=FULL, on a temp SQLite file), \
batched rows/s (1,000 rows per transaction, same file settings), and \
requests/s of herald's own 404 answer over the same HTTP client and \
connections.
 2. One-step (e-mail always, delivered): triggers/s = 202 answers / seconds of \
load. Cascades/s = notifications `delivered` / seconds from the first trigger \
until the log (GET /v1/notifications?status=pending) shows none pending; \
`delivered` is counted by paging the log with status=delivered.
 3. Two-step (e-mail always and rejected, SMS fallback delivered by receipt): \
the same.
 4. From a sample of finished notifications (GET /v1/notifications/{id}), \
using the store's own timestamps: fallback reaction = the SMS attempt's \
sent_at (and created_at) minus the rejected e-mail attempt's answered_at; \
trigger-to-final = the notification's updated_at minus its created_at.
 5. Bytes per notification: size of the database file plus its -wal after the \
cascades, divided by the notifications in it; per two-step notification: the \
growth of both files during phase 3 divided by its notifications.
 6. Peak RSS of the server: VmHWM in /proc/PID/status after phases 2-5.
 7. --pending N: N notifications that stay pending (e-mail sent to a \
simulator that never sends a receipt, window 3 days), RSS once all are sent; \
then SIGKILL, a restart on the same file, the time from the restart until \
/healthz answers 200, and RSS after it.

Each throughput is also given as a share of the machine limits of phase 1, \
each latency as a multiple of one fsync'd commit. Targets are printed beside \
the figures; the bench asserts none of them.

With --database-url postgres://… the bench runs the scaling phases instead: for each number N of --workers, a fresh schema, `herald migrate` once, one `herald serve --no-workers` and N `herald worker --no-migrate` (N = 0: one `herald serve` doing both), the same tenants and phases 2 and 3 through the API node, and CPU milliseconds per cascade: utime+stime from /proc/PID/stat of the API node, of the workers, of the PostgreSQL backends serving the run's connections (pg_stat_activity by application_name) and of PostgreSQL's background processes (WAL writer, checkpointer, …), over the load and the drain, divided by the cascades delivered. Then the schema is dropped.";

/// `herald-bench`: the end-to-end benchmark of a real `herald serve`.
#[derive(Debug, Clone, Parser)]
#[command(name = "herald-bench", version, about, long_about = METHOD)]
pub struct Args {
    /// The `herald` binary to start. Default: the `herald` next to this
    /// executable (target/release/herald after `cargo build --release`).
    #[arg(long, value_name = "PATH")]
    pub herald: Option<PathBuf>,

    /// Seconds of load in each measuring phase (machine limits, one-step,
    /// two-step).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,

    /// Concurrent HTTP connections of the load process.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub connections: u64,

    /// Notifications left pending for the RSS and restart figures; 0 skips
    /// that phase.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub pending: u64,

    /// How many finished notifications of each kind are read back for the
    /// latency percentiles.
    #[arg(long, value_name = "N", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub sample: u64,

    /// Print the figures as one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Run the scaling bench on this PostgreSQL (postgres://…) instead of
    /// the SQLite phases: each run in a schema of its own, dropped after.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// With --database-url: `herald worker` processes beside one
    /// `herald serve --no-workers`, one run per number given (`1,2,4`);
    /// 0 is one `herald serve` doing both (the one-node figure).
    #[arg(long, value_name = "N,…", value_delimiter = ',', default_value = "0,1,2,4",
          value_parser = clap::value_parser!(u32).range(0..=64))]
    pub workers: Vec<u32>,

    /// With --database-url: HERALD_DATABASE_POOL of every herald process
    /// (PostgreSQL's max_connections must hold them all).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub pool: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let a = Args::try_parse_from(["herald-bench"]).expect("no flags parse");
        assert_eq!(a.duration, 10);
        assert_eq!(a.connections, 64);
        assert_eq!(a.pending, 1_000_000);
        assert_eq!(a.sample, 1_000);
        assert!(!a.json);
        assert!(a.herald.is_none());
        assert!(a.database_url.is_none());
        assert_eq!(a.workers, [0, 1, 2, 4]);
        assert_eq!(a.pool, 10);
    }

    #[test]
    fn worker_counts_are_a_comma_list() {
        let a = Args::try_parse_from([
            "herald-bench",
            "--database-url",
            "postgres://u@h/d",
            "--workers",
            "1,2,4",
        ])
        .expect("flags parse");
        assert_eq!(a.workers, [1, 2, 4]);
        assert_eq!(a.database_url.as_deref(), Some("postgres://u@h/d"));
        assert!(Args::try_parse_from(["herald-bench", "--workers", "1,x"]).is_err());
        assert!(Args::try_parse_from(["herald-bench", "--workers", "65"]).is_err());
    }

    #[test]
    fn flags_are_read_and_bad_values_refused() {
        let a = Args::try_parse_from([
            "herald-bench",
            "--duration",
            "3",
            "--connections",
            "8",
            "--pending",
            "0",
            "--json",
            "--herald",
            "/x/herald",
        ])
        .expect("flags parse");
        assert_eq!((a.duration, a.connections, a.pending), (3, 8, 0));
        assert!(a.json);
        assert_eq!(a.herald, Some(PathBuf::from("/x/herald")));
        assert!(Args::try_parse_from(["herald-bench", "--duration", "0"]).is_err());
        assert!(Args::try_parse_from(["herald-bench", "--connections", "0"]).is_err());
        assert!(Args::try_parse_from(["herald-bench", "--pending", "-1"]).is_err());
    }
}
