//! A node's own upkeep of the cascade's tables, paced by its accepts:
//! fresh planner statistics while they grow (`stats`) and dead row
//! versions out of the queue's indexes (`vacuum`). Each runs in the
//! background, never on the accept's path, and at most one of each kind at
//! a time on a node.

use super::{stats, vacuum};
use sqlx::PgPool;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One kind of background upkeep: whether a run is going, and how much
/// it has done.
#[derive(Debug, Default)]
struct Chore {
    running: Arc<AtomicBool>,
    /// Work done (tables analyzed or vacuumed) by this node.
    done: Arc<AtomicU64>,
}

impl Chore {
    /// Starts `run` in the background unless a run is still going (that
    /// one covers this call too). `run` answers how much it did.
    fn start<F>(&self, what: &'static str, run: F)
    where
        F: Future<Output = Result<u64, sqlx::Error>> + Send + 'static,
    {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let (running, done) = (self.running.clone(), self.done.clone());
        tokio::spawn(async move {
            match run.await {
                Ok(n) => {
                    done.fetch_add(n, Ordering::Relaxed);
                }
                // Upkeep is an optimisation: a failed run (the schema
                // dropped, the server going away) loses nothing.
                Err(e) => tracing::debug!("{what} of the cascade's tables failed: {e}"),
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// This node's accepts and the upkeep they pace.
#[derive(Debug)]
pub(super) struct Upkeep {
    accepted: AtomicU64,
    growth: stats::Growth,
    vacuum: vacuum::Vacuum,
    analyzing: Chore,
    vacuuming: Chore,
}

impl Upkeep {
    /// Analyzes first after `analyze_after` accepts, vacuums a table past
    /// `vacuum_dead_rows` dead rows (0: never, for either).
    pub(super) fn new(analyze_after: u64, vacuum_dead_rows: u64) -> Upkeep {
        Upkeep {
            accepted: AtomicU64::new(0),
            growth: stats::Growth::new(analyze_after),
            vacuum: vacuum::Vacuum::new(vacuum_dead_rows),
            analyzing: Chore::default(),
            vacuuming: Chore::default(),
        }
    }

    /// Counts one accepted notification and starts what its count calls for.
    pub(super) fn accepted(&self, pool: &PgPool) {
        let n = self.accepted.fetch_add(1, Ordering::Relaxed) + 1;
        if self.growth.is_due(n) {
            self.analyzing
                .start("ANALYZE", stats::analyze(pool.clone(), n));
        }
        if let Some(dead_rows) = self.vacuum.is_look(n) {
            self.vacuuming
                .start("VACUUM", vacuum::sweep(pool.clone(), dead_rows));
        }
    }

    /// `ANALYZE` runs by this node.
    pub(super) fn analyzed(&self) -> u64 {
        self.analyzing.done.load(Ordering::Relaxed)
    }

    /// Tables vacuumed by this node.
    pub(super) fn vacuumed(&self) -> u64 {
        self.vacuuming.done.load(Ordering::Relaxed)
    }
}
