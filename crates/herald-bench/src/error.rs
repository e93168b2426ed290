//! What can stop a bench run, each with the sentence that tells what to do.

use std::path::PathBuf;

/// A reason the bench could not finish.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The server binary is not where it was looked for.
    #[error(
        "no herald binary at {0}: build it first with \
         `cargo build --release -p herald -p herald-bench`, or pass --herald PATH"
    )]
    NoHerald(PathBuf),
    /// The server could not be started.
    #[error("starting {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The server never printed its "listening on" line.
    #[error("herald serve did not say where it listens; its log ({log}):\n{tail}")]
    NoAddress {
        /// The server's log file.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A request got no answer.
    #[error("{what}: no answer: {source}")]
    Http {
        /// The request.
        what: String,
        /// Why.
        source: reqwest::Error,
    },
    /// A setup or measuring request got an answer it should not have.
    #[error("{what}: unexpected {status}: {body}")]
    Status {
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// The machine-limit measurement's SQLite file failed.
    #[error("SQLite (machine limits): {0}")]
    Sqlite(#[from] sqlx::Error),
    /// The PostgreSQL of a scaling run refused something.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// A `herald migrate` (or another one-shot command) failed.
    #[error("{what} failed: {output}")]
    Command {
        /// The command.
        what: String,
        /// Its status and error output.
        output: String,
    },
    /// Something did not happen within its bound.
    #[error("{0}")]
    Timeout(String),
    /// A notification's view lacked what the timings are read from.
    #[error("notification {id}: {why}")]
    View {
        /// The notification.
        id: String,
        /// What was missing.
        why: String,
    },
}

impl BenchError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }
}
