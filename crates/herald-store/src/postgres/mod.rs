//! The PostgreSQL store, for many nodes on one database: a sqlx pool, each
//! mutation of a cascade one short transaction running `crate::flow` over
//! the primitives of `tx` (never held across a provider call), the plain
//! reads and writes one statement each. Schema: `migrations-pg/`, applied
//! on open (sqlx takes an advisory lock, so nodes starting together run
//! them once). Claims and wake-ups take rows with `SKIP LOCKED`, so any
//! number of workers share the due work; leases take back what a dead
//! node held.

mod attempts;
mod batch;
mod claim;
mod codec;
mod connect;
mod error;
mod log;
mod notifications;
mod plans;
mod prune;
mod read;
mod receipts;
mod sim;
mod stats;
mod tx;
mod upkeep;
mod vacuum;
mod wake;
mod write;

pub use connect::{create_schema, drop_schema};
pub use error::redact_url;

use crate::{
    flow, Accepted, ClaimBudget, ClaimedAttempt, HookedIntegration, IncomingReceipt, Integration,
    ListQuery, NewNotification, NotificationRecord, NotificationSummary, NotificationType,
    OutboxQuery, Owner, ReceiptMatch, RecipientQuery, Result, Round, RoundDone, SendResult,
    SimAnswer, SimMessage, SimReceiptDue, SimSend, SimStore, Store, StoreError, Tenant,
};
use connect::connect_options;
use error::{is_race, Db};
use herald_core::{Audience, Channel, Millis};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tx::PgTx;

/// The schema migrations, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-pg");

/// Connections the pool opens at most, unless the caller says otherwise.
pub const DEFAULT_POOL: u32 = 16;
/// How long a caller waits for a free connection before `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a transaction that lost a race (a deadlock between two
/// nodes' batches) runs before the error goes to the caller.
const RACE_TRIES: u32 = 4;

/// Herald's store on a PostgreSQL database (or one schema of it).
pub struct PgStore {
    pool: PgPool,
    /// Marked after a commit that may have made work due at once; the
    /// notifier tells the other nodes (see `wake`).
    dirty: Arc<Notify>,
    /// The `LISTEN/NOTIFY` channel of this schema's nodes.
    channel: String,
    /// The notifier and, once a dispatcher watches, the listener.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Transactions and their counters.
    cx: Cx,
    /// Accepts waiting for the next group commit.
    accepts: Arc<intake::Queue<crate::NewNotification, Accepted>>,
    /// Simulator sends waiting for the next group commit.
    sim_sends: Arc<intake::Queue<crate::SimSend, crate::SimAnswer>>,
    /// Recipient lookups waiting for the next batch.
    lookups: Arc<intake::Queue<read::RecipientKey, Option<herald_core::Recipient>>>,
    /// When this node analyzes and vacuums the cascade's tables.
    upkeep: upkeep::Upkeep,
}

/// What a transaction of the cascade needs, apart from the store: the
/// pool and the counters. The intake's task holds a clone.
#[derive(Clone)]
pub(super) struct Cx {
    pool: PgPool,
    /// Transactions committed.
    commits: Arc<AtomicU64>,
    /// Transactions run again after losing a race.
    retries: Arc<AtomicU64>,
    /// The plans this node has stored or read.
    plans: Arc<plans::Plans>,
}

/// How to open a `PgStore` beyond its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections the pool opens at most.
    pub max_connections: u32,
    /// A schema to work in (created if missing); `None`: the URL's
    /// `search_path` (from `options=-csearch_path=…`), else `public`.
    pub schema: Option<String>,
    /// Whether to run the migrations on open; when not, opening fails
    /// unless every migration of this build is applied.
    pub migrate: bool,
    /// Accepts on this node before it first refreshes the planner's
    /// statistics of the cascade's tables (then at each doubling; see
    /// `stats`); 0: never, autovacuum alone.
    pub analyze_after: u64,
    /// Dead rows a rewritten table (attempts, notifications, the
    /// simulator's outbox) needs, and a tenth of its live rows, before this
    /// node vacuums it (see `vacuum`); 0: never, autovacuum alone.
    pub vacuum_dead_rows: u64,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: DEFAULT_POOL,
            schema: None,
            migrate: true,
            analyze_after: 1_000,
            vacuum_dead_rows: 10_000,
        }
    }
}

impl PgStore {
    /// Opens the database at `postgres://…` (or `postgresql://…`) and runs
    /// the migrations.
    pub async fn open(url: &str) -> Result<PgStore> {
        PgStore::open_with(url, &PgOptions::default()).await
    }

    /// Opens the database, working in `schema` (created if missing): what
    /// the tests use to give every run its own tables.
    pub async fn open_in_schema(url: &str, schema: &str) -> Result<PgStore> {
        let opts = PgOptions {
            schema: Some(schema.to_string()),
            ..PgOptions::default()
        };
        PgStore::open_with(url, &opts).await
    }

    /// Opens the database with `opts`.
    pub async fn open_with(url: &str, opts: &PgOptions) -> Result<PgStore> {
        let mut connect = connect_options(url)?;
        if let Some(schema) = &opts.schema {
            create_schema(url, schema).await?;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(connect)
            .await
            .db()?;
        if opts.migrate {
            MIGRATOR
                .run(&pool)
                .await
                .map_err(|e| StoreError::Migrate(e.to_string()))?;
        } else {
            check_migrated(&pool).await?;
        }
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&pool)
            .await
            .db()?;
        let channel = wake::channel_of(&schema);
        let dirty = Arc::new(Notify::new());
        let notifier = wake::spawn_notifier(pool.clone(), channel.clone(), dirty.clone());
        Ok(PgStore {
            pool: pool.clone(),
            channel,
            dirty,
            tasks: Mutex::new(vec![notifier]),
            cx: Cx {
                pool,
                commits: Arc::new(AtomicU64::new(0)),
                retries: Arc::new(AtomicU64::new(0)),
                plans: Arc::default(),
            },
            accepts: Arc::default(),
            sim_sends: Arc::default(),
            lookups: Arc::default(),
            upkeep: upkeep::Upkeep::new(opts.analyze_after, opts.vacuum_dead_rows),
        })
    }

    /// Runs the migrations (`herald migrate`); opening does it too unless
    /// told not to.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))
    }

    /// The pool, for tools and tests that look at the tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection and stops the store's tasks.
    pub async fn close(&self) {
        self.stop_tasks();
        self.pool.close().await;
    }

    fn stop_tasks(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for t in tasks.drain(..) {
            t.abort();
        }
    }

    /// Tells the other nodes (soon, once per burst) that work may be due.
    fn mark_dirty(&self) {
        self.dirty.notify_one();
    }
}

impl Cx {
    async fn begin(&self) -> Result<PgTx> {
        Ok(PgTx {
            tx: self.pool.begin().await.db()?,
            pool: self.pool.clone(),
            plans: self.plans.clone(),
        })
    }

    /// Commits a transaction whose work gave `res`, or rolls it back.
    async fn finish<T>(&self, tx: PgTx, res: Result<T>) -> Result<T> {
        match res {
            Ok(v) => {
                tx.tx.commit().await.db()?;
                self.commits.fetch_add(1, Ordering::Relaxed);
                Ok(v)
            }
            Err(e) => {
                // Dropping would roll back too; this frees the connection
                // for the retry at once.
                let _ = tx.tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Whether a failed transaction should run again (and counts it).
    fn again(&self, e: &StoreError, tries: u32) -> bool {
        let again = is_race(e) && tries < RACE_TRIES;
        if again {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
        again
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Fails unless every migration of this build is applied (for nodes
/// started with `--no-migrate`, so an old schema is named, not met as an
/// SQL error mid-cascade).
async fn check_migrated(pool: &PgPool) -> Result<()> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
        {
            Ok(v) => v,
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => return Err(error::from_sqlx(e)),
        };
    if let Some(m) = MIGRATOR.iter().find(|m| !applied.contains(&m.version)) {
        return Err(StoreError::Migrate(format!(
            "migration {} ({}) is not applied: run `herald migrate`",
            m.version, m.description
        )));
    }
    // A newer release's schema may store what this build would misread
    // (0015 moved the addresses out of plans), so an old node stops here
    // instead of sending on half a plan.
    match applied
        .iter()
        .find(|v| !MIGRATOR.iter().any(|m| m.version == **v))
    {
        Some(v) => Err(StoreError::Migrate(format!(
            "the schema has migration {v}, which this build does not know: \
             run the release that migrated it"
        ))),
        None => Ok(()),
    }
}

/// Runs `$body` (which uses `$tx`, a `&mut PgTx`) in a transaction of
/// `$store` and commits; a transaction that lost a race with another node
/// (deadlock, serialization failure) runs again, a few times.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut tries = 0u32;
        loop {
            tries += 1;
            let mut t = $store.begin().await?;
            let res = {
                let $tx = &mut t;
                $body
            };
            match $store.finish(t, res).await {
                Err(e) if $store.again(&e, tries) => continue,
                other => break other,
            }
        }
    }};
}

/// Runs `$body` (which uses `$tx`, a `&mut PgTx`) inside a savepoint of
/// the open transaction `$t`: its failure rolls back only its own writes,
/// so one part of a round failing leaves the others to commit.
macro_rules! part {
    ($t:expr, |$tx:ident| $body:expr) => {{
        match sqlx::query("SAVEPOINT part")
            .execute(&mut *$t.tx)
            .await
            .db()
        {
            Err(e) => Err(e),
            Ok(_) => {
                let res = {
                    let $tx = &mut $t;
                    $body
                };
                let end = if res.is_ok() {
                    "RELEASE SAVEPOINT part"
                } else {
                    "ROLLBACK TO SAVEPOINT part"
                };
                match sqlx::query(end).execute(&mut *$t.tx).await.db() {
                    Ok(_) => res,
                    Err(e) => Err(e),
                }
            }
        }
    }};
}

mod intake;
mod store;
