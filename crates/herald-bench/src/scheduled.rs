//! The scheduled phase: a reminder wave. N notifications all scheduled for
//! one time a little ahead (as reminders for the next morning's 09:00
//! appointments are), the server's memory and database with them, a
//! SIGKILL and the restart on the same file, then the wave itself: how late
//! each sent against its `send_at`, and how long the wave took to drain.

use crate::client::{metric, Http};
use crate::error::BenchError;
use crate::load::{drive, Stop};
use crate::progress;
use crate::server::{db_bytes, Server};
use crate::setup::{self, Kind, TYPE_KEY};
use crate::stats::Spread;
use reqwest::StatusCode;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The counter of e-mails the simulators accepted.
const EMAIL_ACCEPTED: &str = "herald_sends_total{channel=\"email\",result=\"accepted\"}";

/// How long the wave may take to be sent.
const SEND_BOUND: Duration = Duration::from_secs(3_600);

/// How long the restarted server may take to answer /healthz.
const HEALTH_BOUND: Duration = Duration::from_secs(600);

/// What the scheduled phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Scheduled {
    /// Notifications accepted as scheduled.
    pub scheduled: u64,
    /// Triggers that failed.
    pub failed_triggers: u64,
    /// Their accept rate.
    pub triggers_per_s: f64,
    /// Triggers accepted only after the wave's time (they start at once).
    pub late_triggers: u64,
    /// Resident memory with all of them stored, KiB.
    pub rss_kib: Option<u64>,
    /// Growth of database and WAL per scheduled notification.
    pub bytes_per_scheduled: f64,
    /// From the restart's spawn until /healthz answered 200, ms.
    pub restart_ms: f64,
    /// Resident memory when /healthz first answered after the restart, KiB.
    pub rss_after_restart_kib: Option<u64>,
    /// How late a sample's first send request was against its `send_at`, ms.
    pub lateness_ms: Spread,
    /// From the wave's time until the last of it was sent, ms.
    pub drain_ms: f64,
    /// Peak resident memory of the restarted server through the wave, KiB.
    pub wave_peak_kib: Option<u64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Schedules `n` notifications for one time `lead` ahead on `server`,
/// kills it, restarts it on `dir`, lets the wave go and measures; returns
/// the restarted server with the figures.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    bin: &Path,
    dir: &Path,
    server: Server,
    http: &Http,
    n: u64,
    lead: Duration,
    connections: usize,
    sample: u64,
) -> Result<(Server, Scheduled), BenchError> {
    let key = setup::tenant(http, Kind::OneStep, connections).await?;
    let reader_key = key.clone();
    let bytes_before = db_bytes(dir);
    let sent_before = metric(&http.text("/metrics").await?, EMAIL_ACCEPTED).unwrap_or(0);
    let wave_at = now_ms() + lead.as_millis() as i64;
    let at = rfc3339(wave_at);
    let every = (n / sample.max(1)).max(1);
    let tally = {
        let http = http.clone();
        drive("scheduled triggers", connections, Stop::Count(n), move |i| {
            let http = http.clone();
            let key = key.clone();
            let body = format!(
                r#"{{"type":"{TYPE_KEY}","client":"c{}","data":{{"time":"09:00"}},"send_at":"{at}"}}"#,
                i % setup::CLIENTS
            );
            async move {
                match http
                    .post_raw("/v1/notifications", &key, body, i % every == 0)
                    .await?
                {
                    (StatusCode::ACCEPTED, id) => Ok(id),
                    (status, _) => Err(format!("POST /v1/notifications: {status}")),
                }
            }
        })
        .await
    };
    let late_triggers = if now_ms() > wave_at {
        // Some were accepted after the wave's time: say so (they are sent
        // at once, which the lateness sample then shows as on time).
        tally
            .ok
            .min(((now_ms() - wave_at) as f64 * tally.per_second() / 1000.0) as u64)
    } else {
        0
    };
    let memory = server.memory();
    let bytes = db_bytes(dir);

    server.kill().await?;
    let started = Instant::now();
    let restarted = Server::start(bin, dir, 3).await?;
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
    let after_restart = restarted.memory();
    // The restart began its counters at zero; before it, nothing of the
    // wave was due, so the earlier count says nothing about the wave.
    let _ = sent_before;
    let drained_at = wait_sent(&http, &reader_key, tally.ok).await?;
    let wave_peak = restarted.memory().peak_kib;
    let mut lateness = Vec::with_capacity(tally.ids.len());
    for id in &tally.ids {
        let v = http
            .get(&format!("/v1/notifications/{id}"), &reader_key)
            .await;
        if let Ok(v) = v {
            if let Some(sent) = v["channels"][0]["attempts"][0]["sent_at"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            {
                lateness.push((sent.timestamp_millis() - wave_at) as f64);
            }
        }
    }
    Ok((
        restarted,
        Scheduled {
            scheduled: tally.ok,
            failed_triggers: tally.failed,
            triggers_per_s: tally.per_second(),
            late_triggers,
            rss_kib: memory.rss_kib,
            bytes_per_scheduled: bytes.saturating_sub(bytes_before) as f64 / tally.ok.max(1) as f64,
            restart_ms: restart.as_secs_f64() * 1000.0,
            rss_after_restart_kib: after_restart.rss_kib,
            lateness_ms: Spread::of(lateness),
            drain_ms: (drained_at - wave_at).max(0) as f64,
            wave_peak_kib: wave_peak,
        },
    ))
}

/// Waits until the restarted server has sent `n` e-mails, or until none
/// of the tenant's notifications is scheduled or pending any more (an
/// e-mail its window judged before it could go is given up, not sent, so
/// the count alone may never reach `n`); answers when (epoch ms).
async fn wait_sent(http: &Http, key: &str, n: u64) -> Result<i64, BenchError> {
    let bar = progress::bar(n, "wave e-mails sent");
    let start = Instant::now();
    let mut polls = 0u64;
    loop {
        let sent = metric(&http.text("/metrics").await?, EMAIL_ACCEPTED).unwrap_or(0);
        bar.set_position(sent.min(n));
        // The log is asked less often than the counter: it is a query.
        polls += 1;
        let finished = sent >= n || (polls.is_multiple_of(50) && none_left(http, key).await?);
        if finished {
            bar.finish();
            return Ok(now_ms());
        }
        if start.elapsed() > SEND_BOUND {
            bar.abandon();
            return Err(BenchError::Timeout(format!(
                "only {sent} of {n} scheduled e-mails sent after {SEND_BOUND:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the tenant's log shows nothing scheduled and nothing pending.
async fn none_left(http: &Http, key: &str) -> Result<bool, BenchError> {
    for status in ["scheduled", "pending"] {
        let log = http
            .get(&format!("/v1/notifications?status={status}&limit=1"), key)
            .await?;
        if !log["notifications"].as_array().is_some_and(Vec::is_empty) {
            return Ok(false);
        }
    }
    Ok(true)
}
