//! Retry timing for transient provider errors (SPEC.md: 1 s, 2 s, 4 s…
//! doubling up to 60 s, ±20 % jitter, or the provider's `Retry-After`).

use crate::channel::Millis;

/// The first delay.
pub const BASE_MS: Millis = 1_000;
/// The longest delay between tries.
pub const CAP_MS: Millis = 60_000;

/// When to try again after the `tries`-th failed request (1-based).
/// `jitter` is a number in `[-1, 1]` supplied by the caller, so that this
/// stays a pure function; `retry_after_ms` is the provider's own hint.
pub fn next_retry_at(
    now: Millis,
    tries: u32,
    jitter: f64,
    retry_after_ms: Option<Millis>,
) -> Millis {
    if let Some(hint) = retry_after_ms {
        return now + hint.max(0);
    }
    let exp = tries.saturating_sub(1).min(16);
    let base = (BASE_MS << exp).min(CAP_MS) as f64;
    let jitter = jitter.clamp(-1.0, 1.0);
    now + (base * (1.0 + 0.2 * jitter)).round() as Millis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_up_to_a_minute() {
        let delays: Vec<Millis> = (1..=8).map(|t| next_retry_at(0, t, 0.0, None)).collect();
        assert_eq!(
            delays,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(next_retry_at(0, 1, 1.0, None), 1_200);
        assert_eq!(next_retry_at(0, 1, -1.0, None), 800);
        assert_eq!(next_retry_at(0, 1, 7.0, None), 1_200);
    }

    #[test]
    fn retry_after_wins() {
        assert_eq!(next_retry_at(10, 5, 0.5, Some(3_000)), 3_010);
    }
}
