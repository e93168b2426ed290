//! Counters for `/metrics`, in the Prometheus text format.

use herald_core::Channel;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters. Cheap to bump from any task.
#[derive(Default)]
pub struct Metrics {
    accepted: AtomicU64,
    scheduled: AtomicU64,
    cancelled: AtomicU64,
    receipts: AtomicU64,
    late_receipts: AtomicU64,
    /// Send answers per channel (index of `Channel::ALL`) and kind.
    sends: [[AtomicU64; 4]; 5],
    /// From a failure recorded to its fallback's send.
    fallback_reaction: Histogram,
    /// Rows removed by retention, per kind of `PRUNED_KINDS`.
    pruned: [AtomicU64; 5],
}

/// The `kind` labels of `herald_pruned_total`, in `Pruned::by_kind` order.
const PRUNED_KINDS: [&str; 5] = [
    "notifications",
    "attempts",
    "receipts",
    "idempotency_keys",
    "sim_messages",
];

/// Upper bounds of the fallback reaction's buckets, in seconds: the
/// cascade's promise is milliseconds, a backlog shows as seconds.
const REACTION_BOUNDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A Prometheus histogram of durations with fixed buckets.
#[derive(Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [AtomicU64; REACTION_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, ms: i64) {
        let secs = ms.max(0) as f64 / 1_000.0;
        let i = REACTION_BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(REACTION_BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(ms.max(0) as u64 * 1_000, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            match REACTION_BOUNDS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

/// The kinds of send answers counted.
const KINDS: [&str; 4] = ["accepted", "transient", "refused", "unreachable"];

/// A send answer, for counting.
#[derive(Debug, Clone, Copy)]
pub enum SendKind {
    /// Accepted.
    Accepted = 0,
    /// Transient error.
    Transient = 1,
    /// Refused for good.
    Refused = 2,
    /// Dead address.
    Unreachable = 3,
}

impl Metrics {
    /// A notification was accepted.
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// An accepted notification waits for its send time.
    pub fn scheduled(&self) {
        self.scheduled.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` notifications were cancelled.
    pub fn cancelled(&self, n: usize) {
        self.cancelled.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A receipt was recorded.
    pub fn receipt(&self, late: bool) {
        self.receipts.fetch_add(1, Ordering::Relaxed);
        if late {
            self.late_receipts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A provider answered a send.
    pub fn send(&self, channel: Channel, kind: SendKind) {
        let c = Channel::ALL.iter().position(|x| *x == channel).unwrap_or(0);
        self.sends[c][kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A fallback attempt went out `ms` after the decision that started it
    /// (the previous channel's failure being recorded, or its window
    /// closing).
    pub fn fallback_reaction(&self, ms: i64) {
        self.fallback_reaction.observe(ms);
    }

    /// Retention removed these rows.
    pub fn pruned(&self, p: &herald_store::Pruned) {
        for (kind, n) in p.by_kind() {
            if let Some(i) = PRUNED_KINDS.iter().position(|k| *k == kind) {
                self.pruned[i].fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Renders the Prometheus text exposition, with the store's own
    /// counters appended.
    pub fn render(&self, store_counters: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "herald_notifications_accepted_total",
            "Notifications accepted by the API.",
            self.accepted.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "herald_notifications_scheduled_total",
            "Notifications accepted with a send time in the future.",
            self.scheduled.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "herald_notifications_cancelled_total",
            "Notifications cancelled (one by one or by booking) before they finished.",
            self.cancelled.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "herald_receipts_total",
            "Provider receipts recorded.",
            self.receipts.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "herald_late_receipts_total",
            "Receipts that arrived after the confirmation window.",
            self.late_receipts.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP herald_sends_total Provider answers to send requests.\n# TYPE herald_sends_total counter");
        for (ci, ch) in Channel::ALL.iter().enumerate() {
            for (ki, kind) in KINDS.iter().enumerate() {
                let v = self.sends[ci][ki].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "herald_sends_total{{channel=\"{ch}\",result=\"{kind}\"}} {v}"
                );
            }
        }
        let _ = writeln!(out, "# HELP herald_pruned_total Rows removed by retention (idempotency_keys: keys expired on notifications that stay).\n# TYPE herald_pruned_total counter");
        for (i, kind) in PRUNED_KINDS.iter().enumerate() {
            let v = self.pruned[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "herald_pruned_total{{kind=\"{kind}\"}} {v}");
        }
        self.fallback_reaction.render(
            &mut out,
            "herald_fallback_reaction_seconds",
            "From a channel's failure being recorded to its fallback's first send request.",
        );
        for (name, help, v) in store_counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_reaction_is_a_cumulative_histogram() {
        let m = Metrics::default();
        m.fallback_reaction(3);
        m.fallback_reaction(15);
        m.fallback_reaction(40_000);
        let text = m.render(&[]);
        assert!(text.contains("# TYPE herald_fallback_reaction_seconds histogram"));
        assert!(text.contains("herald_fallback_reaction_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("herald_fallback_reaction_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("herald_fallback_reaction_seconds_bucket{le=\"0.02\"} 2\n"));
        assert!(text.contains("herald_fallback_reaction_seconds_bucket{le=\"30\"} 2\n"));
        assert!(text.contains("herald_fallback_reaction_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("herald_fallback_reaction_seconds_sum 40.018\n"));
        assert!(text.contains("herald_fallback_reaction_seconds_count 3\n"));
    }

    #[test]
    fn pruned_rows_are_counted_per_kind() {
        let m = Metrics::default();
        let p = herald_store::Pruned {
            notifications: 2,
            attempts: 5,
            idempotency_keys: 1,
            sim_messages: 7,
            ..Default::default()
        };
        m.pruned(&p);
        m.pruned(&p);
        let text = m.render(&[]);
        assert!(text.contains("# TYPE herald_pruned_total counter\n"));
        assert!(text.contains("herald_pruned_total{kind=\"notifications\"} 4\n"));
        assert!(text.contains("herald_pruned_total{kind=\"attempts\"} 10\n"));
        assert!(text.contains("herald_pruned_total{kind=\"receipts\"} 0\n"));
        assert!(text.contains("herald_pruned_total{kind=\"idempotency_keys\"} 2\n"));
        assert!(text.contains("herald_pruned_total{kind=\"sim_messages\"} 14\n"));
    }
}
