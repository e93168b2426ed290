//! The pending phase: many notifications that stay pending, the server's
//! memory with them, then a SIGKILL and the restart on the same file.

use crate::client::{metric, Http};
use crate::error::BenchError;
use crate::load::{drive, Stop};
use crate::progress;
use crate::server::{db_bytes, Server};
use crate::setup::{self, trigger_body, Kind};
use reqwest::StatusCode;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// The counter of e-mails the simulators accepted.
const EMAIL_ACCEPTED: &str = "herald_sends_total{channel=\"email\",result=\"accepted\"}";

/// How long the pending e-mails may take to be sent.
const SEND_BOUND: Duration = Duration::from_secs(3_600);

/// How long the restarted server may take to answer /healthz.
const HEALTH_BOUND: Duration = Duration::from_secs(600);

/// How long after /healthz answers the restarted server's memory is read
/// again, once its dispatcher has looked at what is pending.
const SETTLE: Duration = Duration::from_secs(3);

/// What the pending phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    /// Notifications accepted and left pending.
    pub pending: u64,
    /// Triggers that failed.
    pub failed_triggers: u64,
    /// Their accept rate.
    pub triggers_per_s: f64,
    /// Resident memory once all were sent, KiB.
    pub rss_kib: Option<u64>,
    /// Peak resident memory until then, KiB.
    pub peak_kib: Option<u64>,
    /// Database and WAL bytes with them.
    pub db_bytes: u64,
    /// Growth of database and WAL during this phase per pending notification.
    pub bytes_per_pending: f64,
    /// From the restart's spawn until /healthz answered 200, ms.
    pub restart_ms: f64,
    /// Resident memory when /healthz first answered after the restart, KiB.
    pub rss_at_health_kib: Option<u64>,
    /// Resident memory a few seconds later, KiB.
    pub rss_after_restart_kib: Option<u64>,
}

/// Leaves `n` notifications pending on `server`, kills it, restarts it on
/// `dir` and measures; returns the restarted server with the figures.
pub async fn run(
    bin: &Path,
    dir: &Path,
    server: Server,
    http: &Http,
    n: u64,
    connections: usize,
) -> Result<(Server, Pending), BenchError> {
    let key = setup::tenant(http, Kind::Pending, connections).await?;
    let bytes_before = db_bytes(dir);
    let sent_before = metric(&http.text("/metrics").await?, EMAIL_ACCEPTED).unwrap_or(0);
    let tally = {
        let http = http.clone();
        drive("pending triggers", connections, Stop::Count(n), move |i| {
            let http = http.clone();
            let key = key.clone();
            async move {
                match http
                    .post_raw("/v1/notifications", &key, trigger_body(i), false)
                    .await?
                {
                    (StatusCode::ACCEPTED, _) => Ok(None),
                    (status, _) => Err(format!("POST /v1/notifications: {status}")),
                }
            }
        })
        .await
    };
    wait_sent(http, sent_before, tally.ok).await?;
    let memory = server.memory();
    let bytes = db_bytes(dir);

    server.kill().await?;
    let started = Instant::now();
    let restarted = Server::start(bin, dir, 2).await?;
    let http = http.at(&restarted.base);
    loop {
        if let Ok(StatusCode::OK) = http.status_of("/healthz").await {
            break;
        }
        if started.elapsed() > HEALTH_BOUND {
            return Err(BenchError::Timeout(format!(
                "the restarted server did not answer /healthz within {HEALTH_BOUND:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let restart = started.elapsed();
    let at_health = restarted.memory();
    tokio::time::sleep(SETTLE).await;
    let settled = restarted.memory();
    Ok((
        restarted,
        Pending {
            pending: tally.ok,
            failed_triggers: tally.failed,
            triggers_per_s: tally.per_second(),
            rss_kib: memory.rss_kib,
            peak_kib: memory.peak_kib,
            db_bytes: bytes,
            bytes_per_pending: bytes.saturating_sub(bytes_before) as f64 / tally.ok.max(1) as f64,
            restart_ms: restart.as_secs_f64() * 1000.0,
            rss_at_health_kib: at_health.rss_kib,
            rss_after_restart_kib: settled.rss_kib,
        },
    ))
}

/// Waits until the server's count of accepted e-mails has grown by `n`.
async fn wait_sent(http: &Http, before: u64, n: u64) -> Result<(), BenchError> {
    let bar = progress::bar(n, "pending e-mails sent");
    let start = Instant::now();
    loop {
        let now = metric(&http.text("/metrics").await?, EMAIL_ACCEPTED).unwrap_or(0);
        let sent = now.saturating_sub(before);
        bar.set_position(sent.min(n));
        if sent >= n {
            bar.finish();
            return Ok(());
        }
        if start.elapsed() > SEND_BOUND {
            bar.abandon();
            return Err(BenchError::Timeout(format!(
                "only {sent} of {n} pending e-mails sent after {SEND_BOUND:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
