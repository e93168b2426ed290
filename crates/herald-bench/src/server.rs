//! The server under test: a `herald serve` (or `worker`) child process,
//! its address, its memory as the kernel counts it, and its files' size.

use crate::error::BenchError;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The operator token the server is started with.
pub const ADMIN_TOKEN: &str = "herald-bench-admin";

/// How long the server may take to say where it listens.
const START_BOUND: Duration = Duration::from_secs(120);

/// The database file's name inside the temp dir.
const DB_FILE: &str = "herald.db";

/// The `herald` binary: the one given, else the one next to this executable.
pub fn herald_binary(given: Option<&Path>) -> Result<PathBuf, BenchError> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let me = std::env::current_exe()
                .map_err(|e| BenchError::io("finding this executable", e))?;
            me.with_file_name("herald")
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(BenchError::NoHerald(path))
    }
}

/// How to start one `herald` process.
pub struct Node<'a> {
    /// Its log file's name (without `.log`) in the run's dir.
    pub log: &'a str,
    /// The subcommand and its flags (`serve`, `worker --no-migrate`, …).
    pub args: &'a [&'a str],
    /// `HERALD_DATABASE_URL`.
    pub database_url: &'a str,
    /// More environment, e.g. `HERALD_SECRET_KEY`.
    pub env: &'a [(&'a str, String)],
}

/// A running `herald` process (`serve` or `worker`); SIGKILLed when dropped, so a failed run leaves
/// no server behind.
pub struct Server {
    child: Child,
    /// `http://ADDR`.
    pub base: String,
    /// The process id, for /proc.
    pub pid: u32,
}

impl Server {
    /// Starts `herald serve` over `dir`'s database on a free port and waits
    /// for its "listening on" line. `run` numbers its log file.
    pub async fn start(bin: &Path, dir: &Path, run: u32) -> Result<Server, BenchError> {
        let url = format!("sqlite://{}", db_path(dir).display());
        let node = Node {
            log: &format!("serve-{run}"),
            args: &["serve"],
            database_url: &url,
            env: &[],
        };
        Server::spawn(bin, dir, &node).await
    }

    /// Starts `herald ARGS` as `node` says, on a free port, and waits for
    /// its "listening on" line (a `herald worker` prints it too, for its
    /// /healthz and /metrics).
    pub async fn spawn(bin: &Path, dir: &Path, node: &Node<'_>) -> Result<Server, BenchError> {
        let log = dir.join(format!("{}.log", node.log));
        let stderr = std::fs::File::create(&log)
            .map_err(|e| BenchError::io(format!("creating {}", log.display()), e))?;
        let mut child = Command::new(bin)
            .args(node.args)
            .current_dir(dir)
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .env("HERALD_DATABASE_URL", node.database_url)
            .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("HERALD_LOG", "warn")
            .envs(node.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                bin: bin.to_path_buf(),
                source,
            })?;
        let pid = child.id().unwrap_or(0);
        let Some(stdout) = child.stdout.take() else {
            return Err(no_address(&log));
        };
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(START_BOUND, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = listening_address(&line) {
                    return Some(addr);
                }
            }
            None
        })
        .await;
        let Ok(Some(addr)) = found else {
            return Err(no_address(&log));
        };
        // Keep reading stdout so the child never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            base: format!("http://{addr}"),
            pid,
        })
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) -> Result<(), BenchError> {
        self.child
            .kill()
            .await
            .map_err(|e| BenchError::io("SIGKILL herald", e))
    }

    /// The server's memory figures now.
    pub fn memory(&self) -> Memory {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        Memory {
            rss_kib: status_kib(&status, "VmRSS"),
            peak_kib: status_kib(&status, "VmHWM"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A process's resident memory, from /proc/PID/status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: Option<u64>,
    /// VmHWM: the most it has been resident.
    pub peak_kib: Option<u64>,
}

fn no_address(log: &Path) -> BenchError {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    BenchError::NoAddress {
        log: log.to_path_buf(),
        tail,
    }
}

/// The address in serve's "listening on http://ADDR" line.
fn listening_address(line: &str) -> Option<String> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.split_whitespace().next().map(str::to_string)
}

/// A `Name:   1234 kB` field of /proc/PID/status, in KiB.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The database file in a bench dir.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Bytes of the database file alone.
pub fn db_file_bytes(dir: &Path) -> u64 {
    std::fs::metadata(db_path(dir)).map_or(0, |m| m.len())
}

/// Bytes of the database file and its write-ahead log together.
pub fn db_bytes(dir: &Path) -> u64 {
    let db = db_path(dir);
    let wal = dir.join(format!("{DB_FILE}-wal"));
    [db, wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\therald\nVmHWM:\t   70312 kB\nVmRSS:\t   65000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(70312));
        assert_eq!(status_kib(status, "VmRSS"), Some(65000));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn the_listening_line_gives_the_address() {
        assert_eq!(
            listening_address("herald: listening on http://127.0.0.1:40123 (sqlite)"),
            Some("127.0.0.1:40123".to_string())
        );
        assert_eq!(listening_address("admin token: x"), None);
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let err = herald_binary(Some(Path::new("/nonexistent/herald"))).unwrap_err();
        assert!(err.to_string().contains("cargo build --release"), "{err}");
    }
}
