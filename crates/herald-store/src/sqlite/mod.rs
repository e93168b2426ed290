//! The SQLite store: WAL mode, `synchronous=FULL`, a pool of reader
//! connections for the read methods, and one writer task owning one
//! connection that commits every mutation in batches (group commit, see
//! `writer`). Schema: `migrations/`, applied on open.

mod codec;
mod flow;
mod people;
mod read;
mod sends;
mod sim;
mod write;
mod writer;

use crate::{
    Accepted, ClaimedAttempt, IncomingReceipt, Integration, ListQuery, NewNotification,
    NotificationRecord, NotificationSummary, NotificationType, OutboxQuery, ReceiptMatch, Result,
    SendResult, SimAnswer, SimMessage, SimReceiptDue, SimSend, Store, StoreError, Tenant,
};
use crate::{ClaimBudget, HookedIntegration, Owner};
use async_trait::async_trait;
use herald_core::{Audience, Channel, Millis};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use writer::{Command, Op, Out};

/// The schema migrations, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many reader connections the pool keeps.
const READERS: u32 = 4;
/// How many commands may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 8192;
/// Prepared statements the writer's connection keeps.
const WRITER_STATEMENTS: usize = 2048;
/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Herald's store on one SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    tx: mpsc::Sender<Command>,
    writer: tokio::task::JoinHandle<()>,
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

impl SqliteStore {
    /// Opens (creating if missing) the database at `sqlite://PATH` or
    /// `sqlite:PATH`, runs the migrations, and starts the writer task.
    /// Must be called inside a Tokio runtime.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        let opts = connect_options(url)?;
        let path = opts.get_filename().to_path_buf();
        // The writer's multi-row statements come in one shape per row
        // count: keep plenty of them prepared.
        let mut conn = opts
            .clone()
            .statement_cache_capacity(WRITER_STATEMENTS)
            .connect()
            .await?;
        MIGRATOR.run(&mut conn).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(1)
            .connect_with(opts)
            .await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(writer::Counters::default());
        let handle = tokio::spawn(writer::run(conn, rx, counters.clone()));
        Ok(SqliteStore {
            pool,
            tx,
            writer: handle,
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

    /// Shuts down cleanly: waits for commands already queued to commit,
    /// stops the writer, and closes every connection.
    pub async fn close(self) {
        let SqliteStore {
            pool, tx, writer, ..
        } = self;
        drop(tx);
        if let Err(e) = writer.await {
            tracing::warn!(error = %e, "the writer task ended badly");
        }
        pool.close().await;
    }

    async fn call(&self, op: Op) -> Result<Out> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn call_unit(&self, op: Op) -> Result<()> {
        match self.call(op).await? {
            Out::Unit => Ok(()),
            _ => Err(mismatch()),
        }
    }

    async fn reader(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>> {
        Ok(self.pool.acquire().await?)
    }
}

fn mismatch() -> StoreError {
    StoreError::Corrupt("the writer answered with the wrong kind of result".into())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        if self.tx.is_closed() {
            return Err(StoreError::Closed);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite is one node's database (the writer holds its only write
    /// connection), so whatever was `sending` at start died with the
    /// previous process: it is queued again at once.
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let w = self.writer_stats();
        vec![
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

    /// Takes the file's node lock first: attempts in flight are taken back
    /// at once, which is only right when no other process is sending them.
    async fn recover_after_restart(&self) -> Result<u64> {
        self.lock_node()?;
        match self.call(Op::Recover).await? {
            Out::Recovered(n) => Ok(n),
            _ => Err(mismatch()),
        }
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        read::get_meta(&mut *self.reader().await?, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.call_unit(Op::SetMeta {
            key: key.to_string(),
            value: value.to_string(),
        })
        .await
    }

    async fn create_tenant(&self, tenant: &Tenant, api_key_sha256: &str) -> Result<()> {
        self.call_unit(Op::CreateTenant {
            tenant: tenant.clone(),
            api_key_sha256: api_key_sha256.to_string(),
        })
        .await
    }

    async fn tenant_by_key(&self, api_key_sha256: &str) -> Result<Option<Tenant>> {
        read::tenant_by_key(&mut *self.reader().await?, api_key_sha256).await
    }

    async fn put_integration(&self, owner: Owner<'_>, integration: &Integration) -> Result<()> {
        self.call_unit(Op::PutIntegration {
            tenant_id: owned(owner),
            integration: integration.clone(),
        })
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
        match self
            .call(Op::DeleteIntegration {
                tenant_id: owned(owner),
                channel,
            })
            .await?
        {
            Out::Count(n) => Ok(n > 0),
            _ => Err(mismatch()),
        }
    }

    async fn integration_by_hook(&self, hook_id: &str) -> Result<Option<HookedIntegration>> {
        read::integration_by_hook(&mut *self.reader().await?, hook_id).await
    }

    async fn integrations_of_provider(&self, provider: &str) -> Result<Vec<HookedIntegration>> {
        read::integrations_of_provider(&mut *self.reader().await?, provider).await
    }

    async fn put_type(&self, tenant_id: &str, t: &NotificationType) -> Result<()> {
        self.call_unit(Op::PutType {
            tenant_id: tenant_id.to_string(),
            t: t.clone(),
        })
        .await
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
        self.call_unit(Op::PutRecipient {
            tenant_id: tenant_id.to_string(),
            kind,
            id: id.to_string(),
            doc: r.clone(),
        })
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
        match self.call(Op::Accept(n)).await? {
            Out::Accepted(a) => Ok(a),
            _ => Err(mismatch()),
        }
    }

    async fn get_notification(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRecord>> {
        // One read transaction, so the notification and its attempts come
        // from the same snapshot.
        let mut tx = self.pool.begin().await?;
        let found = read::get_notification(&mut tx, tenant_id, id).await?;
        tx.commit().await?;
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
        match self
            .call(Op::Claim {
                now,
                limit,
                lease_ms,
                budget: budget.clone(),
            })
            .await?
        {
            Out::Claimed(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn record_send_results(&self, results: Vec<SendResult>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.call_unit(Op::SendResults(results)).await
    }

    async fn record_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch> {
        match self.call(Op::Receipt(r)).await? {
            Out::Receipt(m) => Ok(m),
            _ => Err(mismatch()),
        }
    }

    async fn wake_due(&self, now: Millis, limit: usize) -> Result<usize> {
        match self.call(Op::Wake { now, limit }).await? {
            Out::Count(n) => Ok(n),
            _ => Err(mismatch()),
        }
    }

    async fn next_due_at(&self) -> Result<Option<Millis>> {
        read::next_due_at(&mut *self.reader().await?).await
    }

    async fn sim_send(&self, s: SimSend) -> Result<SimAnswer> {
        match self.call(Op::SimSend(s)).await? {
            Out::Sim(a) => Ok(a),
            _ => Err(mismatch()),
        }
    }

    async fn sim_due_receipts(&self, now: Millis, limit: usize) -> Result<Vec<SimReceiptDue>> {
        read::sim_due_receipts(&mut *self.reader().await?, now, limit).await
    }

    async fn sim_mark_sent(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.call_unit(Op::SimMarkSent(ids.to_vec())).await
    }

    async fn sim_next_receipt_at(&self) -> Result<Option<Millis>> {
        read::sim_next_receipt_at(&mut *self.reader().await?).await
    }

    async fn sim_outbox(&self, tenant_id: &str, q: &OutboxQuery) -> Result<Vec<SimMessage>> {
        read::sim_outbox(&mut *self.reader().await?, tenant_id, q).await
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
    use super::connect_options;

    #[test]
    fn urls() {
        assert!(connect_options("sqlite:///tmp/x.db").is_ok());
        assert!(connect_options("sqlite:x.db").is_ok());
        assert!(connect_options("sqlite::memory:").is_err());
        assert!(connect_options("sqlite://").is_err());
        assert!(connect_options("postgres://x").is_err());
    }
}
