//! Starting and stopping a whole Herald: store, providers, dispatcher,
//! simulator receipts and the HTTP server. `herald serve` and the tests use
//! the same function.

use crate::providers::simulator::{self, Simulator};
use crate::providers::Registry;
use crate::secrets::Sealer;
use crate::service::{App, Env};
use crate::worker::{self, WorkerConfig};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a node runs: any number of each may share one PostgreSQL (on
/// SQLite, one `Serve` per file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The HTTP API and the delivery workers (`herald serve`).
    Serve,
    /// The HTTP API only (`herald serve --no-workers`): triggers and
    /// receipts are taken here, other nodes' workers send.
    Api,
    /// The delivery workers only (`herald worker`), with `/healthz` and
    /// `/metrics` on the listen address.
    Worker,
}

impl Role {
    /// Whether the node runs the dispatcher and the simulator's receipts.
    pub fn works(self) -> bool {
        matches!(self, Role::Serve | Role::Worker)
    }
}

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks one).
    pub listen: String,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// The operator token; when `None` one is made on first start.
    pub admin_token: Option<String>,
    /// Dispatcher tuning.
    pub worker: WorkerConfig,
    /// The public base URL of receipt webhooks (`https://herald.example`);
    /// default `http://<listen address>`.
    pub public_url: Option<String>,
    /// The key that seals provider secrets at rest (64 hex digits); when
    /// `None`, a key file beside the SQLite database is used, made on
    /// first start.
    pub secret_key: Option<String>,
    /// Certificates providers trust beside the built-in roots.
    pub tls: crate::providers::tls::Roots,
    /// What this node runs.
    pub role: Role,
    /// How the store is opened (migrations, pool size).
    pub open: herald_store::OpenOptions,
    /// What is kept how long, and how often the pruner looks.
    pub retention: crate::retention::RetentionConfig,
}

impl ServeConfig {
    /// The defaults over a database URL, listening on a free port.
    pub fn new(database_url: String) -> ServeConfig {
        ServeConfig {
            listen: "127.0.0.1:0".into(),
            database_url,
            admin_token: None,
            worker: WorkerConfig::default(),
            public_url: None,
            secret_key: None,
            tls: Default::default(),
            role: Role::Serve,
            open: herald_store::OpenOptions::default(),
            retention: Default::default(),
        }
    }
}

/// A running Herald.
pub struct Running {
    /// The address the HTTP server listens on.
    pub addr: SocketAddr,
    /// The service.
    pub app: Arc<App>,
    /// A newly made operator token, to print once.
    pub new_admin_token: Option<String>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Opens the store, starts the workers and the HTTP server.
pub async fn start(cfg: ServeConfig) -> anyhow::Result<Running> {
    cfg.retention.check()?;
    let shown_url = herald_store::postgres::redact_url(&cfg.database_url);
    let shared = herald_store::is_postgres_url(&cfg.database_url);
    if shared && cfg.secret_key.is_none() {
        // A key file per node would seal each node's secrets with its own
        // key: the others could not read them.
        anyhow::bail!(
            "set HERALD_SECRET_KEY (or --secret-key) with PostgreSQL: every node sharing \
             the database must seal provider secrets with the same key"
        );
    }
    let backend = herald_store::open_with(&cfg.database_url, &cfg.open)
        .await
        .with_context(|| format!("opening the store at {shown_url}"))?;
    let store = backend.store;
    if cfg.role.works() {
        let requeued = store
            .recover_after_restart()
            .await
            .context("recovering in-flight work")?;
        if requeued > 0 {
            tracing::info!(
                "{requeued} attempts that were in flight at the last stop go out again with \
                 their keys"
            );
        }
    }
    let sealer = match &cfg.secret_key {
        Some(k) => Sealer::from_key(k).context("HERALD_SECRET_KEY")?,
        None => {
            let path = key_file_beside(&cfg.database_url);
            Sealer::from_file(&path).with_context(|| {
                format!(
                    "the secret key file {} (or set HERALD_SECRET_KEY)",
                    path.display()
                )
            })?
        }
    };
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let sim = Arc::new(Simulator::new(backend.sim.clone()));
    let receipts_wake = sim.receipts.clone();
    let providers = Registry::real().with(sim);
    let env = Env {
        sealer,
        public_url,
        tls: cfg.tls.clone(),
    };
    let app = App::with_sim(store.clone(), backend.sim.clone(), providers, env);
    app.set_idempotency_window_ms(cfg.retention.idempotency_window_ms());
    // A worker takes no operator calls: it neither makes nor prints a
    // token (an API node does).
    let new_admin_token = match (cfg.role, cfg.admin_token.as_deref()) {
        (Role::Worker, None) => None,
        (_, configured) => app
            .ensure_admin_token(configured)
            .await
            .context("setting up the admin token")?,
    };
    let (shutdown, rx) = watch::channel(false);

    let mut tasks = Vec::new();
    if cfg.role.works() {
        // Work committed by other nodes (a trigger on an API node, a
        // receipt at any node) wakes this dispatcher at once.
        store
            .watch_wake(app.work.clone())
            .await
            .context("listening for other nodes' work")?;
        tasks.push(tokio::spawn(worker::run(
            app.clone(),
            cfg.worker.clone(),
            rx.clone(),
        )));
        if let Some(sim_store) = backend.sim {
            tasks.push(tokio::spawn(simulator::run_receipts(
                Arc::downgrade(&app),
                sim_store,
                receipts_wake,
                rx.clone(),
            )));
        }
        // The nodes that send also prune (on PostgreSQL any number of
        // them at once: batches skip each other's rows).
        tasks.push(tokio::spawn(crate::retention::run(
            Arc::downgrade(&app),
            cfg.retention.clone(),
            rx.clone(),
        )));
        // Clients that keep a link of their own (SMPP) are opened now:
        // receipts owed for messages sent before a restart arrive only on
        // such a link.
        {
            let app = app.clone();
            tasks.push(tokio::spawn(async move { app.open_links().await }));
        }
        if let Some(pushed) = app.take_pushed_receipts() {
            tasks.push(tokio::spawn(run_pushed_receipts(
                Arc::downgrade(&app),
                pushed,
                rx.clone(),
            )));
        }
    }
    let router = match cfg.role {
        Role::Serve | Role::Api => crate::api::router(app.clone()),
        Role::Worker => health_router(app.clone()),
    };
    let mut http_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        let stop = async move {
            let _ = http_rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("http server: {e}");
        }
    }));
    Ok(Running {
        addr,
        app,
        new_admin_token,
        shutdown,
        tasks,
    })
}

/// A worker node's HTTP surface: only what monitoring asks.
fn health_router(app: Arc<App>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/healthz", get(crate::api::health::healthz))
        .route("/metrics", get(crate::api::health::metrics))
        .with_state(app)
}

/// How often a pushed receipt that matched no message yet is tried again
/// (an SMSC may send a receipt before the send's answer is recorded), and
/// for how long.
const PUSHED_RETRY: std::time::Duration = std::time::Duration::from_millis(500);
const PUSHED_TRIES: u32 = 20;

/// Records the receipts providers push from their own connections (SMPP's
/// `deliver_sm`) as if they had come to the integration's webhook.
async fn run_pushed_receipts(
    app: std::sync::Weak<App>,
    mut pushed: crate::service::PushedReceipts,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            next = pushed.recv() => next,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let Some(crate::providers::PushedReceipt {
            hook_id,
            receipt,
            recorded,
        }) = next
        else {
            return;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let mut tries = 0;
            let mut wait = PUSHED_RETRY;
            while tries < PUSHED_TRIES {
                let Some(app) = app.upgrade() else { return };
                let r = herald_store::IncomingReceipt {
                    hook_id: hook_id.clone(),
                    provider_message_id: Some(receipt.message_id.clone()),
                    idempotency_key: None,
                    delivered: receipt.delivered,
                    error: receipt.error.clone(),
                    at: app.now(),
                };
                match app.ingest_receipt(r).await {
                    Ok(herald_store::ReceiptMatch::Unknown) => tries += 1,
                    Ok(_) => {
                        let _ = recorded.send(());
                        return;
                    }
                    // The store refuses writes for now (full disk, lock):
                    // the receipt is not acknowledged and waits as long as
                    // it takes, so the provider need not send it again.
                    Err(e) if e.is_retryable() => {
                        tracing::warn!("pushed receipt {} waits: {e}", receipt.message_id);
                        wait = (wait * 2).min(std::time::Duration::from_secs(5));
                    }
                    Err(e) => {
                        tries += 1;
                        tracing::warn!("pushed receipt {}: {e}", receipt.message_id)
                    }
                }
                drop(app);
                tokio::time::sleep(wait).await;
            }
            // Known to no message even after waiting: taken and ignored,
            // as a webhook's would be (the provider need not repeat it).
            tracing::info!(
                "pushed receipt {} matched no message of hook {hook_id}",
                receipt.message_id
            );
            let _ = recorded.send(());
        });
    }
}

/// Where the secret key file lives when no key is given: beside the SQLite
/// database (`herald.db` → `herald.db.secret-key`), else in the working
/// directory.
pub fn key_file_beside(database_url: &str) -> std::path::PathBuf {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p));
    match path {
        Some(p) if !p.is_empty() && p != ":memory:" => {
            std::path::PathBuf::from(format!("{p}.secret-key"))
        }
        _ => std::path::PathBuf::from("herald.secret-key"),
    }
}

impl Running {
    /// Stops accepting requests, lets in-flight sends finish, and returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for mut t in self.tasks {
            if tokio::time::timeout(std::time::Duration::from_secs(10), &mut t)
                .await
                .is_err()
            {
                t.abort();
            }
        }
    }
}
