//! Fresh planner statistics while the cascade's tables grow from empty.
//!
//! Autovacuum analyzes a table once it has changed by a tenth or so, but
//! it looks only once a minute (`autovacuum_naptime`), and a prepared
//! statement's generic plan is made once per session and kept until the
//! table is analyzed. On a new schema that plan is made for empty tables:
//! the batch updates join their arrays to a sequential scan of the whole
//! table, and keep doing so while it grows by thousands of rows a second
//! (a batch of answers took 13 ms instead of 2; BENCHMARKS.md "Plans made
//! for empty tables"). So each node analyzes the hot tables itself each
//! time its own accepts double, from `PgOptions::analyze_after` up to
//! `LAST`; every `ANALYZE` also makes the sessions plan again. Past that
//! autovacuum keeps up by itself.

use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The last count of accepts that triggers an `ANALYZE` (about 16 M):
/// by then autovacuum's proportional thresholds are the right ones.
const LAST: u64 = 1 << 24;

/// The tables whose rows every cascade adds or moves.
const ANALYZE_SQL: &str = "ANALYZE notifications, attempts, receipts, sim_messages";

/// This node's accepts and the count at which it analyzes next.
#[derive(Debug)]
pub(super) struct Growth {
    accepted: AtomicU64,
    /// 0: never.
    next: AtomicU64,
    running: Arc<AtomicBool>,
    /// `ANALYZE`s run by this node.
    pub(super) runs: Arc<AtomicU64>,
}

impl Growth {
    /// Analyzes first after `first` accepts (0: never).
    pub(super) fn new(first: u64) -> Growth {
        Growth {
            accepted: AtomicU64::new(0),
            next: AtomicU64::new(first.min(LAST)),
            running: Arc::new(AtomicBool::new(false)),
            runs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts one accepted notification; analyzes in the background when
    /// the count reaches the next threshold.
    pub(super) fn accepted(&self, pool: &PgPool) {
        let Some(n) = self.count() else {
            return;
        };
        // A run still going covers this threshold too.
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let (pool, running, runs) = (pool.clone(), self.running.clone(), self.runs.clone());
        tokio::spawn(async move {
            match sqlx::query(ANALYZE_SQL).execute(&pool).await {
                Ok(_) => {
                    runs.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("analyzed the cascade's tables after {n} accepts");
                }
                // Statistics are an optimisation: a failed ANALYZE (the
                // schema dropped, the server going away) changes nothing.
                Err(e) => tracing::debug!("ANALYZE after {n} accepts failed: {e}"),
            }
            running.store(false, Ordering::Release);
        });
    }

    /// Counts one accept; the count when it reached the next threshold
    /// (which then doubles, or ends past `LAST`).
    fn count(&self) -> Option<u64> {
        let n = self.accepted.fetch_add(1, Ordering::Relaxed) + 1;
        let next = self.next.load(Ordering::Relaxed);
        if next == 0 || n < next {
            return None;
        }
        let after = if next >= LAST { 0 } else { next * 2 };
        // One caller wins the threshold; the others see the new one.
        self.next
            .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            .ok()
            .map(|_| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_double_then_stop() {
        let g = Growth::new(4);
        let hits: Vec<u64> = (0..40).filter_map(|_| g.count()).collect();
        assert_eq!(hits, vec![4, 8, 16, 32]);
        assert_eq!(Growth::new(0).count(), None);
        let late = Growth::new(LAST);
        late.accepted.store(LAST - 1, Ordering::Relaxed);
        assert_eq!(late.count(), Some(LAST));
        assert_eq!(late.next.load(Ordering::Relaxed), 0);
        assert_eq!(late.count(), None);
    }
}
