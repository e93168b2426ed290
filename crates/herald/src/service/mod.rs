//! The service: what the API, the CLI and the workers call. It parses
//! requests into domain values, plans notifications (reach, routes,
//! rendering), and hands facts to the store, which runs the cascade.

mod chain;
mod chain_client;
mod config;
mod hook_clients;
mod hooks;
mod integration_input;
mod integrations;
mod notify;
mod people;
mod schedule;

pub use hook_clients::Resolved;
pub use hooks::{HookFailure, HookOutcome};
pub use integrations::IntegrationInput;
pub use notify::{Planned, PreviewItem, TriggerInput, Triggered};
pub use schedule::{parse_duration, parse_time, BookingInput};

use crate::cache::Caches;
use crate::clock::{Clock, SystemClock};
use crate::error::{invalid, Result, ServiceError};
use crate::metrics::Metrics;
use crate::providers::Registry;
use herald_core::{Channel, Millis};
use herald_store::{NotificationType, SimStore, Store, Tenant};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Notify;

/// The most characters an id or key may have.
pub const MAX_ID: usize = 255;
/// Meta key of the operator token's hash.
const ADMIN_META: &str = "admin_token_sha256";

/// The machine's time in epoch milliseconds, for what is not part of a
/// cascade (configuration stamps, console sessions); cascades go by
/// `App::now`.
pub fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Hex SHA-256 of a secret token; tokens are 256-bit random, so a fast hash
/// is enough.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A fresh random token with a prefix (`hk_…` for API keys).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// Checks an id or key from a path or body.
pub fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > MAX_ID {
        return Err(invalid(
            field,
            "invalid_id",
            format!("{field} must be 1 to {MAX_ID} characters"),
        ));
    }
    if id.chars().any(|c| c.is_control()) {
        return Err(invalid(
            field,
            "invalid_id",
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// The service, shared by every handler and worker.
pub struct App {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// The simulator's state, when the store keeps one.
    pub sim: Option<Arc<dyn SimStore>>,
    /// Known providers.
    pub providers: Registry,
    /// Wakes the dispatcher when new work is committed.
    pub work: Arc<Notify>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Hot configuration lookups.
    caches: Caches,
    /// Configured provider clients by hook id.
    clients: crate::cache::Clients,
    /// Secrets, URLs and trust for providers.
    pub env: Env,
    /// Receipts providers push from their own connections (SMPP), with
    /// the integration's hook id; `server` drains them into the store.
    pub pushed: crate::providers::ReceiptSink,
    /// The receiving end, until `server` takes it.
    pushed_rx: std::sync::Mutex<Option<PushedReceipts>>,
    /// What cascades take the time from.
    clock: Arc<dyn Clock>,
    /// How long an idempotency key dedupes (`--idempotency-hours`).
    idempotency_ms: std::sync::atomic::AtomicI64,
}

/// The receiving end of the pushed receipts.
pub type PushedReceipts = tokio::sync::mpsc::UnboundedReceiver<crate::providers::PushedReceipt>;

/// What the service gives providers: the sealer of secrets, the public
/// base URL of webhooks, and extra trusted certificates.
#[derive(Debug, Clone)]
pub struct Env {
    /// Seals secrets at rest.
    pub sealer: crate::secrets::Sealer,
    /// `https://herald.example` (no trailing slash needed).
    pub public_url: String,
    /// Certificates trusted beside the built-in roots.
    pub tls: crate::providers::tls::Roots,
}

impl Env {
    /// An environment for tools that never touch secrets: a throwaway key.
    pub fn ephemeral() -> Env {
        Env {
            sealer: crate::secrets::Sealer::from_key(&new_token("")[..64])
                .expect("64 hex digits are a key"),
            public_url: "http://127.0.0.1:8080".into(),
            tls: Default::default(),
        }
    }
}

impl App {
    /// Builds the service over a store.
    pub fn new(store: Arc<dyn Store>, providers: Registry) -> Arc<App> {
        App::with_env(store, providers, Env::ephemeral())
    }

    /// Builds the service with its providers' environment.
    pub fn with_env(store: Arc<dyn Store>, providers: Registry, env: Env) -> Arc<App> {
        App::with_sim(store, None, providers, env)
    }

    /// Builds the service with the simulator's state beside the store.
    pub fn with_sim(
        store: Arc<dyn Store>,
        sim: Option<Arc<dyn SimStore>>,
        providers: Registry,
        env: Env,
    ) -> Arc<App> {
        App::with_clock(store, sim, providers, env, Arc::new(SystemClock))
    }

    /// Builds the service on a clock of its own (a test's `ManualClock`).
    pub fn with_clock(
        store: Arc<dyn Store>,
        sim: Option<Arc<dyn SimStore>>,
        providers: Registry,
        env: Env,
        clock: Arc<dyn Clock>,
    ) -> Arc<App> {
        let (pushed, pushed_rx) = tokio::sync::mpsc::unbounded_channel();
        Arc::new(App {
            pushed,
            pushed_rx: std::sync::Mutex::new(Some(pushed_rx)),
            store,
            sim,
            providers,
            work: Arc::new(Notify::new()),
            metrics: Metrics::default(),
            caches: Caches::default(),
            clients: Default::default(),
            env,
            clock,
            idempotency_ms: std::sync::atomic::AtomicI64::new(
                crate::retention::DEFAULT_IDEMPOTENCY_HOURS * crate::retention::HOUR_MS,
            ),
        })
    }

    /// The time cascades go by (the machine's, or a test's clock).
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// How long an idempotency key dedupes, in milliseconds: a trigger
    /// with a key older than this makes a new notification.
    pub fn idempotency_window_ms(&self) -> Millis {
        self.idempotency_ms
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets how long idempotency keys dedupe (`server::start` does, from
    /// `--idempotency-hours`).
    pub fn set_idempotency_window_ms(&self, ms: Millis) {
        self.idempotency_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// The clock itself, for parts that outlive a call (the simulator).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Takes the receiving end of pushed receipts (once; `None` after).
    pub fn take_pushed_receipts(&self) -> Option<PushedReceipts> {
        self.pushed_rx.lock().ok()?.take()
    }

    /// Makes sure an operator token exists. Returns the new token when one
    /// had to be made (to print once), `None` when one was configured or
    /// already stored.
    pub async fn ensure_admin_token(&self, configured: Option<&str>) -> Result<Option<String>> {
        if let Some(t) = configured {
            self.store.set_meta(ADMIN_META, &sha256_hex(t)).await?;
            return Ok(None);
        }
        if self.store.get_meta(ADMIN_META).await?.is_some() {
            return Ok(None);
        }
        let token = new_token("ha_");
        self.store.set_meta(ADMIN_META, &sha256_hex(&token)).await?;
        Ok(Some(token))
    }

    /// Checks an operator token.
    pub async fn check_admin(&self, token: &str) -> Result<()> {
        match self.store.get_meta(ADMIN_META).await? {
            Some(h) if h == sha256_hex(token) => Ok(()),
            _ => {
                if self
                    .store
                    .tenant_by_key(&sha256_hex(token))
                    .await?
                    .is_some()
                {
                    Err(ServiceError::Forbidden(
                        "this call needs the operator's admin token, not a tenant API key".into(),
                    ))
                } else {
                    Err(ServiceError::Unauthorized)
                }
            }
        }
    }

    /// Finds the tenant of an API key.
    pub async fn authenticate(&self, api_key: &str) -> Result<Tenant> {
        let hash = sha256_hex(api_key);
        if let Some(t) = self.caches.tenants.get(&hash) {
            return Ok(t);
        }
        let Some(t) = self.store.tenant_by_key(&hash).await? else {
            if self.store.get_meta(ADMIN_META).await?.as_deref() == Some(hash.as_str()) {
                return Err(ServiceError::Forbidden(
                    "this is the operator's admin token; tenant calls need the tenant's API key"
                        .into(),
                ));
            }
            return Err(ServiceError::Unauthorized);
        };
        self.caches.tenants.put(hash, t.clone());
        Ok(t)
    }

    /// A notification type (cached).
    pub async fn notification_type(
        &self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<std::sync::Arc<NotificationType>>> {
        let k = (tenant_id.to_string(), key.to_string());
        if let Some(t) = self.caches.types.get(&k) {
            return Ok(Some(t));
        }
        let Some(t) = self.store.get_type(tenant_id, key).await? else {
            return Ok(None);
        };
        let t = std::sync::Arc::new(t);
        self.caches.types.put(k, t.clone());
        Ok(Some(t))
    }

    /// Creates a tenant and returns it with its API key (shown once).
    pub async fn create_tenant(&self, name: &str) -> Result<(Tenant, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_ID {
            return Err(invalid(
                "name",
                "invalid_name",
                "name must be 1 to 255 characters",
            ));
        }
        let tenant = Tenant {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_string(),
            created_at: now_ms(),
        };
        let key = new_token("hk_");
        self.store.create_tenant(&tenant, &sha256_hex(&key)).await?;
        Ok((tenant, key))
    }
}

/// A field error for an unknown channel name in a path.
pub fn parse_channel(s: &str) -> Result<Channel> {
    Channel::parse(s).ok_or_else(|| ServiceError::NotFound(format!("channel {s:?}")))
}
