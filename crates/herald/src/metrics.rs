//! Counters for `/metrics`, in the Prometheus text format.

use herald_core::Channel;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters. Cheap to bump from any task.
#[derive(Default)]
pub struct Metrics {
    accepted: AtomicU64,
    receipts: AtomicU64,
    late_receipts: AtomicU64,
    /// Send answers per channel (index of `Channel::ALL`) and kind.
    sends: [[AtomicU64; 4]; 5],
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
        for (name, help, v) in store_counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        out
    }
}
