//! Retention: what `Store::prune` and `SimStore::sim_prune` are asked to
//! remove, and what they say they removed. Nothing here touches a
//! database; each backend runs the deletions in small batches of its own.

use herald_core::Millis;

/// The statuses after which a notification changes no more: only these
/// are ever pruned. Listed, not negated, so that a status added later
/// (and not final) is kept until it is added here.
pub const FINISHED: [&str; 4] = ["delivered", "failed", "cancelled", "expired"];

/// The SQL list of `FINISHED`, for `status IN (…)` (and the partial index
/// of the migrations, which must say the same).
pub const FINISHED_SQL: &str = "('delivered', 'failed', 'cancelled', 'expired')";

/// How much one `prune` call removes, and what counts as old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneLimits {
    /// Finished notifications whose last update is older than this go,
    /// with their attempts and receipts (`--retention-days`).
    pub retention_ms: Millis,
    /// Idempotency keys older than this stop deduping: the key is taken
    /// off its notification, which stays until its own retention
    /// (`--idempotency-hours`).
    pub idempotency_ms: Millis,
    /// At most this many notifications, and this many keys, per call: one
    /// short transaction, so other writes are never held up for long.
    pub batch: usize,
}

impl PruneLimits {
    /// Notifications finished before this are removed.
    pub fn finished_before(&self, now: Millis) -> Millis {
        now.saturating_sub(self.retention_ms)
    }

    /// Keys of notifications created before this are expired.
    pub fn keys_before(&self, now: Millis) -> Millis {
        now.saturating_sub(self.idempotency_ms)
    }
}

/// What one prune removed, per kind, and whether a full batch was
/// removed (so more old rows may remain: call again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished notifications removed.
    pub notifications: u64,
    /// Their attempts.
    pub attempts: u64,
    /// Their attempts' receipts.
    pub receipts: u64,
    /// Idempotency keys expired (taken off notifications that stay).
    pub idempotency_keys: u64,
    /// Simulator outbox messages removed.
    pub sim_messages: u64,
    /// A batch was full: more may be left to remove.
    pub more: bool,
}

impl Pruned {
    /// Both results together (`more` if either has more).
    pub fn plus(self, o: Pruned) -> Pruned {
        Pruned {
            notifications: self.notifications + o.notifications,
            attempts: self.attempts + o.attempts,
            receipts: self.receipts + o.receipts,
            idempotency_keys: self.idempotency_keys + o.idempotency_keys,
            sim_messages: self.sim_messages + o.sim_messages,
            more: self.more || o.more,
        }
    }

    /// The counts by the names of `herald_pruned_total`'s `kind` label.
    pub fn by_kind(&self) -> [(&'static str, u64); 5] {
        [
            ("notifications", self.notifications),
            ("attempts", self.attempts),
            ("receipts", self.receipts),
            ("idempotency_keys", self.idempotency_keys),
            ("sim_messages", self.sim_messages),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_now_minus_the_windows() {
        let l = PruneLimits {
            retention_ms: 1_000,
            idempotency_ms: 100,
            batch: 10,
        };
        assert_eq!(l.finished_before(5_000), 4_000);
        assert_eq!(l.keys_before(5_000), 4_900);
        assert_eq!(l.finished_before(i64::MIN + 5), i64::MIN);
    }

    #[test]
    fn results_add_up_and_more_sticks() {
        let a = Pruned {
            notifications: 2,
            attempts: 3,
            more: true,
            ..Pruned::default()
        };
        let b = Pruned {
            notifications: 1,
            sim_messages: 4,
            ..Pruned::default()
        };
        let sum = a.plus(b);
        assert_eq!(
            (sum.notifications, sum.attempts, sum.sim_messages),
            (3, 3, 4)
        );
        assert!(sum.more);
        assert!(!b.plus(b).more);
    }

    #[test]
    fn the_sql_list_names_every_finished_status() {
        for s in FINISHED {
            assert!(FINISHED_SQL.contains(&format!("'{s}'")), "{s}");
        }
        assert_eq!(FINISHED_SQL.matches('\'').count(), FINISHED.len() * 2);
    }
}
