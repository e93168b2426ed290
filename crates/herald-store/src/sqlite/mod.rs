//! The SQLite store: WAL mode, `synchronous=FULL`, a pool of reader
//! connections (sqlx) for the read methods, and one writer thread owning
//! one `rusqlite` connection that commits every mutation in batches (group
//! commit, see `writer`). The cascade runs there as `crate::flow` over the
//! primitives of `tx`. Schema: `migrations/`, applied on open.

mod attempt_rows;
mod cache;
mod claim;
mod codec;
mod compact;
mod connect;
mod docs;
mod error;
mod log;
mod notification_rows;
mod people;
mod prune;
mod read;
mod row;
mod sim;
mod sim_read;
mod store;
mod tx;
mod write;
mod writer;

use crate::{Result, StoreError};
use connect::{connect_options, open_writer, own_options};
use error::Db;
use sqlx::sqlite::{SqliteAutoVacuum, SqlitePool, SqlitePoolOptions};
use sqlx::ConnectOptions;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tx::WriteTx;
use writer::{Call, Job};

/// The schema migrations, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many reader connections the pool keeps.
const READERS: u32 = 4;
/// How many jobs may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 8192;

/// Herald's store on one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    tx: mpsc::Sender<Box<dyn Job>>,
    writer: std::thread::JoinHandle<()>,
    counters: Arc<writer::Counters>,
    /// The database file, for the node lock.
    path: std::path::PathBuf,
    /// Held while this process is the node running the file's workers.
    node_lock: std::sync::Mutex<Option<std::fs::File>>,
}

/// How much the writer has done since open: `commands / batches` is the
/// average group-commit batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions committed (or attempted).
    pub batches: u64,
    /// Commands run in them.
    pub commands: u64,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `sqlite://PATH` or
    /// `sqlite:PATH` (`?max_page_count=N` caps the file's size), runs the migrations, and starts the writer thread.
    /// Must be called inside a Tokio runtime.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let (url, own) = own_options(url)?;
        let opts = connect_options(&url)?;
        let path = opts.get_filename().to_path_buf();
        // The first connection makes a new file: incremental auto-vacuum
        // can only be chosen before the first table (so the pruner can give
        // pages back); on an existing file the setting changes nothing.
        let mut conn = opts
            .clone()
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .connect()
            .await
            .db()?;
        MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        sqlx::Connection::close(conn).await.db()?;
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(1)
            .connect_with(opts)
            .await
            .db()?;
        let writer_conn = open_writer(&path, own)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(writer::Counters::default());
        let c = counters.clone();
        let writer = std::thread::Builder::new()
            .name("herald-sqlite-writer".into())
            .spawn(move || writer::run(writer_conn, rx, c))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(SqliteStore {
            pool,
            tx,
            writer,
            counters,
            path,
            node_lock: std::sync::Mutex::new(None),
        })
    }

    /// Makes this process the one node working on the file, with an
    /// advisory lock on `PATH.lock` held until the store is dropped.
    fn lock_node(&self) -> Result<()> {
        let mut held = self.node_lock.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                StoreError::Conflict(format!("cannot open {}: {e}", lock_path.to_string_lossy()))
            })?;
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(format!(
                "another `herald serve` is already running on {}; one process per SQLite file",
                self.path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Conflict(format!(
                "cannot lock {}: {e}",
                lock_path.to_string_lossy()
            ))),
        }
    }

    /// What the writer has done so far.
    pub fn writer_stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            commands: self.counters.commands.load(Ordering::Relaxed),
        }
    }

    /// Shuts down cleanly: waits for jobs already queued to commit, stops
    /// the writer, and closes every connection.
    pub async fn close(self) {
        let SqliteStore {
            pool, tx, writer, ..
        } = self;
        drop(tx);
        match tokio::task::spawn_blocking(move || writer.join()).await {
            Ok(Ok(())) => {}
            _ => tracing::warn!("the writer thread ended badly"),
        }
        pool.close().await;
    }

    /// Runs `f` on the writer thread inside its next batch; answers after
    /// the batch committed.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut WriteTx<'_>) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Box::new(Call { f, reply }))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
        self.pool.acquire().await.db()
    }
}
