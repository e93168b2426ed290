//! The figures of the scaling runs: one table per kind of cascade, a line
//! per number of worker processes, the one-node target, and how to carry
//! the CPU per cascade past this machine.

use crate::cascade::Phase;
use crate::report::thousands;
use serde::Serialize;

/// The one-node target of two-step cascades per second.
pub const ONE_NODE_TARGET: f64 = 5_000.0;

/// How the scaling runs were made.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleSettings {
    /// The herald binary.
    pub herald: String,
    /// The PostgreSQL URL, without a password.
    pub database: String,
    /// Seconds of load per phase.
    pub duration_s: u64,
    /// Connections of the load process.
    pub connections: u64,
    /// HERALD_DATABASE_POOL of every herald process.
    pub pool: u32,
    /// Notifications read back per kind.
    pub sample: u64,
}

/// CPU (and PostgreSQL's writes) per delivered cascade, over the load and
/// the drain of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerCascade {
    /// The API node (with N = 0 also its workers).
    pub api_ms: f64,
    /// All `herald worker` processes together.
    pub workers_ms: f64,
    /// `api_ms + workers_ms`.
    pub herald_ms: f64,
    /// The PostgreSQL backends of the run's sessions.
    pub pg_backends_ms: f64,
    /// PostgreSQL's background processes (WAL writer, checkpointer, …).
    pub pg_background_ms: f64,
    /// `pg_backends_ms + pg_background_ms`.
    pub pg_ms: f64,
    /// `herald_ms + pg_ms`.
    pub total_ms: f64,
    /// `1000 / total_ms`: cascades per second one core does, Herald and
    /// PostgreSQL together.
    pub cascades_per_core_s: f64,
    /// The load process itself (not in the total).
    pub bench_ms: f64,
    /// Transactions PostgreSQL committed (every session's in the database).
    pub pg_commits: f64,
    /// Bytes of WAL PostgreSQL wrote (the cluster's).
    pub wal_bytes: f64,
}

impl PerCascade {
    /// The figures from the measured ones.
    pub fn new(
        api_ms: f64,
        workers_ms: f64,
        pg_backends_ms: f64,
        pg_background_ms: f64,
        bench_ms: f64,
        pg_commits: f64,
        wal_bytes: f64,
    ) -> PerCascade {
        let herald_ms = api_ms + workers_ms;
        let pg_ms = pg_backends_ms + pg_background_ms;
        let total_ms = herald_ms + pg_ms;
        PerCascade {
            api_ms,
            workers_ms,
            herald_ms,
            pg_backends_ms,
            pg_background_ms,
            pg_ms,
            total_ms,
            cascades_per_core_s: if total_ms > 0.0 {
                1000.0 / total_ms
            } else {
                0.0
            },
            bench_ms,
            pg_commits,
            wal_bytes,
        }
    }
}

/// A phase and its cost.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The rates and timings, as in the SQLite bench.
    pub phase: Phase,
    /// Its cost per cascade.
    pub per: PerCascade,
}

/// One number of worker processes.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRun {
    /// `herald worker` processes (0: one `herald serve` doing both).
    pub workers: u32,
    /// The processes, in words.
    pub processes: String,
    /// E-mail only, delivered.
    pub one_step: Step,
    /// E-mail rejected, SMS fallback delivered by receipt.
    pub two_step: Step,
}

/// Everything the scaling runs measured.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// How they were run.
    pub settings: ScaleSettings,
    /// This machine's cores (shared by herald, PostgreSQL and the load).
    pub cores: usize,
    /// The kernel's clock ticks per second (the CPU figures' resolution).
    pub ticks_per_s: u64,
    /// One per number of workers, in the order asked.
    pub runs: Vec<ScaleRun>,
}

const HEADER: [&str; 11] = [
    "processes",
    "triggers/s",
    "cascades/s",
    "API ms",
    "workers ms",
    "PG backends ms",
    "PG bg ms",
    "total ms",
    "per core/s",
    "PG commits",
    "WAL bytes",
];

fn cells(run: &ScaleRun, step: &Step) -> [String; 11] {
    let p = &step.per;
    [
        if run.workers == 0 {
            "serve (one node)".into()
        } else {
            format!("API + {} worker", run.workers)
        },
        thousands(step.phase.triggers_per_s),
        thousands(step.phase.cascades_per_s),
        format!("{:.3}", p.api_ms),
        format!("{:.3}", p.workers_ms),
        format!("{:.3}", p.pg_backends_ms),
        format!("{:.3}", p.pg_background_ms),
        format!("{:.3}", p.total_ms),
        thousands(p.cascades_per_core_s),
        format!("{:.1}", p.pg_commits),
        thousands(p.wal_bytes),
    ]
}

fn table(out: &mut String, title: &str, lines: &[[String; 11]]) {
    let header = HEADER.map(String::from);
    let width = |i: usize| {
        lines
            .iter()
            .chain(std::iter::once(&header))
            .map(|l| l[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..HEADER.len()).map(width).collect();
    out.push_str(title);
    out.push('\n');
    for line in std::iter::once(&header).chain(lines) {
        let mut text = format!("{:<w$}", line[0], w = widths[0]);
        for (cell, w) in line.iter().zip(&widths).skip(1) {
            text.push_str(&format!("  {cell:>w$}"));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
}

impl ScaleReport {
    /// The tables, the target and the scale-out, as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let one: Vec<_> = self.runs.iter().map(|r| cells(r, &r.one_step)).collect();
        let two: Vec<_> = self.runs.iter().map(|r| cells(r, &r.two_step)).collect();
        table(
            &mut out,
            "one-step cascades (e-mail, delivered); CPU ms and PG writes per cascade:",
            &one,
        );
        out.push('\n');
        table(
            &mut out,
            "two-step cascades (e-mail rejected, SMS fallback delivered by receipt); per cascade:",
            &two,
        );
        out.push('\n');
        out.push_str(&self.target_line());
        out.push('\n');
        out.push_str(&self.scale_out());
        out
    }

    /// Whether the one-node run met the target, in words.
    pub fn target_line(&self) -> String {
        match self.runs.iter().find(|r| r.workers == 0) {
            Some(r) => {
                let v = r.two_step.phase.cascades_per_s;
                format!(
                    "target: >= {}/s two-step cascades on one node: {}/s, {}",
                    thousands(ONE_NODE_TARGET),
                    thousands(v),
                    if v >= ONE_NODE_TARGET {
                        "met"
                    } else {
                        "NOT met"
                    }
                )
            }
            None => format!(
                "target: >= {}/s two-step cascades on one node: not measured (no --workers 0)",
                thousands(ONE_NODE_TARGET)
            ),
        }
    }

    /// How the CPU per cascade carries past this machine, with the figures
    /// of the run that delivered the most two-step cascades.
    pub fn scale_out(&self) -> String {
        let Some(best) = self.runs.iter().max_by(|a, b| {
            a.two_step
                .phase
                .cascades_per_s
                .total_cmp(&b.two_step.phase.cascades_per_s)
        }) else {
            return String::new();
        };
        let p = &best.two_step.per;
        let per = |ms: f64| {
            if ms > 0.0 {
                thousands(1000.0 / ms)
            } else {
                "n/a".into()
            }
        };
        format!(
            "Scale-out (two-step, from the {processes} run): all processes here share {cores} \
             cores, the load process too ({bench:.3} ms per cascade), so this machine tops out \
             near {cores} x 1000 / ({total:.3} + {bench:.3}) = {here} cascades/s. Past it, \
             Herald and PostgreSQL scale apart: each Herald core (API and workers, any number \
             of nodes) adds 1000 / {herald:.3} = {herald_core} cascades/s; each core of the \
             PostgreSQL server carries 1000 / {pg:.3} = {pg_core} cascades/s; so a platform \
             does min(Herald cores x {herald_core}, PostgreSQL cores x {pg_core}) cascades/s, \
             as long as PostgreSQL's disk takes {commits:.1} commits and {wal} bytes of WAL \
             per cascade (group commit merges the fsyncs of concurrent commits). \
             cascades/s per core = 1000 / (Herald ms + PostgreSQL ms) = {both}.\n",
            processes = best.processes,
            cores = self.cores,
            bench = p.bench_ms,
            total = p.total_ms,
            here = thousands(self.cores as f64 * 1000.0 / (p.total_ms + p.bench_ms).max(1e-9)),
            herald = p.herald_ms,
            herald_core = per(p.herald_ms),
            pg = p.pg_ms,
            pg_core = per(p.pg_ms),
            commits = p.pg_commits,
            wal = thousands(p.wal_bytes),
            both = per(p.total_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_cascade_totals_add_up() {
        let p = PerCascade::new(0.1, 0.3, 0.4, 0.2, 0.5, 6.0, 3000.0);
        assert!((p.herald_ms - 0.4).abs() < 1e-12);
        assert!((p.pg_ms - 0.6).abs() < 1e-12);
        assert!((p.total_ms - 1.0).abs() < 1e-12);
        assert!((p.cascades_per_core_s - 1000.0).abs() < 1e-9);
        assert_eq!(
            PerCascade::new(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0).cascades_per_core_s,
            0.0
        );
    }
}
