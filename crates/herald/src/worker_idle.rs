//! The dispatcher run by hand: one deterministic step for tests on a
//! `ManualClock`. Where `run` sleeps until the next due time and sends
//! concurrently, these run rounds back to back at the clock's present,
//! send each claimed attempt in claim order, hand over the simulator's due
//! receipts, and stop when nothing more is due now. A test then moves the
//! clock (past a receipt window, to a retry) and runs again, so windows and
//! retries are tested without waiting in real time.

use super::{send_limit, send_one, WorkerConfig};
use crate::clock::{Clock, ManualClock};
use crate::limiter::Limiter;
use crate::providers::simulator::hand_over_due;
use crate::service::App;
use herald_core::Millis;
use herald_store::{ClaimBudget, Round, SendResult, StoreError};
use std::sync::Arc;

/// Rounds after which a step that keeps finding work now is a bug (work
/// that is due but never taken) rather than a long cascade.
const MAX_ROUNDS: usize = 10_000;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Idle {
    /// Rounds of the store run.
    pub rounds: usize,
    /// Attempts sent to providers.
    pub sends: usize,
    /// Simulator receipts handed over.
    pub receipts: usize,
    /// When anything is next due (an attempt, a wake-up, a simulator
    /// receipt), after the run.
    pub next_due_at: Option<Millis>,
}

/// Runs the dispatcher at the clock's present until nothing is due now:
/// answers recorded, due notifications woken, due attempts claimed and sent,
/// due simulator receipts handed over. Store errors end it.
pub async fn run_until_idle(app: &Arc<App>, cfg: &WorkerConfig) -> Result<Idle, StoreError> {
    let limiter = Limiter::default();
    let limit = send_limit(cfg);
    let mut answers: Vec<SendResult> = Vec::new();
    let mut idle = Idle::default();
    loop {
        if idle.rounds == MAX_ROUNDS {
            return Err(StoreError::Backend(format!(
                "the dispatcher found work due after {MAX_ROUNDS} rounds at one instant"
            )));
        }
        idle.rounds += 1;
        let done = app
            .store
            .dispatch_round(Round {
                results: std::mem::take(&mut answers),
                now: app.now(),
                wake_limit: Some(1_000),
                limit: cfg.batch.max(1),
                lease_ms: cfg.lease_ms,
                budget: ClaimBudget {
                    per_key: cfg.per_integration.max(1),
                    in_flight: Default::default(),
                },
            })
            .await?;
        done.recorded?;
        let woken = done.woken?;
        let claimed = done.claimed?;
        idle.next_due_at = done.next_due_at?;
        let handed = match &app.sim {
            Some(sim) => hand_over_due(app, sim, 512).await?.taken,
            None => 0,
        };
        idle.receipts += handed;
        if claimed.is_empty() && handed == 0 && woken == 0 {
            break;
        }
        for c in claimed {
            let outcome = send_one(app, &limiter, &c, limit).await;
            answers.push(SendResult {
                attempt_id: c.id,
                at: app.now(),
                outcome,
            });
            idle.sends += 1;
        }
    }
    if let Some(sim) = &app.sim {
        if let Some(at) = sim.sim_next_receipt_at().await? {
            idle.next_due_at = Some(idle.next_due_at.map_or(at, |t| t.min(at)));
        }
    }
    Ok(idle)
}

/// Moves `clock` forward to `until`, stopping at every due time on the way
/// and running the dispatcher there, as a live dispatcher would have.
/// Returns the totals of every step.
pub async fn run_until(
    app: &Arc<App>,
    cfg: &WorkerConfig,
    clock: &ManualClock,
    until: Millis,
) -> Result<Idle, StoreError> {
    let mut total = Idle::default();
    loop {
        let step = run_until_idle(app, cfg).await?;
        total.rounds += step.rounds;
        total.sends += step.sends;
        total.receipts += step.receipts;
        total.next_due_at = step.next_due_at;
        if total.rounds >= MAX_ROUNDS {
            return Err(StoreError::Backend(format!(
                "the dispatcher did not reach {until} within {MAX_ROUNDS} rounds"
            )));
        }
        let now = clock.now();
        match step.next_due_at {
            // Something is due later, before `until`: go there.
            Some(t) if t > now && t <= until => clock.set(t),
            _ if now >= until => return Ok(total),
            _ => clock.set(until),
        }
    }
}

#[cfg(test)]
#[path = "worker_idle_tests.rs"]
mod tests;
