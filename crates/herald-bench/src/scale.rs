//! The scaling runs on PostgreSQL: for each number of worker processes, a
//! schema of its own, `herald migrate` once, the API node and the workers,
//! the same cascade phases as the SQLite bench (through the API node), and
//! the CPU each process and PostgreSQL spent per cascade.

use crate::args::Args;
use crate::cascade::{self, Phase};
use crate::client::Http;
use crate::cpu::{self, Snapshot};
use crate::error::BenchError;
use crate::pgstat::{Counters, PgCpu, PgMonitor};
use crate::scale_report::{PerCascade, ScaleReport, ScaleRun, ScaleSettings, Step};
use crate::server::{Node, Server};
use crate::setup::{self, Kind};
use std::path::Path;
use std::time::Duration;

/// The secret key every node of a run shares (PostgreSQL needs one given).
const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// How long a run's sessions may hold the schema's drop up.
const DROP_WAIT: Duration = Duration::from_secs(10);

/// Every run of `args.workers`, one after another.
pub async fn run(args: &Args, url: &str) -> Result<ScaleReport, BenchError> {
    let bin = crate::server::herald_binary(args.herald.as_deref())?;
    let temp = tempfile::Builder::new()
        .prefix("herald-bench-pg-")
        .tempdir()
        .map_err(|e| BenchError::io("creating a temp dir", e))?;
    let ticks = cpu::ticks_per_second();
    let mut monitor = PgMonitor::connect(url).await?;
    let mut runs = Vec::new();
    for &workers in &args.workers {
        let schema = format!(
            "herald_bench_{}_{}_{workers}w",
            std::process::id(),
            chrono::Utc::now().timestamp_millis()
        );
        herald_store::postgres::create_schema(url, &schema)
            .await
            .map_err(|e| BenchError::Postgres(format!("creating schema {schema}: {e}")))?;
        let ran = one(
            args,
            &bin,
            temp.path(),
            url,
            &schema,
            workers,
            ticks,
            &mut monitor,
        )
        .await;
        // The processes are gone by now (`one` owns them); the drop ends
        // any session left.
        let dropped = herald_store::postgres::drop_schema(url, &schema, DROP_WAIT).await;
        let run = ran?;
        dropped.map_err(|e| BenchError::Postgres(format!("dropping schema {schema}: {e}")))?;
        runs.push(run);
    }
    monitor.close().await;
    Ok(ScaleReport {
        settings: ScaleSettings {
            herald: bin.display().to_string(),
            database: herald_store::postgres::redact_url(url),
            duration_s: args.duration,
            connections: args.connections,
            pool: args.pool,
            sample: args.sample,
        },
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ticks_per_s: ticks,
        runs,
    })
}

/// The URL the nodes of a run use: in its schema, and named after it (so
/// its backends can be found, and ended when the schema is dropped).
pub fn node_url(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}&application_name={schema}")
}

/// The herald processes of a run.
struct Nodes {
    api: Server,
    workers: Vec<Server>,
}

impl Nodes {
    fn cpu(&self) -> (Snapshot, Snapshot) {
        (
            Snapshot::of([self.api.pid]),
            Snapshot::of(self.workers.iter().map(|w| w.pid)),
        )
    }
}

/// One run: `workers` worker processes (0: one `herald serve` doing both).
#[allow(clippy::too_many_arguments)]
async fn one(
    args: &Args,
    bin: &Path,
    dir: &Path,
    url: &str,
    schema: &str,
    workers: u32,
    ticks: u64,
    monitor: &mut PgMonitor,
) -> Result<ScaleRun, BenchError> {
    let db = node_url(url, schema);
    migrate(bin, &db).await?;
    let env = [
        ("HERALD_SECRET_KEY", SECRET_KEY.to_string()),
        ("HERALD_DATABASE_POOL", args.pool.to_string()),
    ];
    let api_args: &[&str] = if workers == 0 {
        &["serve", "--no-migrate"]
    } else {
        &["serve", "--no-workers", "--no-migrate"]
    };
    let api = Server::spawn(
        bin,
        dir,
        &Node {
            log: &format!("{schema}-api"),
            args: api_args,
            database_url: &db,
            env: &env,
        },
    )
    .await?;
    let mut nodes = Nodes {
        api,
        workers: Vec::new(),
    };
    for w in 0..workers {
        let node = Node {
            log: &format!("{schema}-worker-{w}"),
            args: &["worker", "--no-migrate"],
            database_url: &db,
            env: &env,
        };
        nodes.workers.push(Server::spawn(bin, dir, &node).await?);
    }
    let connections = args.connections as usize;
    let http = Http::new(&nodes.api.base, connections)?;
    let one_key = setup::tenant(&http, Kind::OneStep, connections).await?;
    let two_key = setup::tenant(&http, Kind::TwoStep, connections).await?;
    let measure = Measure {
        args,
        http: &http,
        nodes: &nodes,
        schema,
        ticks,
    };
    let one_step = measure.step(monitor, &one_key, "one-step").await?;
    let two_step = measure.step(monitor, &two_key, "two-step").await?;
    for w in nodes.workers {
        w.kill().await?;
    }
    nodes.api.kill().await?;
    Ok(ScaleRun {
        workers,
        processes: if workers == 0 {
            "1 herald serve (API and workers)".into()
        } else {
            format!("1 herald serve --no-workers + {workers} herald worker")
        },
        one_step,
        two_step,
    })
}

/// `herald migrate` on the run's schema.
async fn migrate(bin: &Path, db: &str) -> Result<(), BenchError> {
    let out = tokio::process::Command::new(bin)
        .arg("migrate")
        .env("HERALD_DATABASE_URL", db)
        .env("HERALD_LOG", "warn")
        .output()
        .await
        .map_err(|source| BenchError::Spawn {
            bin: bin.to_path_buf(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::Command {
            what: "herald migrate".into(),
            output: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr)),
        })
    }
}

/// What a measured phase needs.
struct Measure<'a> {
    args: &'a Args,
    http: &'a Http,
    nodes: &'a Nodes,
    schema: &'a str,
    ticks: u64,
}

/// Everything counted at the start and end of a phase.
struct Moment {
    api: Snapshot,
    workers: Snapshot,
    pg: PgCpu,
    counters: Counters,
    bench: u64,
}

impl Measure<'_> {
    async fn moment(&self, monitor: &mut PgMonitor) -> Result<Moment, BenchError> {
        let (api, workers) = self.nodes.cpu();
        Ok(Moment {
            api,
            workers,
            pg: monitor.cpu(self.schema).await?,
            counters: monitor.counters().await?,
            bench: cpu::process_ticks(std::process::id()).unwrap_or(0),
        })
    }

    /// One cascade phase of a kind, with its CPU over the load and the
    /// drain (the reading back after it is not counted).
    async fn step(
        &self,
        monitor: &mut PgMonitor,
        key: &str,
        label: &str,
    ) -> Result<Step, BenchError> {
        let length = Duration::from_secs(self.args.duration);
        let connections = self.args.connections as usize;
        let before = self.moment(monitor).await?;
        let loaded = cascade::load(self.http, key, label, connections, length).await?;
        let after = self.moment(monitor).await?;
        let phase = cascade::read_back(self.http, key, loaded, self.args.sample as usize).await?;
        let per = per_cascade(&before, &after, &phase, self.ticks);
        Ok(Step { phase, per })
    }
}

/// The differences of two moments divided by the phase's cascades.
fn per_cascade(before: &Moment, after: &Moment, phase: &Phase, ticks: u64) -> PerCascade {
    let n = phase.delivered.max(1) as f64;
    let ms = |t: u64| cpu::ticks_ms(t, ticks) / n;
    PerCascade::new(
        ms(after.api.since(&before.api)),
        ms(after.workers.since(&before.workers)),
        ms(after.pg.backends.since(&before.pg.backends)),
        ms(after.pg.background.since(&before.pg.background)),
        ms(after.bench.saturating_sub(before.bench)),
        (after.counters.commits - before.counters.commits) as f64 / n,
        (after.counters.wal_bytes - before.counters.wal_bytes) as f64 / n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_url_names_the_schema_twice() {
        assert_eq!(
            node_url("postgres://u@h/d", "s1"),
            "postgres://u@h/d?options=-csearch_path%3Ds1&application_name=s1"
        );
        assert_eq!(
            node_url("postgres://u@h/d?sslmode=disable", "s1"),
            "postgres://u@h/d?sslmode=disable&options=-csearch_path%3Ds1&application_name=s1"
        );
    }
}
