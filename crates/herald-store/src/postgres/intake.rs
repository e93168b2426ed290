//! Group commit of accepts on PostgreSQL. Every accept would otherwise be a
//! transaction of its own: four round trips and a WAL flush for one row.
//! Accepts that arrive while a batch is committing wait in a queue and go
//! together in the next transaction (one flush, two round trips fewer
//! each); the first to find no batch running starts a task that drains
//! the queue, so nothing waits on a timer. A task rather than the caller:
//! a caller's future is dropped when its HTTP client goes away, and the
//! queue must not stall with it.
//!
//! A batch that fails (a duplicate notification id, a deadlock with
//! another node) is rolled back and each of its accepts runs alone, so one
//! bad accept answers with its own error and the rest still land.

use super::{Cx, PgTx};
use crate::{flow, Accepted, NewNotification, Result, StoreError};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Notify};

/// The most accepts in one transaction: enough for a wave of triggers,
/// small enough that the transaction stays short.
const MAX_BATCH: usize = 256;

/// An accept waiting for its commit.
struct Pending {
    n: NewNotification,
    reply: oneshot::Sender<Result<Accepted>>,
}

/// The queue of accepts, and whether a task is draining it.
#[derive(Default)]
pub(super) struct Intake {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    items: Vec<Pending>,
    draining: bool,
}

impl Intake {
    /// Queues an accept; true when no task drains the queue (the caller
    /// must start one).
    fn push(&self, p: Pending) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.items.push(p);
        !std::mem::replace(&mut q.draining, true)
    }

    /// The next batch; empty (and the drainer gone) when nothing waits.
    fn take(&self) -> Vec<Pending> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.items.is_empty() {
            q.draining = false;
            return Vec::new();
        }
        let n = q.items.len().min(MAX_BATCH);
        q.items.drain(..n).collect()
    }
}

/// Accepts a notification in the next group commit.
pub(super) async fn accept(
    cx: &Cx,
    intake: &Arc<Intake>,
    dirty: &Arc<Notify>,
    n: NewNotification,
) -> Result<Accepted> {
    let (reply, answer) = oneshot::channel();
    if intake.push(Pending { n, reply }) {
        let (cx, intake, dirty) = (cx.clone(), intake.clone(), dirty.clone());
        tokio::spawn(async move {
            loop {
                let batch = intake.take();
                if batch.is_empty() {
                    return;
                }
                commit_batch(&cx, &dirty, batch).await;
            }
        });
    }
    answer.await.map_err(|_| StoreError::Closed)?
}

/// Runs one batch in one transaction, else each alone, and answers each.
async fn commit_batch(cx: &Cx, dirty: &Notify, batch: Vec<Pending>) {
    let together = if batch.len() > 1 {
        let ns: Vec<&NewNotification> = batch.iter().map(|p| &p.n).collect();
        Some(async { in_tx!(cx, |tx| accept_all(tx, &ns).await) }.await)
    } else {
        None
    };
    let answers: Vec<Result<Accepted>> = match together {
        Some(Ok(all)) => all.into_iter().map(Ok).collect(),
        Some(Err(e)) => {
            tracing::debug!(
                "a batch of {} accepts failed ({e}); each alone",
                batch.len()
            );
            alone(cx, &batch).await
        }
        None => alone(cx, &batch).await,
    };
    if answers
        .iter()
        .any(|a| matches!(a, Ok(Accepted::Created(_))))
    {
        dirty.notify_one();
    }
    for (p, a) in batch.into_iter().zip(answers) {
        // A caller that went away no longer wants its answer; its
        // notification stays accepted.
        let _ = p.reply.send(a);
    }
}

async fn accept_all(tx: &mut PgTx, ns: &[&NewNotification]) -> Result<Vec<Accepted>> {
    let mut out = Vec::with_capacity(ns.len());
    for n in ns {
        out.push(flow::accept(tx, n).await?);
    }
    Ok(out)
}

async fn alone(cx: &Cx, batch: &[Pending]) -> Vec<Result<Accepted>> {
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        out.push(async { in_tx!(cx, |tx| flow::accept(tx, &p.n).await) }.await);
    }
    out
}
