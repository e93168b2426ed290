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
use std::sync::atomic::{AtomicU64, Ordering};

/// The last count of accepts that triggers an `ANALYZE` (about 16 M):
/// by then autovacuum's proportional thresholds are the right ones.
const LAST: u64 = 1 << 24;

/// The tables whose rows every cascade adds or moves.
const ANALYZE_SQL: &str = "ANALYZE notifications, attempts, receipts, sim_messages";

/// The count of accepts at which this node analyzes next.
#[derive(Debug)]
pub(super) struct Growth {
    /// 0: never.
    next: AtomicU64,
}

impl Growth {
    /// Analyzes first after `first` accepts (0: never).
    pub(super) fn new(first: u64) -> Growth {
        Growth {
            next: AtomicU64::new(first.min(LAST)),
        }
    }

    /// Whether the `n`th accept reached the next threshold (which then
    /// doubles, or ends past `LAST`).
    pub(super) fn is_due(&self, n: u64) -> bool {
        let next = self.next.load(Ordering::Relaxed);
        if next == 0 || n < next {
            return false;
        }
        let after = if next >= LAST { 0 } else { next * 2 };
        // One caller wins the threshold; the others see the new one.
        self.next
            .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Analyzes the cascade's tables (after `n` accepts); counts one run.
pub(super) async fn analyze(pool: PgPool, n: u64) -> Result<u64, sqlx::Error> {
    sqlx::query(ANALYZE_SQL).execute(&pool).await?;
    tracing::debug!("analyzed the cascade's tables after {n} accepts");
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_double_then_stop() {
        let g = Growth::new(4);
        let hits: Vec<u64> = (1..=40).filter(|&n| g.is_due(n)).collect();
        assert_eq!(hits, vec![4, 8, 16, 32]);
        assert!(!Growth::new(0).is_due(1));
        let late = Growth::new(LAST);
        assert!(late.is_due(LAST));
        assert_eq!(late.next.load(Ordering::Relaxed), 0);
        assert!(!late.is_due(LAST + 1));
    }
}
