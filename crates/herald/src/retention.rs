//! Retention: the background task that removes what is older than the
//! operator keeps (`--retention-days`, `--idempotency-hours`). Finished
//! notifications with their attempts and receipts, the simulator's old
//! outbox, and expired idempotency keys go in small batches (one short
//! writer job or transaction each, a pause between them), so the writer
//! is never held up. It runs every `every` on the App's clock's present
//! and goes on at once while a batch comes back full.
//!
//! Which nodes prune: every node that runs the workers (`herald serve`,
//! `herald worker`), not `serve --no-workers`. On PostgreSQL several
//! may prune at once; the store takes rows with `SKIP LOCKED`, so they
//! share the work instead of waiting on each other.

use crate::service::App;
use herald_core::Millis;
use herald_store::{PruneLimits, Pruned, StoreError};
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::watch;

/// An hour in milliseconds.
pub const HOUR_MS: Millis = 3_600_000;
/// A day in milliseconds.
pub const DAY_MS: Millis = 24 * HOUR_MS;
/// Days a finished notification is kept, unless told otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 30;
/// Hours an idempotency key dedupes, unless told otherwise.
pub const DEFAULT_IDEMPOTENCY_HOURS: i64 = 48;
/// API.md promises keys are kept at least this long.
pub const MIN_IDEMPOTENCY_HOURS: i64 = 24;
/// Rows per batch: a few milliseconds of the writer.
pub const DEFAULT_BATCH: usize = 500;

/// How retention runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Finished notifications (and the simulator's messages) older than
    /// this many days go.
    pub retention_days: i64,
    /// Idempotency keys older than this many hours stop deduping.
    pub idempotency_hours: i64,
    /// How often the pruner looks.
    pub every: Duration,
    /// Rows per batch.
    pub batch: usize,
    /// The pause between two full batches, so other writes go first.
    pub pause: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            retention_days: DEFAULT_RETENTION_DAYS,
            idempotency_hours: DEFAULT_IDEMPOTENCY_HOURS,
            every: Duration::from_secs(300),
            batch: DEFAULT_BATCH,
            pause: Duration::from_millis(10),
        }
    }
}

/// Why a retention setting is refused, naming the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// Fewer than one day.
    #[error("--retention-days must be at least 1 (got {0})")]
    Days(i64),
    /// Fewer hours than the API promises.
    #[error(
        "--idempotency-hours must be at least {MIN_IDEMPOTENCY_HOURS}: the API promises \
         idempotency keys are kept at least 24 h (got {0})"
    )]
    Hours(i64),
}

impl RetentionConfig {
    /// Checks the settings against their bounds.
    pub fn check(&self) -> Result<(), RetentionError> {
        if self.retention_days < 1 {
            return Err(RetentionError::Days(self.retention_days));
        }
        if self.idempotency_hours < MIN_IDEMPOTENCY_HOURS {
            return Err(RetentionError::Hours(self.idempotency_hours));
        }
        Ok(())
    }

    /// The store's view of these settings.
    pub fn limits(&self) -> PruneLimits {
        PruneLimits {
            retention_ms: self.retention_days.saturating_mul(DAY_MS),
            idempotency_ms: self.idempotency_window_ms(),
            batch: self.batch.max(1),
        }
    }

    /// How long a key dedupes, in milliseconds.
    pub fn idempotency_window_ms(&self) -> Millis {
        self.idempotency_hours.saturating_mul(HOUR_MS)
    }
}

/// Parses `--idempotency-hours`: a whole number of hours, at least 24.
pub fn parse_idempotency_hours(s: &str) -> Result<i64, String> {
    let h: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of hours"))?;
    if h < MIN_IDEMPOTENCY_HOURS {
        return Err(format!(
            "at least {MIN_IDEMPOTENCY_HOURS}: the API promises idempotency keys are kept at \
             least 24 h"
        ));
    }
    Ok(h)
}

/// Parses `--retention-days`: a whole number of days, at least 1.
pub fn parse_retention_days(s: &str) -> Result<i64, String> {
    let d: i64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of days"))?;
    if d < 1 {
        return Err("at least 1".into());
    }
    Ok(d)
}

/// One batch of everything retention removes, at the App's present:
/// the store's and the simulator's. Counts go to `/metrics`.
pub async fn prune_once(app: &App, cfg: &RetentionConfig) -> Result<Pruned, StoreError> {
    let now = app.now();
    let limits = cfg.limits();
    let mut pruned = app.store.prune(now, limits).await?;
    if let Some(sim) = &app.sim {
        pruned = pruned.plus(
            sim.sim_prune(limits.finished_before(now), limits.batch)
                .await?,
        );
    }
    app.metrics.pruned(&pruned);
    Ok(pruned)
}

/// Prunes batch after batch (pausing `cfg.pause` between them) until one
/// comes back not full. Returns the totals.
pub async fn prune_until_done(app: &App, cfg: &RetentionConfig) -> Result<Pruned, StoreError> {
    let mut total = Pruned::default();
    loop {
        let p = prune_once(app, cfg).await?;
        total = total.plus(Pruned { more: false, ..p });
        if !p.more {
            return Ok(total);
        }
        tokio::time::sleep(cfg.pause).await;
    }
}

/// The pruner: a first pass soon after start, then one every `cfg.every`,
/// until `shutdown` (which also cuts a pass short: each batch is atomic).
/// Holds the App weakly, so it never keeps a stopped service alive.
/// Errors (a full disk, a busy database) wait for the next pass.
pub async fn run(app: Weak<App>, cfg: RetentionConfig, mut shutdown: watch::Receiver<bool>) {
    // Let the node finish starting (recovery, the first dispatch) first.
    let mut wait = Duration::from_secs(5).min(cfg.every);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        wait = cfg.every;
        let Some(app) = app.upgrade() else { return };
        let done = tokio::select! {
            done = prune_until_done(&app, &cfg) => done,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        match done {
            Ok(total) if total != Pruned::default() => tracing::info!(
                notifications = total.notifications,
                attempts = total.attempts,
                receipts = total.receipts,
                idempotency_keys = total.idempotency_keys,
                sim_messages = total.sim_messages,
                "retention removed old rows"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("retention: {e}; trying again in {:?}", cfg.every),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_thirty_days_and_forty_eight_hours() {
        let c = RetentionConfig::default();
        assert_eq!(c.check(), Ok(()));
        let l = c.limits();
        assert_eq!(l.retention_ms, 30 * DAY_MS);
        assert_eq!(l.idempotency_ms, 48 * HOUR_MS);
        assert_eq!(l.batch, DEFAULT_BATCH);
    }

    #[test]
    fn bounds_are_refused_naming_the_flag() {
        let short = RetentionConfig {
            idempotency_hours: 23,
            ..RetentionConfig::default()
        };
        assert!(short
            .check()
            .unwrap_err()
            .to_string()
            .contains("--idempotency-hours must be at least 24"));
        let none = RetentionConfig {
            retention_days: 0,
            ..RetentionConfig::default()
        };
        assert!(none
            .check()
            .unwrap_err()
            .to_string()
            .contains("--retention-days"));
    }

    #[test]
    fn flags_parse_whole_numbers_within_bounds() {
        assert_eq!(parse_idempotency_hours("24"), Ok(24));
        assert_eq!(parse_idempotency_hours("72"), Ok(72));
        assert!(parse_idempotency_hours("23")
            .unwrap_err()
            .contains("at least 24"));
        assert!(parse_idempotency_hours("a day").is_err());
        assert_eq!(parse_retention_days("1"), Ok(1));
        assert!(parse_retention_days("0").is_err());
        assert!(parse_retention_days("-3").is_err());
    }
}
