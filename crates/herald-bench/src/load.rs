//! The load: N concurrent callers each sending one request after another,
//! for a time or until a number of requests is taken, counted as they go.

use crate::progress;
use crate::stats::rate;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When the load stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this long.
    After(Duration),
    /// Once this many requests have been sent.
    Count(u64),
}

/// What one request came to: success (with an id when one was asked for)
/// or a failure described.
pub type Outcome = Result<Option<String>, String>;

/// The counts of one load.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed (wrong status or no answer).
    pub failed: u64,
    /// The first failure, to show.
    pub first_failure: Option<String>,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Ids the successful requests returned, when kept.
    pub ids: Vec<String>,
}

impl Tally {
    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        rate(self.ok, self.elapsed)
    }
}

struct Shared {
    tickets: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    first_failure: Mutex<Option<String>>,
    ids: Mutex<Vec<String>>,
}

/// Runs `request(n)` (n = 0, 1, 2, … across all callers) from
/// `connections` callers until `stop`, showing a bar labelled `label`.
pub async fn drive<F, Fut>(label: &str, connections: usize, stop: Stop, request: F) -> Tally
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let shared = Arc::new(Shared {
        tickets: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_failure: Mutex::new(None),
        ids: Mutex::new(Vec::new()),
    });
    let bar = match stop {
        Stop::After(d) => progress::bar(d.as_millis() as u64, label),
        Stop::Count(n) => progress::bar(n, label),
    };
    let start = Instant::now();
    let deadline = match stop {
        Stop::After(d) => Some(start + d),
        Stop::Count(_) => None,
    };
    let limit = match stop {
        Stop::After(_) => u64::MAX,
        Stop::Count(n) => n,
    };
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let shared = shared.clone();
        let request = request.clone();
        callers.spawn(async move {
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return;
                }
                let n = shared.tickets.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    return;
                }
                match request(n).await {
                    Ok(id) => {
                        shared.ok.fetch_add(1, Ordering::Relaxed);
                        if let Some(id) = id {
                            if let Ok(mut ids) = shared.ids.lock() {
                                ids.push(id);
                            }
                        }
                    }
                    Err(why) => {
                        shared.failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut first) = shared.first_failure.lock() {
                            if first.is_none() {
                                *first = Some(why);
                            }
                        }
                    }
                }
            }
        });
    }
    let ticker = {
        let shared = shared.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let ok = shared.ok.load(Ordering::Relaxed);
                let failed = shared.failed.load(Ordering::Relaxed);
                match stop {
                    Stop::After(_) => bar.set_position(start.elapsed().as_millis() as u64),
                    Stop::Count(_) => bar.set_position(ok + failed),
                }
                bar.set_message(format!(
                    "{ok} ok, {failed} failed, {:.0}/s",
                    rate(ok, start.elapsed())
                ));
            }
        })
    };
    while callers.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    ticker.abort();
    let ok = shared.ok.load(Ordering::Relaxed);
    let failed = shared.failed.load(Ordering::Relaxed);
    bar.finish_with_message(format!(
        "{ok} ok, {failed} failed, {:.0}/s",
        rate(ok, elapsed)
    ));
    let take = |m: &Mutex<Vec<String>>| {
        m.lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    };
    Tally {
        ok,
        failed,
        first_failure: shared.first_failure.lock().ok().and_then(|mut f| f.take()),
        elapsed,
        ids: take(&shared.ids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_counted_load_sends_exactly_its_count_and_keeps_the_ids() {
        let tally = drive("test", 4, Stop::Count(50), |n| async move {
            if n % 10 == 3 {
                Err(format!("request {n} failed"))
            } else {
                Ok(Some(n.to_string()))
            }
        })
        .await;
        assert_eq!(tally.ok, 45);
        assert_eq!(tally.failed, 5);
        assert_eq!(tally.ids.len(), 45);
        assert!(tally.first_failure.is_some_and(|f| f.ends_with("failed")));
    }
}
