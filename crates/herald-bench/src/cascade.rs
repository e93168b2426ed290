//! A cascade phase: triggers for a time, then the wait until every cascade
//! has finished, the count of the delivered ones, and the timings of a
//! sample read back.

use crate::client::Http;
use crate::error::BenchError;
use crate::load::{drive, Stop, Tally};
use crate::progress;
use crate::setup::trigger_body;
use crate::stats::{rate, Spread};
use crate::timings;
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the cascades may take to finish after the load stopped.
const DRAIN_BOUND: Duration = Duration::from_secs(1_800);

/// How often the log is asked whether anything is still pending.
const POLL: Duration = Duration::from_millis(50);

/// Notifications read back at once for the sample.
const SAMPLE_CONCURRENCY: usize = 8;

/// What a cascade phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// Triggers answered 202.
    pub accepted: u64,
    /// Triggers answered otherwise or not at all.
    pub failed_triggers: u64,
    /// The first such failure.
    pub first_failure: Option<String>,
    /// Seconds of load.
    pub trigger_seconds: f64,
    /// 202 answers per second of load.
    pub triggers_per_s: f64,
    /// Notifications whose status is `delivered` at the end.
    pub delivered: u64,
    /// Seconds from the first trigger until none was pending.
    pub finish_seconds: f64,
    /// Delivered notifications per second, first trigger to last finish.
    pub cascades_per_s: f64,
    /// Trigger to final status, ms, over the sample.
    pub trigger_to_final_ms: Spread,
    /// Failure of the first channel to the fallback's send, ms (two-step).
    pub fallback_to_sent_ms: Spread,
    /// Failure of the first channel to the fallback attempt's creation, ms.
    pub fallback_to_created_ms: Spread,
}

/// A phase's load, finished: what the triggers got and when the last
/// cascade ended, before anything is read back.
pub struct Loaded {
    tally: Tally,
    finish: Duration,
}

/// Triggers for `length` from `connections` callers, waits for every
/// cascade to finish, counts the delivered ones and reads `sample` of
/// them back.
pub async fn run(
    http: &Http,
    key: &str,
    label: &str,
    connections: usize,
    length: Duration,
    sample: usize,
) -> Result<Phase, BenchError> {
    let loaded = load(http, key, label, connections, length).await?;
    read_back(http, key, loaded, sample).await
}

/// Triggers for `length` from `connections` callers and waits until no
/// cascade is pending: the part of a phase that CPU is measured over.
pub async fn load(
    http: &Http,
    key: &str,
    label: &str,
    connections: usize,
    length: Duration,
) -> Result<Loaded, BenchError> {
    let start = Instant::now();
    let tally = {
        let http = http.clone();
        let key = key.to_string();
        drive(
            &format!("{label} triggers"),
            connections,
            Stop::After(length),
            move |n| {
                let http = http.clone();
                let key = key.clone();
                async move {
                    match http
                        .post_raw("/v1/notifications", &key, trigger_body(n), true)
                        .await?
                    {
                        (StatusCode::ACCEPTED, Some(id)) => Ok(Some(id)),
                        (status, _) => Err(format!("POST /v1/notifications: {status}")),
                    }
                }
            },
        )
        .await
    };
    wait_drained(http, key, &format!("{label} cascades")).await?;
    Ok(Loaded {
        tally,
        finish: start.elapsed(),
    })
}

/// Counts the delivered notifications of a finished load and reads
/// `sample` of them back for the timings.
pub async fn read_back(
    http: &Http,
    key: &str,
    loaded: Loaded,
    sample: usize,
) -> Result<Phase, BenchError> {
    let Loaded { tally, finish } = loaded;
    let delivered = count(http, key, "delivered").await?;
    let (trigger_to_final, to_sent, to_created) =
        sample_timings(http, key, &tally.ids, sample).await?;
    Ok(Phase {
        accepted: tally.ok,
        failed_triggers: tally.failed,
        first_failure: tally.first_failure.clone(),
        trigger_seconds: tally.elapsed.as_secs_f64(),
        triggers_per_s: tally.per_second(),
        delivered,
        finish_seconds: finish.as_secs_f64(),
        cascades_per_s: rate(delivered, finish),
        trigger_to_final_ms: Spread::of(trigger_to_final),
        fallback_to_sent_ms: Spread::of(to_sent),
        fallback_to_created_ms: Spread::of(to_created),
    })
}

/// Waits until the tenant's log shows no pending notification.
async fn wait_drained(http: &Http, key: &str, label: &str) -> Result<(), BenchError> {
    let spinner = progress::spinner(label);
    spinner.set_message("waiting until none is pending");
    let start = Instant::now();
    loop {
        let log = http
            .get("/v1/notifications?status=pending&limit=1", key)
            .await?;
        if log["notifications"].as_array().is_some_and(Vec::is_empty) {
            spinner.finish_with_message("none pending");
            return Ok(());
        }
        if start.elapsed() > DRAIN_BOUND {
            spinner.abandon();
            return Err(BenchError::Timeout(format!(
                "{label}: still pending after {DRAIN_BOUND:?}"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// How many of the tenant's notifications have `status`, by paging the log.
pub async fn count(http: &Http, key: &str, status: &str) -> Result<u64, BenchError> {
    let mut total = 0u64;
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(c) => format!("/v1/notifications?status={status}&limit=1000&before={c}"),
            None => format!("/v1/notifications?status={status}&limit=1000"),
        };
        let page = http.get(&path, key).await?;
        total += page["notifications"].as_array().map_or(0, Vec::len) as u64;
        before = match &page["next"] {
            Value::Null => return Ok(total),
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
    }
}

/// Evenly spaced ids, at most `n` of them.
fn spaced(ids: &[String], n: usize) -> Vec<String> {
    if ids.len() <= n {
        return ids.to_vec();
    }
    let step = ids.len() as f64 / n as f64;
    (0..n)
        .map(|i| ids[(i as f64 * step) as usize].clone())
        .collect()
}

type Samples = (Vec<f64>, Vec<f64>, Vec<f64>);

/// The timings of up to `n` of `ids`, read back from the server.
async fn sample_timings(
    http: &Http,
    key: &str,
    ids: &[String],
    n: usize,
) -> Result<Samples, BenchError> {
    let chosen = spaced(ids, n);
    let bar = progress::bar(chosen.len() as u64, "reading back a sample");
    let mut out: Samples = (Vec::new(), Vec::new(), Vec::new());
    for chunk in chosen.chunks(SAMPLE_CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for id in chunk {
            let http = http.clone();
            let key = key.to_string();
            let id = id.clone();
            set.spawn(async move {
                let view = http.get(&format!("/v1/notifications/{id}"), &key).await?;
                timings::of_view(&view).map_err(|why| BenchError::View { id, why })
            });
        }
        while let Some(joined) = set.join_next().await {
            let t =
                joined.map_err(|e| BenchError::io("a sample task", std::io::Error::other(e)))??;
            out.0.push(t.trigger_to_final_ms);
            out.1.extend(t.fallback_to_sent_ms);
            out.2.extend(t.fallback_to_created_ms);
            bar.inc(1);
        }
    }
    bar.finish();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_spread_over_the_whole_run() {
        let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(spaced(&ids, 5), ["0", "2", "4", "6", "8"]);
        assert_eq!(spaced(&ids, 20).len(), 10);
    }
}
