//! The single writer and its group commit. One OS thread owns the one
//! write connection (`rusqlite`, statements prepared once and cached).
//! Callers hand it typed jobs over a channel; the thread takes the first
//! job, drains whatever else is queued (up to `MAX_BATCH`), runs them all
//! in one `BEGIN IMMEDIATE … COMMIT`, and answers every caller on its own
//! channel only after the commit is durable. Nothing but SQL happens while
//! the transaction is open, and no statement crosses a thread.
//!
//! Each job runs in a savepoint of its own, so a failing job is rolled
//! back alone and gets its own error; the others in the batch commit. If
//! the transaction itself is lost (SQLite rolls it back on a full disk) or
//! the commit fails, every caller of the batch gets that error.

use super::cache::Cache;
use super::error::Db;
use super::tx::WriteTx;
use crate::{Result, StoreError};
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most jobs committed in one transaction.
pub(super) const MAX_BATCH: usize = 512;

/// Counters of the writer's work.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub batches: AtomicU64,
    pub commands: AtomicU64,
    /// Batches in which the database refused a write for want of space or
    /// a lock (each of their callers was told "unavailable").
    pub refused: AtomicU64,
    /// Set while the latest batch was refused that way; cleared by the
    /// next batch that commits cleanly. `/healthz` reads it.
    pub cannot_write: AtomicBool,
}

/// Why a whole batch failed, kept to tell each of its callers.
pub(super) struct Failure {
    unavailable: bool,
    msg: String,
}

impl Failure {
    fn of(e: &StoreError) -> Failure {
        Failure {
            unavailable: matches!(e, StoreError::Unavailable(_)),
            msg: e.to_string(),
        }
    }

    fn error(&self) -> StoreError {
        let msg = format!("the write batch was rolled back: {}", self.msg);
        if self.unavailable {
            StoreError::Unavailable(msg)
        } else {
            StoreError::Backend(msg)
        }
    }
}

/// Answers a job's caller: `None` once the batch committed, else why it
/// failed.
type Answer = Box<dyn FnOnce(Option<&Failure>) + Send>;

/// What running a job leaves: whether it succeeded (else its savepoint is
/// rolled back) and how to answer its caller once the batch's fate is known.
pub(super) struct Ran {
    ok: bool,
    /// The job failed because the database could not take the write.
    unavailable: bool,
    answer: Answer,
}

/// A unit of work for the writer, with its typed answer channel.
pub(super) trait Job: Send {
    /// Runs inside the batch's transaction.
    fn run(self: Box<Self>, tx: &mut WriteTx<'_>) -> Ran;
    /// Answers without running (the batch failed before reaching it).
    fn abort(self: Box<Self>, f: &Failure);
}

/// A job from a closure; its result goes back on `reply`.
pub(super) struct Call<F, T> {
    pub f: F,
    pub reply: oneshot::Sender<Result<T>>,
}

impl<F, T> Job for Call<F, T>
where
    F: FnOnce(&mut WriteTx<'_>) -> Result<T> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, tx: &mut WriteTx<'_>) -> Ran {
        let Call { f, reply } = *self;
        let res = f(tx);
        Ran {
            ok: res.is_ok(),
            unavailable: matches!(res, Err(StoreError::Unavailable(_))),
            answer: Box::new(move |failed| {
                let res = match failed {
                    // A job's own error says more than the batch's.
                    Some(f) => res.and_then(|_| Err(f.error())),
                    None => res,
                };
                let _ = reply.send(res);
            }),
        }
    }

    fn abort(self: Box<Self>, f: &Failure) {
        let _ = self.reply.send(Err(f.error()));
    }
}

/// The statements around jobs, run through the statement cache.
fn exec(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql).db()?.execute([]).db()?;
    Ok(())
}

/// Runs `f` in a nested savepoint: on error only its own writes are
/// undone. For jobs made of parts that must fail separately.
pub(super) fn part<T>(
    tx: &mut WriteTx<'_>,
    f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>,
) -> Result<T> {
    exec(tx.conn, "SAVEPOINT part")?;
    let res = f(tx);
    if res.is_ok() {
        exec(tx.conn, "RELEASE part")?;
    } else {
        tx.cache.clear();
        tx.last = None;
        exec(tx.conn, "ROLLBACK TO part")?;
        exec(tx.conn, "RELEASE part")?;
    }
    res
}

/// Runs one job in its own savepoint. An error here (not the job's) means
/// the transaction is in an unknown state: the batch is given up.
fn run_one(
    conn: &mut Connection,
    cache: &mut Cache,
    job: Box<dyn Job>,
) -> Result<Ran, (StoreError, Ran)> {
    if let Err(e) = exec(conn, "SAVEPOINT cmd") {
        let ran = Ran {
            ok: false,
            unavailable: false,
            answer: Box::new(|_| {}),
        };
        // The job was not run: answer it as part of the failed batch.
        let f = Failure::of(&e);
        job.abort(&f);
        return Err((e, ran));
    }
    let ran = job.run(&mut WriteTx {
        conn: &mut *conn,
        cache: &mut *cache,
        last: None,
    });
    if !ran.ok {
        // Its rows are undone below: what the cache learnt may be gone.
        cache.clear();
    }
    // SQLite ends the transaction by itself on some errors (a full disk,
    // an I/O error): what ran before is gone, and so are the savepoints.
    let lost = || {
        let msg = "SQLite rolled the transaction back".to_string();
        // After a full disk the batch is as retryable as the job was.
        Err(if ran.unavailable {
            StoreError::Unavailable(msg)
        } else {
            StoreError::Backend(msg)
        })
    };
    let close = if conn.is_autocommit() {
        lost()
    } else if ran.ok {
        exec(conn, "RELEASE cmd")
    } else {
        exec(conn, "ROLLBACK TO cmd").and_then(|()| exec(conn, "RELEASE cmd"))
    };
    let close = close.and_then(|()| if conn.is_autocommit() { lost() } else { Ok(()) });
    match close {
        Ok(()) => Ok(ran),
        Err(e) => Err((e, ran)),
    }
}

/// Runs one batch in one transaction and answers its callers after the
/// commit (or all of them with an error if the batch could not commit).
/// Returns whether the database refused a write for want of space or a
/// lock.
fn run_batch(
    conn: &mut Connection,
    cache: &mut Cache,
    counters: &Counters,
    batch: &mut Vec<Box<dyn Job>>,
) -> bool {
    let mut done: Vec<Ran> = Vec::with_capacity(batch.len());
    let mut jobs = batch.drain(..);
    let mut state = exec(conn, "BEGIN IMMEDIATE");
    if state.is_ok() {
        for job in jobs.by_ref() {
            match run_one(conn, cache, job) {
                Ok(ran) => done.push(ran),
                Err((e, ran)) => {
                    done.push(ran);
                    state = Err(e);
                    break;
                }
            }
        }
    }
    if state.is_ok() {
        state = exec(conn, "COMMIT");
    }
    let refused = done.iter().any(|r| r.unavailable);
    // The flag is set before any caller hears of the batch: a caller told
    // "unavailable" then sees `/healthz` degraded, never the flag of the
    // batch before.
    match state {
        Ok(()) => {
            counters.cannot_write.store(refused, Ordering::Relaxed);
            for ran in done {
                (ran.answer)(None);
            }
            refused
        }
        Err(e) => {
            tracing::error!(error = %e, "write batch failed; rolling back");
            cache.clear();
            if !conn.is_autocommit() {
                if let Err(e) = conn.execute_batch("ROLLBACK") {
                    tracing::debug!(error = %e, "rollback after a failed batch");
                }
            }
            let f = Failure::of(&e);
            counters
                .cannot_write
                .store(refused || f.unavailable, Ordering::Relaxed);
            for ran in done {
                (ran.answer)(Some(&f));
            }
            for job in jobs {
                job.abort(&f);
            }
            refused || f.unavailable
        }
    }
}

/// The writer thread: batches until every sender is gone, then closes the
/// connection.
pub(super) fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    counters: Arc<Counters>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut cache = Cache::default();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let refused = run_batch(&mut conn, &mut cache, &counters, &mut batch);
        if refused {
            counters.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the write connection");
    }
}
