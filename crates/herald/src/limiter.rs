//! Sends per second, per integration: an integration with `max_per_second`
//! gets its sends spaced evenly (each send reserves the next free slot, so
//! bursts are smoothed rather than refused), and a provider that answers
//! "try later" slows it down: each transient answer halves its rate, down
//! to a sixteenth of the configured one, and each accepted send brings a
//! quarter back, up to the configured rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The slowest an integration is slowed to, as a share of its rate.
const MIN_FACTOR: f64 = 1.0 / 16.0;

#[derive(Debug, Clone, Copy)]
struct Slot {
    next_free: Instant,
    factor: f64,
}

/// Slots of every rate-bound integration, by hook id.
#[derive(Debug, Default)]
pub struct Limiter {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Limiter {
    fn with_slot<T>(&self, hook: &str, now: Instant, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry(hook.to_string()).or_insert(Slot {
            next_free: now,
            factor: 1.0,
        });
        f(slot)
    }

    /// Reserves the next send through an integration at `rate` per second
    /// and answers when it may start (now, or later).
    pub fn reserve(&self, hook: &str, rate: f64, now: Instant) -> Instant {
        self.with_slot(hook, now, |s| {
            let per_second = (rate * s.factor).max(f64::MIN_POSITIVE);
            let interval = Duration::from_secs_f64((1.0 / per_second).min(86_400.0));
            let at = s.next_free.max(now);
            s.next_free = at + interval;
            at
        })
    }

    /// The provider said "try later": halve the integration's rate.
    pub fn slow_down(&self, hook: &str, now: Instant) {
        self.with_slot(hook, now, |s| s.factor = (s.factor / 2.0).max(MIN_FACTOR));
    }

    /// A send went through: recover towards the configured rate.
    pub fn went_through(&self, hook: &str, now: Instant) {
        self.with_slot(hook, now, |s| s.factor = (s.factor * 1.25).min(1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_at_the_rate() {
        let l = Limiter::default();
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..5).map(|_| l.reserve("h", 10.0, t0) - t0).collect();
        assert_eq!(
            slots,
            [0, 100, 200, 300, 400].map(Duration::from_millis).to_vec()
        );
        // Another integration has its own slots.
        assert_eq!(l.reserve("other", 10.0, t0), t0);
        // Time that passed unused is not saved up for a burst.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(l.reserve("h", 10.0, later), later);
        assert_eq!(
            l.reserve("h", 10.0, later) - later,
            Duration::from_millis(100)
        );
    }

    #[test]
    fn transient_answers_slow_down_and_accepted_ones_recover() {
        let l = Limiter::default();
        let t0 = Instant::now();
        l.reserve("h", 10.0, t0);
        l.slow_down("h", t0);
        // At half the rate the next slot is 200 ms after the one reserved.
        let a = l.reserve("h", 10.0, t0);
        let b = l.reserve("h", 10.0, t0);
        assert_eq!(b - a, Duration::from_millis(200));
        for _ in 0..10 {
            l.slow_down("h", t0);
        }
        let c = l.reserve("h", 10.0, t0);
        assert_eq!(c - b, Duration::from_millis(200));
        let d = l.reserve("h", 10.0, t0);
        assert_eq!(d - c, Duration::from_millis(1600), "never below 1/16");
        for _ in 0..20 {
            l.went_through("h", t0);
        }
        let e = l.reserve("h", 10.0, t0);
        let f = l.reserve("h", 10.0, t0);
        assert_eq!(f - e, Duration::from_millis(100), "back to the rate");
    }
}
