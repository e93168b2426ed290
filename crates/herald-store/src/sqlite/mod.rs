//! The SQLite store: WAL mode, `synchronous=FULL`, a pool of reader
//! connections (sqlx) for the read methods, and one writer thread owning
//! one `rusqlite` connection that commits every mutation in batches (group
//! commit, see `writer`). The cascade runs there as `crate::flow` over the
//! primitives of `tx`. Schema: `migrations/`, applied on open.

mod cache;
mod claim;
mod codec;
mod compact;
mod docs;
mod error;
mod people;
mod prune;
mod read;
mod row;
mod sim;
mod tx;
mod write;
mod writer;

use crate::{booking, BookingCancelled, ClaimBudget, HookedIntegration, Owner};
use crate::{
    flow, ready, Accepted, ClaimedAttempt, IncomingReceipt, Integration, ListQuery,
    NewNotification, NotificationRecord, NotificationSummary, NotificationType, OutboxQuery,
    ReceiptMatch, Result, Round, RoundDone, SendResult, SimAnswer, SimMessage, SimReceiptDue,
    SimSend, SimStore, Store, StoreError, Tenant,
};
use async_trait::async_trait;
use error::Db;
use herald_core::{Audience, Channel, Millis};
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tx::WriteTx;
use writer::{Call, Job};

/// The schema migrations, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many reader connections the pool keeps.
const READERS: u32 = 4;
/// How many jobs may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 8192;
/// Prepared statements the writer's connection keeps (a few dozen shapes,
/// plus one claim query per number of keys at their bound).
const WRITER_STATEMENTS: usize = 256;
/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Herald's own options in a `sqlite://` URL's query, taken out before
/// the rest goes to the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Options {
    /// `max_page_count=N`: the file may grow to at most N pages (4 KiB
    /// each); writes past it answer "unavailable" until space is freed,
    /// as on a full disk.
    max_page_count: Option<u64>,
}

/// Splits Herald's own options off a URL.
fn own_options(url: &str) -> Result<(String, Options)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), Options::default()));
    };
    let mut opts = Options::default();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("max_page_count", n)) => {
                let n = n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::BadUrl(format!(
                        "max_page_count={n}: expected a whole number of pages above 0"
                    ))
                })?;
                opts.max_page_count = Some(n);
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, opts))
}

fn connect_options(url: &str) -> Result<SqliteConnectOptions> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::BadUrl(format!("{url}: expected sqlite://PATH")))?;
    if path.is_empty() || path.starts_with(":memory:") || path.contains("mode=memory") {
        return Err(StoreError::BadUrl(format!(
            "{url}: give a file path (sqlite://PATH); in-memory databases are not supported"
        )));
    }
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
    Ok(opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT))
}

/// The writer's connection, with the same settings as the readers'.
fn open_writer(path: &std::path::Path, own: Options) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    // Every job runs in a savepoint, whose undo pages go to a statement
    // journal: kept in memory, not in a temporary file opened per batch.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )
    .db()?;
    if let Some(n) = own.max_page_count {
        // A connection's own setting: only the writer grows the file.
        conn.pragma_update(None, "max_page_count", n).db()?;
    }
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
    Ok(conn)
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

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        if self.tx.is_closed() {
            return Err(StoreError::Closed);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        Ok(())
    }

    fn writable(&self) -> bool {
        !self.counters.cannot_write.load(Ordering::Relaxed)
    }

    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let w = self.writer_stats();
        vec![
            (
                "herald_store_write_refused_total",
                "Write batches the database refused for want of space or a lock (answered 503).",
                self.counters.refused.load(Ordering::Relaxed),
            ),
            (
                "herald_store_write_batches_total",
                "Transactions committed by the SQLite writer (group commit).",
                w.batches,
            ),
            (
                "herald_store_write_commands_total",
                "Write commands run in those transactions.",
                w.commands,
            ),
        ]
    }

    /// SQLite is one node's database (the writer holds its only write
    /// connection), so whatever was `sending` at start died with the
    /// previous process: it is queued again at once. Takes the file's node
    /// lock first: that is only right when no other process is sending.
    async fn recover_after_restart(&self) -> Result<u64> {
        self.lock_node()?;
        self.write(write::recover_after_restart).await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        read::get_meta(&mut *self.reader().await?, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |tx| write::set_meta(tx, &key, &value))
            .await
    }

    async fn create_tenant(&self, tenant: &Tenant, api_key_sha256: &str) -> Result<()> {
        let (tenant, sha) = (tenant.clone(), api_key_sha256.to_string());
        self.write(move |tx| write::create_tenant(tx, &tenant, &sha))
            .await
    }

    async fn tenant_by_key(&self, api_key_sha256: &str) -> Result<Option<Tenant>> {
        read::tenant_by_key(&mut *self.reader().await?, api_key_sha256).await
    }

    async fn put_integration(&self, owner: Owner<'_>, integration: &Integration) -> Result<()> {
        let (tenant, i) = (owned(owner), integration.clone());
        self.write(move |tx| write::put_integration(tx, tenant.as_deref(), &i))
            .await
    }

    async fn get_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
    ) -> Result<Option<Integration>> {
        read::get_integration(&mut *self.reader().await?, owner, channel).await
    }

    async fn list_integrations(&self, owner: Owner<'_>) -> Result<Vec<Integration>> {
        read::list_integrations(&mut *self.reader().await?, owner).await
    }

    async fn delete_integration(&self, owner: Owner<'_>, channel: Channel) -> Result<bool> {
        let tenant = owned(owner);
        let n = self
            .write(move |tx| write::delete_integration(tx, tenant.as_deref(), channel))
            .await?;
        Ok(n > 0)
    }

    async fn integration_by_hook(&self, hook_id: &str) -> Result<Option<HookedIntegration>> {
        read::integration_by_hook(&mut *self.reader().await?, hook_id).await
    }

    async fn integrations_of_provider(&self, provider: &str) -> Result<Vec<HookedIntegration>> {
        read::integrations_of_provider(&mut *self.reader().await?, provider).await
    }

    async fn put_type(&self, tenant_id: &str, t: &NotificationType) -> Result<()> {
        let (tenant, t) = (tenant_id.to_string(), t.clone());
        self.write(move |tx| write::put_type(tx, &tenant, &t)).await
    }

    async fn get_type(&self, tenant_id: &str, key: &str) -> Result<Option<NotificationType>> {
        read::get_type(&mut *self.reader().await?, tenant_id, key).await
    }

    async fn list_types(&self, tenant_id: &str) -> Result<Vec<NotificationType>> {
        read::list_types(&mut *self.reader().await?, tenant_id).await
    }

    async fn put_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
        r: &herald_core::Recipient,
    ) -> Result<()> {
        let (tenant, id, doc) = (tenant_id.to_string(), id.to_string(), r.clone());
        self.write(move |tx| write::put_recipient(tx, &tenant, kind, &id, &doc))
            .await
    }

    async fn get_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<Option<herald_core::Recipient>> {
        read::get_recipient(&mut *self.reader().await?, tenant_id, kind, id).await
    }

    async fn accept_notification(&self, n: NewNotification) -> Result<Accepted> {
        self.write(move |tx| ready::now(flow::accept(tx, &n))?)
            .await
    }

    async fn get_notification(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRecord>> {
        // One read transaction, so the notification and its attempts come
        // from the same snapshot.
        let mut tx = self.pool.begin().await.db()?;
        let found = read::get_notification(&mut tx, tenant_id, id).await?;
        tx.commit().await.db()?;
        Ok(found)
    }

    async fn list_notifications(
        &self,
        tenant_id: &str,
        q: &ListQuery,
    ) -> Result<Vec<NotificationSummary>> {
        read::list_notifications(&mut *self.reader().await?, tenant_id, q).await
    }

    async fn claim_attempts(
        &self,
        now: Millis,
        limit: usize,
        lease_ms: Millis,
        budget: &ClaimBudget,
    ) -> Result<Vec<ClaimedAttempt>> {
        let budget = budget.clone();
        self.write(move |tx| ready::now(flow::claim(tx, now, limit, lease_ms, &budget))?)
            .await
    }

    async fn record_send_results(&self, results: Vec<SendResult>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.write(move |tx| ready::now(flow::record_results(tx, &results))?)
            .await
    }

    async fn record_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch> {
        self.write(move |tx| ready::now(flow::record_receipt(tx, &r))?)
            .await
    }

    async fn record_receipts(&self, rs: Vec<IncomingReceipt>) -> Vec<Result<ReceiptMatch>> {
        // One hand-off to the writer for the batch; the copy is for the
        // fallback, each alone, should the batch fail.
        let batch = rs.clone();
        let done = self
            .write(move |tx| ready::now(flow::record_receipts(tx, &batch))?)
            .await;
        crate::batch::receipts_or_each(self, rs, done).await
    }

    async fn wake_due(&self, now: Millis, limit: usize) -> Result<usize> {
        self.write(move |tx| ready::now(flow::wake_due(tx, now, limit))?)
            .await
    }

    async fn next_due_at(&self) -> Result<Option<Millis>> {
        read::next_due_at(&mut *self.reader().await?).await
    }

    /// The whole round is one job: one hand-off to the writer and one
    /// commit, each part in a savepoint of its own.
    async fn dispatch_round(&self, round: Round) -> Result<RoundDone> {
        self.write(move |tx| {
            let recorded = if round.results.is_empty() {
                Ok(())
            } else {
                writer::part(tx, |tx| {
                    ready::now(flow::record_results(tx, &round.results))?
                })
            };
            let woken = match round.wake_limit {
                Some(limit) => {
                    writer::part(tx, |tx| ready::now(flow::wake_due(tx, round.now, limit))?)
                }
                None => Ok(0),
            };
            let claimed = writer::part(tx, |tx| {
                ready::now(flow::claim(
                    tx,
                    round.now,
                    round.limit,
                    round.lease_ms,
                    &round.budget,
                ))?
            });
            let next_due_at = write::next_due_at(tx);
            Ok(RoundDone {
                recorded,
                woken,
                claimed,
                next_due_at,
            })
        })
        .await
    }

    async fn delete_type(&self, tenant_id: &str, key: &str) -> Result<bool> {
        self.remove_type(tenant_id, key).await
    }

    async fn delete_recipient(&self, tenant_id: &str, kind: Audience, id: &str) -> Result<bool> {
        self.remove_recipient(tenant_id, kind, id).await
    }

    async fn list_recipients(
        &self,
        tenant_id: &str,
        kind: Audience,
        q: &crate::RecipientQuery,
    ) -> Result<Vec<(String, herald_core::Recipient)>> {
        self.recipients(tenant_id, kind, q).await
    }

    async fn cancel_notification(&self, tenant_id: &str, id: &str, now: Millis) -> Result<bool> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.write(move |tx| ready::now(booking::cancel(tx, &tenant_id, &id, now))?)
            .await
    }

    async fn cancel_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        now: Millis,
    ) -> Result<Option<BookingCancelled>> {
        let (tenant_id, booking_id) = (tenant_id.to_string(), booking_id.to_string());
        self.write(move |tx| ready::now(booking::cancel_booking(tx, &tenant_id, &booking_id, now))?)
            .await
    }

    async fn reschedule_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        starts_at: Millis,
        now: Millis,
    ) -> Result<Option<usize>> {
        let (tenant_id, booking_id) = (tenant_id.to_string(), booking_id.to_string());
        self.write(move |tx| {
            ready::now(booking::reschedule_booking(
                tx,
                &tenant_id,
                &booking_id,
                starts_at,
                now,
            ))?
        })
        .await
    }

    async fn tenant_timezone(&self, tenant_id: &str) -> Result<Option<String>> {
        read::tenant_timezone(&mut *self.reader().await?, tenant_id).await
    }

    async fn set_tenant_timezone(&self, tenant_id: &str, timezone: Option<&str>) -> Result<()> {
        let (tenant_id, tz) = (tenant_id.to_string(), timezone.map(str::to_string));
        self.write(move |tx| {
            tx.conn
                .prepare_cached("UPDATE tenants SET timezone = ?2 WHERE id = ?1")
                .db()?
                .execute(rusqlite::params![tenant_id, tz])
                .db()?;
            Ok(())
        })
        .await
    }

    async fn prune(&self, now: Millis, limits: crate::PruneLimits) -> Result<crate::Pruned> {
        self.write(move |tx| prune::prune(tx, now, limits)).await
    }
}

#[async_trait]
impl SimStore for SqliteStore {
    async fn sim_send(&self, s: SimSend) -> Result<SimAnswer> {
        self.write(move |tx| sim::sim_send(tx, &s)).await
    }

    async fn sim_due_receipts(&self, now: Millis, limit: usize) -> Result<Vec<SimReceiptDue>> {
        read::sim_due_receipts(&mut *self.reader().await?, now, limit).await
    }

    async fn sim_mark_sent(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |tx| sim::sim_mark_sent(tx, &ids)).await
    }

    async fn sim_next_receipt_at(&self) -> Result<Option<Millis>> {
        read::sim_next_receipt_at(&mut *self.reader().await?).await
    }

    async fn sim_outbox(&self, tenant_id: &str, q: &OutboxQuery) -> Result<Vec<SimMessage>> {
        read::sim_outbox(&mut *self.reader().await?, tenant_id, q).await
    }

    async fn sim_prune(&self, before: Millis, limit: usize) -> Result<crate::Pruned> {
        self.write(move |tx| prune::sim_prune(tx, before, limit))
            .await
    }
}

/// The tenant id of an owner; `None` for the operator.
fn owned(owner: Owner<'_>) -> Option<String> {
    match owner {
        Owner::Tenant(t) => Some(t.to_string()),
        Owner::Operator => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{connect_options, own_options, Options};

    #[test]
    fn urls() {
        assert!(connect_options("sqlite:///tmp/x.db").is_ok());
        assert!(connect_options("sqlite:x.db").is_ok());
        assert!(connect_options("sqlite::memory:").is_err());
        assert!(connect_options("sqlite://").is_err());
        assert!(connect_options("postgres://x").is_err());
    }

    #[test]
    fn own_options_are_taken_out_of_the_url() {
        assert_eq!(
            own_options("sqlite:///x.db?max_page_count=100").unwrap(),
            (
                "sqlite:///x.db".to_string(),
                Options {
                    max_page_count: Some(100)
                }
            )
        );
        let (url, own) = own_options("sqlite:///x.db?mode=rwc&max_page_count=7").unwrap();
        assert_eq!(url, "sqlite:///x.db?mode=rwc");
        assert_eq!(own.max_page_count, Some(7));
        assert_eq!(own_options("sqlite:///x.db").unwrap().1, Options::default());
        assert!(own_options("sqlite:///x.db?max_page_count=0").is_err());
        assert!(own_options("sqlite:///x.db?max_page_count=lots").is_err());
    }
}
