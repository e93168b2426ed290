//! The figures of a run, as a table for people and as JSON for machines,
//! each beside its target and its share of this machine's limits.

use crate::cascade::Phase;
use crate::pending::Pending;
use crate::scheduled::Scheduled;
use crate::stats::Spread;
use serde::Serialize;

/// How the run was made.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The server binary.
    pub herald: String,
    /// Seconds of load per phase.
    pub duration_s: u64,
    /// Connections of the load process.
    pub connections: u64,
    /// Notifications asked to be left pending.
    pub pending: u64,
    /// Notifications asked to be scheduled for one wave.
    pub scheduled: u64,
    /// Notifications read back per kind.
    pub sample: u64,
}

/// This machine's limits, measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// fsync'd single-row commits per second.
    pub single_commits_per_s: f64,
    /// Rows per second committed 1,000 to a transaction.
    pub batched_rows_per_s: f64,
    /// Herald's 404 answers per second over the bench's HTTP client.
    pub not_found_per_s: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How it was run.
    pub settings: Settings,
    /// The machine's limits.
    pub limits: Limits,
    /// E-mail only, delivered.
    pub one_step: Phase,
    /// E-mail rejected, SMS fallback delivered by receipt.
    pub two_step: Phase,
    /// Database and WAL bytes after both cascade phases.
    pub db_bytes: u64,
    /// Notifications in it then.
    pub notifications: u64,
    /// `db_bytes / notifications`.
    pub bytes_per_notification: f64,
    /// Growth of database and WAL during the two-step phase per two-step
    /// notification.
    pub bytes_per_two_step: f64,
    /// Growth of the database file alone (no WAL) during the two-step
    /// phase per two-step notification.
    pub db_file_bytes_per_two_step: f64,
    /// The server's VmHWM after the cascade phases, KiB.
    pub peak_rss_kib: Option<u64>,
    /// The pending phase, unless skipped.
    pub pending: Option<Pending>,
    /// The scheduled wave, unless skipped.
    pub scheduled: Option<Scheduled>,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What is measured.
    pub figure: String,
    /// Its value with its unit.
    pub value: String,
    /// The target it is compared with, or empty.
    pub target: String,
    /// Whether the target is met; `None` without a target or a value.
    pub met: Option<bool>,
    /// Its share of the machine's limits, or empty.
    pub share: String,
}

/// A number with thousands separators and no decimals.
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.0} ms"))
}

impl Limits {
    /// A throughput as shares of the limits.
    fn share_of_rate(&self, per_s: f64) -> String {
        let pct = |limit: f64| {
            if limit > 0.0 {
                format!("{:.1} %", per_s / limit * 100.0)
            } else {
                "n/a".into()
            }
        };
        format!(
            "{} of 404s/s, {} of commits/s, {} of batched rows/s",
            pct(self.not_found_per_s),
            pct(self.single_commits_per_s),
            pct(self.batched_rows_per_s)
        )
    }

    /// A time as a multiple of one fsync'd commit.
    fn share_of_time(&self, ms: Option<f64>) -> String {
        match ms {
            Some(ms) if self.single_commits_per_s > 0.0 => {
                format!(
                    "{:.1} fsync'd commits",
                    ms * self.single_commits_per_s / 1000.0
                )
            }
            _ => String::new(),
        }
    }
}

fn row(figure: &str, value: String, target: &str, met: Option<bool>, share: String) -> Row {
    Row {
        figure: figure.into(),
        value,
        target: target.into(),
        met,
        share,
    }
}

fn spread_rows(out: &mut Vec<Row>, l: &Limits, what: &str, s: &Spread, p99_target: Option<f64>) {
    out.push(row(
        &format!("{what} p50 (n={})", s.n),
        ms(s.p50),
        "",
        None,
        l.share_of_time(s.p50),
    ));
    let (target, met) = match p99_target {
        Some(t) => (format!("<= {t:.0} ms"), s.p99.map(|v| v <= t)),
        None => (String::new(), None),
    };
    out.push(row(
        &format!("{what} p99 (n={})", s.n),
        ms(s.p99),
        &target,
        met,
        l.share_of_time(s.p99),
    ));
}

impl Report {
    /// The table's lines, in the order the issue lists the figures.
    pub fn rows(&self) -> Vec<Row> {
        let l = &self.limits;
        let mut out = vec![
            row(
                "machine: fsync'd single commits/s",
                thousands(l.single_commits_per_s),
                "",
                None,
                String::new(),
            ),
            row(
                "machine: batched rows/s",
                thousands(l.batched_rows_per_s),
                "",
                None,
                String::new(),
            ),
            row(
                "machine: herald 404 requests/s",
                thousands(l.not_found_per_s),
                "",
                None,
                String::new(),
            ),
        ];
        let rate_row = |figure: &str, v: f64, target: Option<f64>| {
            let (t, met) = match target {
                Some(t) => (format!(">= {}/s", thousands(t)), Some(v >= t)),
                None => (String::new(), None),
            };
            row(
                figure,
                format!("{}/s", thousands(v)),
                &t,
                met,
                l.share_of_rate(v),
            )
        };
        out.push(rate_row(
            "triggers/s (one-step)",
            self.one_step.triggers_per_s,
            Some(20_000.0),
        ));
        out.push(rate_row(
            "one-step cascades/s",
            self.one_step.cascades_per_s,
            None,
        ));
        out.push(rate_row(
            "triggers/s (two-step)",
            self.two_step.triggers_per_s,
            None,
        ));
        out.push(rate_row(
            "two-step cascades/s",
            self.two_step.cascades_per_s,
            Some(10_000.0),
        ));
        spread_rows(
            &mut out,
            l,
            "fallback reaction (to send)",
            &self.two_step.fallback_to_sent_ms,
            Some(20.0),
        );
        spread_rows(
            &mut out,
            l,
            "fallback reaction (to attempt)",
            &self.two_step.fallback_to_created_ms,
            None,
        );
        spread_rows(
            &mut out,
            l,
            "trigger-to-final one-step",
            &self.one_step.trigger_to_final_ms,
            None,
        );
        spread_rows(
            &mut out,
            l,
            "trigger-to-final two-step",
            &self.two_step.trigger_to_final_ms,
            None,
        );
        out.push(row(
            "peak RSS (cascade phases)",
            mib(self.peak_rss_kib),
            "",
            None,
            String::new(),
        ));
        if let Some(p) = &self.pending {
            let full = p.pending >= 1_000_000;
            let scaled = |target: &str| {
                if full {
                    target.to_string()
                } else {
                    format!("{target} at 1,000,000")
                }
            };
            out.push(row(
                &format!("RSS with {} pending", thousands(p.pending as f64)),
                mib(p.rss_kib),
                &scaled("<= 100 MB"),
                p.rss_kib.filter(|_| full).map(|k| k * 1024 <= 100_000_000),
                String::new(),
            ));
            out.push(row(
                "restart until /healthz 200",
                ms(Some(p.restart_ms)),
                &scaled("<= 1 s"),
                full.then_some(p.restart_ms <= 1000.0),
                l.share_of_time(Some(p.restart_ms)),
            ));
            out.push(row(
                "RSS 3 s after restart",
                mib(p.rss_after_restart_kib),
                "",
                None,
                String::new(),
            ));
            out.push(row(
                "bytes per pending notification",
                format!("{} B", thousands(p.bytes_per_pending)),
                "",
                None,
                String::new(),
            ));
        }
        if let Some(w) = &self.scheduled {
            let n = thousands(w.scheduled as f64);
            for (figure, value) in [
                (format!("RSS with {n} scheduled"), mib(w.rss_kib)),
                (
                    "restart with them until /healthz 200".to_string(),
                    ms(Some(w.restart_ms)),
                ),
                (
                    "RSS after that restart".to_string(),
                    mib(w.rss_after_restart_kib),
                ),
                (
                    "bytes per scheduled notification".to_string(),
                    format!("{} B", thousands(w.bytes_per_scheduled)),
                ),
                (
                    "wave: late against send_at, p50".to_string(),
                    ms(w.lateness_ms.p50),
                ),
                (
                    "wave: late against send_at, p99".to_string(),
                    ms(w.lateness_ms.p99),
                ),
                (
                    "wave: send_at until all sent".to_string(),
                    ms(Some(w.drain_ms)),
                ),
                ("wave: peak RSS".to_string(), mib(w.wave_peak_kib)),
            ] {
                out.push(row(&figure, value, "", None, String::new()));
            }
        }
        out.push(row(
            "bytes per notification (all)",
            format!("{} B", thousands(self.bytes_per_notification)),
            "",
            None,
            String::new(),
        ));
        out.push(row(
            "bytes per two-step notification",
            format!("{} B", thousands(self.bytes_per_two_step)),
            "<= 1,024 B",
            Some(self.bytes_per_two_step <= 1024.0),
            String::new(),
        ));
        out.push(row(
            "  the same, database file without -wal",
            format!("{} B", thousands(self.db_file_bytes_per_two_step)),
            "",
            None,
            String::new(),
        ));
        out
    }

    /// The table as text.
    pub fn table(&self) -> String {
        let header = Row {
            figure: "figure".into(),
            value: "value".into(),
            target: "target".into(),
            met: None,
            share: "share of machine limits".into(),
        };
        let rows = self.rows();
        let width = |f: fn(&Row) -> &str| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| f(r).chars().count())
                .max()
                .unwrap_or(0)
        };
        let (wf, wv, wt) = (
            width(|r| r.figure.as_str()),
            width(|r| r.value.as_str()),
            width(|r| r.target.as_str()),
        );
        let mut out = String::new();
        let mut line = |r: &Row, met: &str| {
            out.push_str(&format!(
                "{:<wf$}  {:>wv$}  {:<wt$}  {:<4}  {}\n",
                r.figure, r.value, r.target, met, r.share
            ));
        };
        line(&header, "met");
        for r in &rows {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "",
            };
            line(r, met);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-20000.0), "-20,000");
    }

    #[test]
    fn a_rate_is_shown_against_each_limit() {
        let l = Limits {
            single_commits_per_s: 500.0,
            batched_rows_per_s: 100_000.0,
            not_found_per_s: 10_000.0,
        };
        assert_eq!(
            l.share_of_rate(1_000.0),
            "10.0 % of 404s/s, 200.0 % of commits/s, 1.0 % of batched rows/s"
        );
        assert_eq!(l.share_of_time(Some(4.0)), "2.0 fsync'd commits");
    }
}
