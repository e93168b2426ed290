//! Sends per second, per integration.
//!
//! - An integration with `max_per_second` gets its sends spaced evenly
//!   (each send reserves the next free slot, so bursts are smoothed rather
//!   than refused).
//! - A throttling answer (a 429, `ESME_RTHROTTLED`) slows the integration
//!   down, whether or not it has a `max_per_second`: its sends pause until
//!   the provider's `Retry-After` (else for a short pause that doubles
//!   while answers keep saying so, from 0.5 s up to 30 s), then go at half
//!   its configured rate (never below a sixteenth of it), or, without one,
//!   at one a second. Each accepted send brings a quarter of the pace back,
//!   until the configured rate is reached, or, without one, until it is
//!   past 1,000 a second and no longer paced.
//! - Any other transient answer (a 5xx, a timeout) concerns that message
//!   only: it is retried, and the integration's pace is left alone.
//!
//! Sends that were already under way when a throttling answer came are
//! answered the same way, but they were sent before Herald knew: only a
//! send that started after the last slow-down slows it down again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The slowest a configured rate is slowed to, as a share of it.
const MIN_FACTOR: f64 = 1.0 / 16.0;
/// The pace an integration without a configured rate starts again at
/// after throttling, and the slowest it is slowed to.
const MIN_PACE: f64 = 1.0;
/// Above this an integration without a configured rate is no longer paced.
const UNPACED: f64 = 1_000.0;
/// Each accepted send multiplies a slowed pace by this.
const RECOVERY: f64 = 1.25;
/// The first pause after a throttling answer without `Retry-After`;
/// doubled while throttling answers follow, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The next free send slot while the integration is paced.
    next_free: Instant,
    /// No send starts before then (a throttling answer's pause).
    paused_until: Instant,
    /// The next pause when the provider gives no `Retry-After`.
    pause: Duration,
    /// The pace imposed after throttling, in sends a second (`None`: not
    /// slowed).
    pace: Option<f64>,
    /// When the last slow-down was: answers to sends started before it
    /// do not slow the integration down again.
    slowed_at: Option<Instant>,
}

impl Slot {
    fn new(now: Instant) -> Slot {
        Slot {
            next_free: now,
            paused_until: now,
            pause: FIRST_PAUSE,
            pace: None,
            slowed_at: None,
        }
    }

    /// The rate sends go at now, if they are paced at all.
    fn rate(&self, configured: Option<f64>) -> Option<f64> {
        match (configured, self.pace) {
            (Some(c), Some(p)) => Some(p.min(c)),
            (c, p) => c.or(p),
        }
    }
}

/// Why and until when a send has to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Not before then (at the pace of now: a pace that recovers meanwhile
    /// lets it go sooner, so ask again).
    pub until: Instant,
    /// Whether throttling answers slowed the integration down (else only
    /// its configured rate spaces it).
    pub slowed: bool,
}

/// The pace of every integration that has a rate or was throttled, by hook
/// id.
#[derive(Debug, Default)]
pub struct Limiter {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Limiter {
    /// Takes the next send slot of an integration (at most `configured`
    /// sends a second, if it says) if one is free now; else says until
    /// when to wait.
    pub fn try_admit(&self, hook: &str, configured: Option<f64>, now: Instant) -> Result<(), Wait> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = match slots.get_mut(hook) {
            Some(s) => s,
            // Never throttled and not rate-bound: nothing to keep.
            None if configured.is_none() => return Ok(()),
            None => slots
                .entry(hook.to_string())
                .or_insert_with(|| Slot::new(now)),
        };
        let free = slot.next_free.max(slot.paused_until);
        if free > now {
            return Err(Wait {
                until: free,
                slowed: slot.pace.is_some() || slot.paused_until > now,
            });
        }
        // Time that passed unused is not saved up for a burst.
        slot.next_free = match slot.rate(configured) {
            Some(rate) => {
                let per_second = rate.max(f64::MIN_POSITIVE);
                now + Duration::from_secs_f64((1.0 / per_second).min(86_400.0))
            }
            None => now,
        };
        Ok(())
    }

    /// The provider answered a send that started at `started` with "slow
    /// down": pause the integration (for `retry_after`, else a growing
    /// pause) and halve its pace, unless it was slowed down after that
    /// send started.
    pub fn throttled(
        &self,
        hook: &str,
        configured: Option<f64>,
        started: Instant,
        retry_after: Option<Duration>,
        now: Instant,
    ) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let s = slots
            .entry(hook.to_string())
            .or_insert_with(|| Slot::new(now));
        if let Some(after) = retry_after {
            s.paused_until = s.paused_until.max(now + after);
        }
        if s.slowed_at.is_some_and(|at| started < at) {
            return;
        }
        if retry_after.is_none() {
            s.paused_until = s.paused_until.max(now + s.pause);
        }
        s.slowed_at = Some(now);
        s.pause = (s.pause * 2).min(MAX_PAUSE);
        let floor = configured.map_or(MIN_PACE, |c| c * MIN_FACTOR);
        s.pace = Some(match s.rate(configured) {
            Some(going) => (going / 2.0).max(floor),
            None => MIN_PACE,
        });
    }

    /// A send went through: the pause starts short again, and a slowed
    /// pace recovers a quarter.
    pub fn went_through(&self, hook: &str, configured: Option<f64>, now: Instant) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = slots.get_mut(hook) else {
            return;
        };
        s.pause = FIRST_PAUSE;
        if let Some(p) = s.pace {
            let p = p * RECOVERY;
            let recovered = p >= configured.unwrap_or(UNPACED);
            s.pace = (!recovered).then_some(p);
        }
        if s.pace.is_none() && configured.is_none() && s.paused_until <= now {
            // Back to unpaced: nothing left to keep.
            slots.remove(hook);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Sends `n` sends one after another, each as soon as it may go, from
    /// `t0`: when each went, after `t0`.
    fn go(l: &Limiter, rate: Option<f64>, t0: Instant, n: usize) -> Vec<Duration> {
        let mut now = t0;
        (0..n)
            .map(|_| {
                if let Err(w) = l.try_admit("h", rate, now) {
                    now = w.until;
                    l.try_admit("h", rate, now).expect("free when it said");
                }
                now - t0
            })
            .collect()
    }

    fn gaps(at: &[Duration]) -> Vec<Duration> {
        at.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn sends_are_spaced_at_the_rate() {
        let l = Limiter::default();
        let t0 = Instant::now();
        assert_eq!(
            go(&l, Some(10.0), t0, 5),
            [0, 100, 200, 300, 400].map(ms).to_vec()
        );
        // Another integration has its own slots.
        assert_eq!(l.try_admit("other", Some(10.0), t0), Ok(()));
        let w = l.try_admit("h", Some(10.0), t0).unwrap_err();
        assert!(!w.slowed);
        // Time that passed unused is not saved up for a burst.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(go(&l, Some(10.0), later, 2), [ms(0), ms(100)]);
    }

    #[test]
    fn an_unlimited_integration_never_throttled_is_not_paced_or_kept() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(l.try_admit("h", None, t0), Ok(()));
            l.went_through("h", None, t0);
        }
        assert!(l.slots.lock().unwrap().is_empty());
    }

    #[test]
    fn throttling_pauses_then_halves_the_rate_and_accepted_sends_recover_it() {
        let l = Limiter::default();
        let t0 = Instant::now();
        l.try_admit("h", Some(10.0), t0).unwrap();
        l.throttled("h", Some(10.0), t0, None, t0);
        // Paused for the first pause, then at half the rate.
        let w = l.try_admit("h", Some(10.0), t0).unwrap_err();
        assert!(w.slowed);
        assert_eq!(w.until - t0, FIRST_PAUSE);
        assert_eq!(gaps(&go(&l, Some(10.0), t0, 3)), [ms(200), ms(200)]);
        // Never below a sixteenth, however often it is throttled.
        let mut now = t0 + Duration::from_secs(1);
        for _ in 0..20 {
            l.throttled("h", Some(10.0), now, None, now);
            now += ms(1);
        }
        let now = now + Duration::from_secs(60);
        assert_eq!(gaps(&go(&l, Some(10.0), now, 2)), [ms(1600)], "1/16");
        // Accepted sends bring the rate back, a quarter each.
        l.went_through("h", Some(10.0), now);
        let now = now + Duration::from_secs(10);
        assert_eq!(gaps(&go(&l, Some(10.0), now, 2)), [ms(1280)]);
        for _ in 0..20 {
            l.went_through("h", Some(10.0), now);
        }
        let now = now + Duration::from_secs(10);
        assert_eq!(gaps(&go(&l, Some(10.0), now, 2)), [ms(100)], "recovered");
        let w = l.try_admit("h", Some(10.0), now).unwrap_err();
        assert!(!w.slowed);
    }

    #[test]
    fn retry_after_sets_the_pause_and_pauses_grow_while_throttled() {
        let l = Limiter::default();
        let t0 = Instant::now();
        l.throttled("h", None, t0, Some(Duration::from_secs(7)), t0);
        let w = l.try_admit("h", None, t0).unwrap_err();
        assert_eq!(w.until - t0, Duration::from_secs(7));
        // Without Retry-After the pause doubles with each slow-down...
        let l = Limiter::default();
        let mut now = t0;
        let mut pauses = Vec::new();
        for _ in 0..8 {
            l.throttled("h", None, now, None, now);
            let w = l.try_admit("h", None, now).unwrap_err();
            pauses.push(w.until - now);
            now = w.until;
        }
        assert_eq!(pauses[..4], [ms(500), ms(1000), ms(2000), ms(4000)]);
        assert_eq!(pauses[7], MAX_PAUSE);
        // ...and starts short again once a send goes through.
        l.try_admit("h", None, now).unwrap();
        l.went_through("h", None, now);
        let now = now + Duration::from_secs(2);
        l.throttled("h", None, now, None, now);
        let w = l.try_admit("h", None, now).unwrap_err();
        assert_eq!(w.until - now, FIRST_PAUSE);
    }

    #[test]
    fn answers_to_sends_already_under_way_slow_down_once() {
        let l = Limiter::default();
        let t0 = Instant::now();
        // 64 sends went out before the first answer; all say "slow down".
        let answered = t0 + ms(50);
        for _ in 0..64 {
            l.throttled("h", Some(10.0), t0, None, answered);
        }
        let now = t0 + Duration::from_secs(10);
        assert_eq!(gaps(&go(&l, Some(10.0), now, 2)), [ms(200)], "halved once");
        // A send that started after the slow-down and is throttled again
        // slows it down again.
        l.throttled("h", Some(10.0), now, None, now);
        let now = now + Duration::from_secs(10);
        assert_eq!(gaps(&go(&l, Some(10.0), now, 2)), [ms(400)]);
    }

    #[test]
    fn an_unlimited_integration_is_paced_after_throttling_then_set_free() {
        let l = Limiter::default();
        let t0 = Instant::now();
        l.throttled("h", None, t0, None, t0);
        // After the pause, one a second.
        let at = go(&l, None, t0, 3);
        assert_eq!(at[0], FIRST_PAUSE);
        assert_eq!(gaps(&at), [ms(1000), ms(1000)]);
        // Accepted sends speed it up until it is no longer paced, and it
        // is forgotten.
        let mut now = t0 + Duration::from_secs(5);
        let mut sent = 0;
        while !l.slots.lock().unwrap().is_empty() {
            if let Err(w) = l.try_admit("h", None, now) {
                now = w.until;
                continue;
            }
            l.went_through("h", None, now);
            sent += 1;
            assert!(sent < 100, "never set free");
        }
        assert_eq!(sent, 31, "1.25^31 is past 1000");
        assert_eq!(go(&l, None, now, 3), [ms(0); 3]);
    }
}
