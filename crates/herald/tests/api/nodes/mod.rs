//! Many `herald` processes on one PostgreSQL: the harness (a schema of
//! the run's own, `herald migrate`, nodes as child processes) and its tests:
//! `crash` (three workers, one SIGKILLed mid-flight) and `receipts`
//! (provider receipts taken at any API node).
//!
//! They run when `HERALD_TEST_DATABASE_URL` is set (each in a schema of its
//! own, dropped at the end); they say `SKIPPED` otherwise, and fail under
//! `CI=true`.

mod crash;
mod receipts;

use crate::helpers::{Api, ADMIN_TOKEN};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Seconds a claimed send is its worker's: short, so the killed worker's
/// sends come back soon.
pub const LEASE_S: u64 = 5;
const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The test database's URL, or `None` (after saying so) to skip.
pub fn database_url() -> Option<String> {
    match std::env::var("HERALD_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_TEST_DATABASE_URL is not set and CI=true: the PostgreSQL tests must run"
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: HERALD_TEST_DATABASE_URL is not set"
            );
            None
        }
    }
}

/// A fresh schema, dropped (after ending the sessions named after it) when
/// the test ends, passed or not.
pub struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// A fresh schema in the test database (not yet migrated).
    pub async fn create(url: &str) -> Schema {
        let name = format!("herald_nodes_{}", uuid::Uuid::now_v7().simple());
        // Made here, migrated by `herald migrate`.
        herald_store::postgres::create_schema(url, &name)
            .await
            .expect("the test schema");
        Schema {
            url: url.to_string(),
            name,
        }
    }

    /// The URL the processes use: in the schema, and named after it.
    pub fn node_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-csearch_path%3D{n}&application_name={n}",
            self.url,
            n = self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            if let Err(e) = rt.block_on(herald_store::postgres::drop_schema(
                &url,
                &name,
                Duration::from_secs(5),
            )) {
                eprintln!("test schema {name} was not dropped: {e}");
            }
        })
        .join();
    }
}

/// One `herald` process; SIGKILLed when dropped.
pub struct Node {
    child: tokio::process::Child,
    /// Its HTTP address (API, or a worker's /healthz and /metrics).
    pub api: Api,
    /// Its stderr.
    pub log: std::path::PathBuf,
}

impl Node {
    /// Runs `herald ARGS` and waits for its "listening on" line.
    pub async fn start(dir: &Path, name: &str, args: &[&str], url: &str) -> Node {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("a log file");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .arg("--no-migrate")
            .current_dir(dir)
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .env("HERALD_DATABASE_URL", url)
            .env("HERALD_DATABASE_POOL", "6")
            .env("HERALD_SECRET_KEY", SECRET_KEY)
            .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("HERALD_LEASE_S", LEASE_S.to_string())
            .env("HERALD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("herald starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.split_whitespace().next().map(str::to_string);
                }
            }
            None
        })
        .await;
        let addr = match found {
            Ok(Some(addr)) => addr,
            other => panic!(
                "{name} did not say where it listens ({other:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node {
            child,
            api: Api::new(format!("http://{addr}")),
            log,
        }
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL herald");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// `herald migrate` on the schema, once, before any node starts.
pub async fn migrate(node_url: &str) {
    let migrated = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("migrate")
        .env("HERALD_DATABASE_URL", node_url)
        .output()
        .await
        .expect("herald migrate runs");
    assert!(migrated.status.success(), "herald migrate: {migrated:?}");
}
