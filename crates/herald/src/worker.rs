//! The dispatcher: claims due attempts in batches, sends them concurrently
//! (never inside a transaction), records the answers in batches, and runs
//! the cascade's timers. Each round is one call to the store
//! (`Store::dispatch_round`): the answers that came in since the last
//! round, the due wake-ups, the next claim and the next due time. It sleeps until the next due time or until new
//! work is committed (wake, don't poll); a slow sweep is the safety net.
//!
//! Fairness: each (tenant, channel) may have at most `per_integration`
//! sends in flight, and the claim skips keys at that bound, so one
//! tenant's backlog on a slow provider never holds back another's due
//! work. Every send is cut off after the client's timeout, which is always
//! shorter than the attempt's lease: a hung provider leads to a retry with
//! the same key, never to a second concurrent send of the attempt.

use crate::limiter::Limiter;
use crate::providers::MAX_TIMEOUT_MS;
use crate::service::App;
use herald_core::{Channel, Millis};
use herald_store::{ClaimBudget, ClaimedAttempt, Round, RoundDone, SendResult, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};

/// The longest any one send may take, whatever a client says: a lease
/// (`WorkerConfig::lease_ms`) is always longer than this.
pub const MAX_SEND: Duration = Duration::from_millis(MAX_TIMEOUT_MS);

/// How long the loop waits before claiming again when all due work
/// belongs to integrations at their bound (a finished send wakes it
/// sooner).
const SATURATED_WAIT_MS: Millis = 100;

/// The longest a due deadline waits for its wake-up while the loop is
/// kept busy by new work.
const WAKE_CHECK_MS: Millis = 50;

/// Tuning of the dispatcher.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Attempts claimed per round.
    pub batch: usize,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// Sends in flight at once per (tenant, channel).
    pub per_integration: usize,
    /// How long a claimed attempt is ours before another worker may take it
    /// back; longer than any provider call may take.
    pub lease_ms: Millis,
    /// The safety-net sweep interval.
    pub sweep_ms: Millis,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch: 256,
            concurrency: 512,
            per_integration: 64,
            lease_ms: 120_000,
            sweep_ms: 1_000,
        }
    }
}

/// The longest pause between tries while the store refuses writes.
const STORE_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Records a batch of answers. While the store refuses writes for now (a
/// full disk, a lock held by a backup) the answers wait here and are tried
/// again with backoff for as long as it takes: dropping them would make the
/// leases send those messages again. On any other error the batch is tried
/// a few times, then one answer at a time, so one answer the store keeps
/// refusing cannot hold the others back; an answer never recorded is not
/// lost either: its attempt stays `sending`, and the lease sends it again
/// with the same key.
async fn record_with_retries(app: &App, batch: Vec<SendResult>) {
    let mut wait = Duration::from_millis(100);
    let mut failures = 0;
    let mut refusals: u64 = 0;
    loop {
        match app.store.record_send_results(batch.clone()).await {
            Ok(()) => {
                if refusals > 0 {
                    tracing::info!(
                        "{} send results recorded after the store took writes again",
                        batch.len()
                    );
                }
                return;
            }
            Err(e) if matches!(e, StoreError::Unavailable(_)) => {
                if refusals.is_power_of_two() || refusals == 0 {
                    tracing::warn!(
                        "the store refuses writes ({e}); {} send results wait, retrying",
                        batch.len()
                    );
                }
                refusals += 1;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(STORE_BACKOFF_MAX);
            }
            Err(e) => {
                failures += 1;
                tracing::error!(
                    "recording {} send results failed (try {failures}): {e}",
                    batch.len()
                );
                if failures >= 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    for one in batch {
        let id = one.attempt_id.clone();
        if let Err(e) = app.store.record_send_results(vec![one]).await {
            tracing::error!(
                "send result of attempt {id} not recorded; its lease will retry it: {e}"
            );
        }
    }
}

/// The answers still owed by sends in flight at shutdown, recorded as
/// they come (for at most a few seconds).
async fn record_the_rest(app: &App, mut rx: mpsc::Receiver<SendResult>) {
    let drain = async {
        let mut buf = Vec::with_capacity(256);
        while rx.recv_many(&mut buf, 256).await > 0 {
            record_with_retries(app, std::mem::take(&mut buf)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
}

/// What the loop learnt from one round of the store.
struct Learnt {
    claimed: Vec<ClaimedAttempt>,
    next_due_at: Option<Millis>,
}

/// One round: the answers that came in, the wake-ups, the claim and the
/// next due time, in one call to the store (one writer transaction on
/// SQLite). Answers the store could not take are retried on their own.
async fn round(app: &Arc<App>, r: Round) -> Learnt {
    let answers = (!r.results.is_empty()).then(|| r.results.clone());
    let done = match app.store.dispatch_round(r).await {
        Ok(d) => d,
        Err(e) => RoundDone {
            recorded: Err(StoreError::Backend(e.to_string())),
            woken: Ok(0),
            claimed: Err(e),
            next_due_at: Ok(None),
        },
    };
    if let (Err(e), Some(batch)) = (&done.recorded, answers) {
        tracing::error!("recording {} send results: {e}; retrying", batch.len());
        let app = app.clone();
        tokio::spawn(async move { record_with_retries(&app, batch).await });
    }
    if let Err(e) = done.woken {
        tracing::error!("waking due notifications: {e}");
    }
    let claimed = done.claimed.unwrap_or_else(|e| {
        tracing::error!("claiming attempts: {e}");
        Vec::new()
    });
    Learnt {
        claimed,
        next_due_at: done.next_due_at.ok().flatten(),
    }
}

/// How long one send may take: it must end before its lease does, with
/// room to record it.
fn send_limit(cfg: &WorkerConfig) -> Duration {
    MAX_SEND.min(Duration::from_millis(
        (cfg.lease_ms.max(2_000) as u64).saturating_sub(1_000) / 2,
    ))
}

/// Runs the dispatcher until `shutdown` resolves.
pub async fn run(
    app: Arc<App>,
    cfg: WorkerConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::channel::<SendResult>(cfg.concurrency * 2);
    let permits = Arc::new(Semaphore::new(cfg.concurrency));
    let in_flight: Arc<Mutex<HashMap<(String, Channel), usize>>> = Default::default();
    let freed = Arc::new(Notify::new());
    let limiter = Arc::new(Limiter::default());
    let limit = send_limit(&cfg);
    // Deadlines are looked at when a timer fires, and at most every
    // `WAKE_CHECK_MS` while new work keeps the loop busy, so a stream of
    // triggers does not cost the writer a wake-up query each.
    let mut timer_fired = true;
    let mut last_wake_check: Millis = 0;
    let mut answers: Vec<SendResult> = Vec::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        // The answers of sends that ended go in with this round's claim.
        while let Ok(r) = rx.try_recv() {
            answers.push(r);
        }
        let now = app.now();
        let wake = timer_fired || now - last_wake_check >= WAKE_CHECK_MS;
        if wake {
            last_wake_check = now;
        }
        let free = permits.available_permits().min(cfg.batch);
        let budget = ClaimBudget {
            per_key: cfg.per_integration.max(1),
            in_flight: in_flight.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        };
        let saturated = budget.saturated().next().is_some();
        let learnt = if free > 0 || wake || !answers.is_empty() {
            let r = Round {
                results: std::mem::take(&mut answers),
                now,
                wake_limit: wake.then_some(1_000),
                limit: free,
                lease_ms: cfg.lease_ms,
                budget,
            };
            round(&app, r).await
        } else {
            // Every permit is taken and nothing to record: wait for a send
            // to end.
            Learnt {
                claimed: Vec::new(),
                next_due_at: None,
            }
        };
        let full = learnt.claimed.len() == free && free > 0;
        for c in learnt.claimed {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let key = (c.tenant_id.clone(), c.channel);
            *in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(key.clone())
                .or_insert(0) += 1;
            let app = app.clone();
            let tx = tx.clone();
            let in_flight = in_flight.clone();
            let freed = freed.clone();
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let outcome = send_one(&app, &limiter, &c, limit).await;
                let _ = tx
                    .send(SendResult {
                        attempt_id: c.id,
                        at: app.now(),
                        outcome,
                    })
                    .await;
                {
                    let mut m = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(n) = m.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            m.remove(&key);
                        }
                    }
                }
                drop(permit);
                freed.notify_one();
            });
        }
        if full {
            tokio::task::yield_now().await;
            continue;
        }
        let next = learnt.next_due_at;
        let mut wait = next.map_or(cfg.sweep_ms, |t| (t - app.now()).clamp(0, cfg.sweep_ms));
        if wait == 0 && saturated {
            // What is due belongs to integrations at their bound: wait for
            // one of their sends to end rather than spin on the claim.
            wait = SATURATED_WAIT_MS;
        } else if wait == 0 && permits.available_permits() > 0 {
            timer_fired = true;
            continue;
        }
        timer_fired = false;
        tokio::select! {
            _ = app.work.notified() => {}
            _ = freed.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait.max(1) as u64)) => timer_fired = true,
            _ = shutdown.changed() => {}
        }
    }
    drop(tx);
    answers.extend(std::iter::from_fn(|| rx.try_recv().ok()));
    if !answers.is_empty() {
        record_with_retries(&app, answers).await;
    }
    record_the_rest(&app, rx).await;
}

#[path = "worker_send.rs"]
mod send;
use send::send_one;
pub use send::{classify, send_bounded};

#[path = "worker_idle.rs"]
mod idle;
pub use idle::{run_until, run_until_idle, Idle};

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
