//! Time as the service sees it. Everything that stamps or compares times
//! (acceptance, sends, receipts, the dispatcher's due times, the
//! simulator's receipts) asks the `App`'s clock, so a test can run on a
//! `ManualClock` and move time itself instead of waiting in real time for a
//! receipt window or a retry (see `worker::run_until_idle`).

use herald_core::Millis;
use std::fmt::Debug;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in epoch milliseconds.
pub trait Clock: Debug + Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Millis;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn at(at: Millis) -> ManualClock {
        ManualClock(AtomicI64::new(at))
    }

    /// Moves the clock to `at` (never back).
    pub fn set(&self, at: Millis) {
        self.0.fetch_max(at, Ordering::SeqCst);
    }

    /// Moves the clock on by `ms`.
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_forward_and_only_when_told() {
        let c = ManualClock::at(1_000);
        assert_eq!(c.now(), 1_000);
        c.advance(500);
        assert_eq!(c.now(), 1_500);
        c.set(1_200);
        assert_eq!(c.now(), 1_500, "set never moves the clock back");
        c.set(2_000);
        assert_eq!(c.now(), 2_000);
    }

    #[test]
    fn the_system_clock_is_epoch_milliseconds() {
        // 2020-01-01 in epoch ms: any real clock is past it.
        assert!(SystemClock.now() > 1_577_836_800_000);
    }
}
