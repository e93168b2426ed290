//! `herald-bench`: starts a real `herald serve` on a temp SQLite file with
//! zero-latency simulators, drives it over HTTP from this process, and
//! reports the figures beside their targets and this machine's limits.
//! With `--database-url postgres://…` it runs the scaling bench instead:
//! an API node and N worker processes per run, with the CPU per cascade.
//! `herald-bench --help` explains every flag and the method.

mod args;
mod cascade;
mod client;
mod cpu;
mod error;
mod load;
mod machine;
mod pending;
mod pgstat;
mod progress;
mod report;
mod scale;
mod scale_report;
mod server;
mod setup;
mod stats;
mod timings;

use args::Args;
use clap::Parser;
use client::Http;
use error::BenchError;
use load::{drive, Stop};
use report::{Limits, Report, Settings};
use reqwest::StatusCode;
use server::{db_bytes, db_file_bytes, Server};
use setup::Kind;
use std::process::ExitCode;
use std::time::Duration;

/// What the table's figures mean, printed under it.
const NOTES: &str = "\
Cascades/s: notifications whose status is `delivered` (counted by paging \
GET /v1/notifications?status=delivered) divided by the seconds from the \
first trigger until GET /v1/notifications?status=pending showed none \
(polled every 50 ms), so it includes the drain after the load stopped.
Latencies come from the store's own timestamps on GET /v1/notifications/{id} \
(millisecond resolution): fallback reaction = the SMS attempt's sent_at \
(or created_at) minus the rejected e-mail's answered_at; trigger-to-final = \
updated_at minus created_at.
Bytes: database file plus -wal; per two-step notification = their growth \
during the two-step phase divided by its notifications.
Shares: a rate divided by each machine limit; a time divided by one fsync'd \
commit (1 / commits/s).";

/// What the scaling tables' columns mean, printed under them.
const SCALE_NOTES: &str = "\
Triggers/s and cascades/s as in the SQLite bench (through the API node). \
CPU ms per cascade: utime+stime (/proc/PID/stat) over the load and the drain, \
divided by the cascades delivered: API = the API node (one node: everything), \
workers = all herald worker processes, PG backends = PostgreSQL's processes \
serving the run's sessions (pg_stat_activity by application_name), PG bg = its \
background processes (WAL writer, checkpointer, autovacuum; the cluster's, so \
anything else on it counts there); total = herald + PG; per core/s = 1000 / \
total. PG commits and WAL bytes per cascade: pg_stat_database.xact_commit of \
the database and pg_current_wal_lsn() over the same span.";

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(url) = &args.database_url {
        return scaling(&args, url).await;
    }
    match run(&args).await {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("herald-bench: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                println!("\n{}\n{NOTES}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("herald-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The scaling runs on PostgreSQL, printed.
async fn scaling(args: &Args, url: &str) -> ExitCode {
    match scale::run(args, url).await {
        Ok(report) if args.json => match serde_json::to_string_pretty(&report) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("herald-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(report) => {
            println!("\n{}\n{SCALE_NOTES}", report.text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("herald-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole run, phase by phase.
async fn run(args: &Args) -> Result<Report, BenchError> {
    let bin = server::herald_binary(args.herald.as_deref())?;
    let length = Duration::from_secs(args.duration);
    let connections = args.connections as usize;
    let sample = args.sample as usize;
    let temp = tempfile::Builder::new()
        .prefix("herald-bench-")
        .tempdir()
        .map_err(|e| BenchError::io("creating a temp dir", e))?;
    let dir = temp.path();
    let first = Server::start(&bin, dir, 1).await?;
    let http = Http::new(&first.base, connections)?;

    // 1. The machine's limits.
    let single_commits_per_s = machine::single_commits(dir, length).await?;
    let batched_rows_per_s = machine::batched_rows(dir, length).await?;
    let not_found = {
        let http = http.clone();
        drive("herald 404s", connections, Stop::After(length), move |_| {
            let http = http.clone();
            async move {
                match http.status_of("/bench/not-found").await? {
                    StatusCode::NOT_FOUND => Ok(None),
                    other => Err(format!("GET /bench/not-found: {other}")),
                }
            }
        })
        .await
    };
    let limits = Limits {
        single_commits_per_s,
        batched_rows_per_s,
        not_found_per_s: not_found.per_second(),
    };

    // 2, 3 and 4. Cascades and their timings.
    let one_key = setup::tenant(&http, Kind::OneStep, connections).await?;
    let two_key = setup::tenant(&http, Kind::TwoStep, connections).await?;
    let one_step = cascade::run(&http, &one_key, "one-step", connections, length, sample).await?;
    let before_two = db_bytes(dir);
    let file_before_two = db_file_bytes(dir);
    let two_step = cascade::run(&http, &two_key, "two-step", connections, length, sample).await?;

    // 5 and 6. Bytes and memory.
    let bytes = db_bytes(dir);
    let file_bytes = db_file_bytes(dir);
    let notifications = one_step.accepted + two_step.accepted;
    let peak_rss_kib = first.memory().peak_kib;

    // 7. Pending, the SIGKILL and the restart.
    let pending = if args.pending > 0 {
        let (restarted, figures) =
            pending::run(&bin, dir, first, &http, args.pending, connections).await?;
        restarted.kill().await?;
        Some(figures)
    } else {
        first.kill().await?;
        None
    };

    Ok(Report {
        settings: Settings {
            herald: bin.display().to_string(),
            duration_s: args.duration,
            connections: args.connections,
            pending: args.pending,
            sample: args.sample,
        },
        limits,
        bytes_per_notification: bytes as f64 / notifications.max(1) as f64,
        bytes_per_two_step: bytes.saturating_sub(before_two) as f64
            / two_step.accepted.max(1) as f64,
        db_file_bytes_per_two_step: file_bytes.saturating_sub(file_before_two) as f64
            / two_step.accepted.max(1) as f64,
        one_step,
        two_step,
        db_bytes: bytes,
        notifications,
        peak_rss_kib,
        pending,
    })
}
