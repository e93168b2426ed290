//! Group commit on PostgreSQL, for the writes that arrive one by one from
//! many callers: accepts (each trigger's 202) and the simulator's sends;
//! and, in the same way without a transaction, the recipient lookup that
//! each trigger makes before its accept.
//! Each would otherwise be a transaction of its own: a few round trips and
//! a WAL flush for one row. Requests that arrive while a batch is
//! committing wait in a queue and go together in the next transaction
//! (one flush for all); the first to find no batch running starts a task
//! that drains the queue, so nothing waits on a timer. A task rather than
//! the caller: a caller's future is dropped when its HTTP client goes
//! away, and the queue must not stall with it.
//!
//! A batch that fails (a duplicate notification id, a deadlock with
//! another node) is rolled back and each of its requests runs alone, so
//! one bad request answers with its own error and the rest still land.

use super::read::{self, RecipientKey};
use super::{sim, Cx, PgTx};
use crate::{flow, Accepted, NewNotification, Result, SimAnswer, SimSend, StoreError};
use herald_core::Recipient;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Notify};

/// The most requests in one transaction: enough for a wave of triggers,
/// small enough that the transaction stays short.
const MAX_BATCH: usize = 256;

/// A request waiting for its commit.
struct Pending<T, R> {
    item: T,
    reply: oneshot::Sender<Result<R>>,
}

/// Requests waiting for the next group commit, and whether a task is
/// draining them.
pub(super) struct Queue<T, R> {
    state: Mutex<State<T, R>>,
}

struct State<T, R> {
    items: Vec<Pending<T, R>>,
    draining: bool,
}

impl<T, R> Default for Queue<T, R> {
    fn default() -> Self {
        Queue {
            state: Mutex::new(State {
                items: Vec::new(),
                draining: false,
            }),
        }
    }
}

impl<T: Send + Sync + 'static, R: Send + 'static> Queue<T, R> {
    /// Queues a request; true when no task drains the queue (the caller
    /// must start one).
    fn push(&self, p: Pending<T, R>) -> bool {
        let mut q = self.state.lock().unwrap_or_else(|p| p.into_inner());
        q.items.push(p);
        !std::mem::replace(&mut q.draining, true)
    }

    /// The next batch; empty (and the drainer gone) when nothing waits.
    fn take(&self) -> Vec<Pending<T, R>> {
        let mut q = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if q.items.is_empty() {
            q.draining = false;
            return Vec::new();
        }
        let n = q.items.len().min(MAX_BATCH);
        q.items.drain(..n).collect()
    }

    /// Puts `item` in the next batch and waits for its answer. `together`
    /// runs a batch in one transaction (one answer per item, in order);
    /// `alone` runs one item in its own, after a batch failed.
    async fn submit<B, BF, A, AF>(self: &Arc<Self>, item: T, together: B, alone: A) -> Result<R>
    where
        B: Fn(Arc<Vec<T>>) -> BF + Send + 'static,
        BF: Future<Output = Result<Vec<R>>> + Send,
        A: Fn(Arc<Vec<T>>, usize) -> AF + Send + 'static,
        AF: Future<Output = Result<R>> + Send,
    {
        let (reply, answer) = oneshot::channel();
        if self.push(Pending { item, reply }) {
            let queue = self.clone();
            tokio::spawn(async move {
                loop {
                    let batch = queue.take();
                    if batch.is_empty() {
                        return;
                    }
                    let (items, replies): (Vec<T>, Vec<_>) =
                        batch.into_iter().map(|p| (p.item, p.reply)).unzip();
                    let items = Arc::new(items);
                    let answers = match together(items.clone()).await {
                        Ok(all) if all.len() == items.len() => all.into_iter().map(Ok).collect(),
                        other => {
                            if let Err(e) = other {
                                tracing::debug!(
                                    "a batch of {} failed ({e}); each alone",
                                    items.len()
                                );
                            }
                            let mut each = Vec::with_capacity(items.len());
                            for i in 0..items.len() {
                                each.push(alone(items.clone(), i).await);
                            }
                            each
                        }
                    };
                    for (reply, a) in replies.into_iter().zip(answers) {
                        // A caller that went away no longer wants its
                        // answer; what it asked for is done.
                        let _ = reply.send(a);
                    }
                }
            });
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Accepts a notification in the next group commit of accepts.
pub(super) async fn accept(
    cx: &Cx,
    queue: &Arc<Queue<NewNotification, Accepted>>,
    dirty: &Arc<Notify>,
    n: NewNotification,
) -> Result<Accepted> {
    let (cx1, cx2) = (cx.clone(), cx.clone());
    let a = queue
        .submit(
            n,
            move |ns| {
                let cx = cx1.clone();
                async move { in_tx!(cx, |tx| accept_all(tx, &ns).await) }
            },
            move |ns, i| {
                let cx = cx2.clone();
                async move { in_tx!(cx, |tx| flow::accept(tx, &ns[i]).await) }
            },
        )
        .await?;
    if matches!(a, Accepted::Created(_)) {
        dirty.notify_one();
    }
    Ok(a)
}

async fn accept_all(tx: &mut PgTx, ns: &[NewNotification]) -> Result<Vec<Accepted>> {
    flow::accept_many(tx, ns).await
}

/// Stores a simulator send in the next group commit of sends.
pub(super) async fn sim_send(
    cx: &Cx,
    queue: &Arc<Queue<SimSend, SimAnswer>>,
    s: SimSend,
) -> Result<SimAnswer> {
    let (cx1, cx2) = (cx.clone(), cx.clone());
    queue
        .submit(
            s,
            move |ss| {
                let cx = cx1.clone();
                async move { in_tx!(cx, |tx| sim::sim_send_many(&mut tx.tx, &ss).await) }
            },
            move |ss, i| {
                let cx = cx2.clone();
                async move { in_tx!(cx, |tx| sim::sim_send(&mut tx.tx, &ss[i]).await) }
            },
        )
        .await
}

/// Looks a recipient up in the next batch of lookups: one statement for
/// all the triggers that arrived meanwhile instead of one each.
pub(super) async fn recipient(
    cx: &Cx,
    queue: &Arc<Queue<RecipientKey, Option<Recipient>>>,
    key: RecipientKey,
) -> Result<Option<Recipient>> {
    let (pool1, pool2) = (cx.pool.clone(), cx.pool.clone());
    queue
        .submit(
            key,
            move |keys| {
                let pool = pool1.clone();
                async move { read::recipients_many(&pool, &keys).await }
            },
            move |keys, i| {
                let pool = pool2.clone();
                async move {
                    let (t, k, id) = &keys[i];
                    read::get_recipient(&pool, t, *k, id).await
                }
            },
        )
        .await
}
