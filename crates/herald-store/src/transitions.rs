//! Process-wide counts of notifications a cascade step moved into a final
//! `cancelled` or `expired` status (for `/metrics`). Counted where the
//! step is written, so every path (a cancel, the claim's deadline check,
//! a wake) counts the same on every backend. A transaction retried after
//! a conflict may count its step twice: the counts are for watching, not
//! for billing.

use herald_core::Status;
use std::sync::atomic::{AtomicU64, Ordering};

static CANCELLED: AtomicU64 = AtomicU64::new(0);
static EXPIRED: AtomicU64 = AtomicU64::new(0);

/// Notes a step from `before` to `after`.
pub(crate) fn record(before: Status, after: Status) {
    if before == after {
        return;
    }
    match after {
        Status::Cancelled => CANCELLED.fetch_add(1, Ordering::Relaxed),
        Status::Expired => EXPIRED.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}

/// Notifications cancelled so far by this process.
pub fn cancelled() -> u64 {
    CANCELLED.load(Ordering::Relaxed)
}

/// Notifications that ended `expired` so far in this process.
pub fn expired() -> u64 {
    EXPIRED.load(Ordering::Relaxed)
}
