//! The service: what the API, the CLI and the workers call. It parses
//! requests into domain values, plans notifications (reach, routes,
//! rendering), and hands facts to the store, which runs the cascade.

use crate::cache::{Caches, Integrations};
use crate::error::{invalid, Result, ServiceError};
use crate::metrics::Metrics;
use crate::providers::Registry;
use herald_core::{
    preview, reach, Audience, Channel, ChannelPlan, Confirm, Millis, Plan, PreviewChannel, Reach,
    Recipient, Rendered, Scenario, TypeConfig,
};
use herald_store::{
    Accepted, IncomingReceipt, Integration, NewNotification, NotificationType, ReceiptMatch, Store,
    Tenant,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Notify;

/// The most characters an id or key may have.
pub const MAX_ID: usize = 255;
/// Meta key of the operator token's hash.
const ADMIN_META: &str = "admin_token_sha256";

/// The current time in epoch milliseconds.
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

/// An integration as the API receives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// Provider name.
    pub provider: String,
    /// Provider settings.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Confirmation mode.
    #[serde(default)]
    pub confirm: Option<Confirm>,
    /// Window in seconds.
    #[serde(default)]
    pub window_s: Option<u32>,
}

/// A trigger as the API (and the CLI) send it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerInput {
    /// The notification type key.
    #[serde(rename = "type")]
    pub type_key: String,
    /// The client, for a client type.
    #[serde(default)]
    pub client: Option<String>,
    /// The staff member, for a staff type.
    #[serde(default)]
    pub staff: Option<String>,
    /// What the templates need.
    #[serde(default)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
    /// Makes a retried trigger create nothing new.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A planned notification, before it is stored.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The type.
    pub type_key: String,
    /// Client or staff.
    pub audience: Audience,
    /// Recipient id.
    pub recipient_id: String,
    /// The recipient as stored now.
    pub recipient: Recipient,
    /// The cascade plan.
    pub plan: Plan,
    /// Rendered texts, per channel.
    pub rendered: Vec<Option<Rendered>>,
}

/// One channel of a preview.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewItem {
    /// What would happen and why.
    #[serde(flatten)]
    pub channel: PreviewChannel,
    /// The text that would be sent.
    pub rendered: Option<Rendered>,
}

/// What a trigger did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triggered {
    /// A new notification.
    Created(String),
    /// The notification of an earlier trigger with the same key.
    Existing(String),
}

/// The service, shared by every handler and worker.
pub struct App {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// Known providers.
    pub providers: Registry,
    /// Wakes the dispatcher when new work is committed.
    pub work: Arc<Notify>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Hot configuration lookups.
    caches: Caches,
}

impl App {
    /// Builds the service over a store.
    pub fn new(store: Arc<dyn Store>, providers: Registry) -> Arc<App> {
        Arc::new(App {
            store,
            providers,
            work: Arc::new(Notify::new()),
            metrics: Metrics::default(),
            caches: Caches::default(),
        })
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

    /// The tenant's integrations by channel (cached).
    pub async fn integrations(&self, tenant_id: &str) -> Result<Integrations> {
        if let Some(i) = self.caches.integrations.get(&tenant_id.to_string()) {
            return Ok(i);
        }
        let all: Integrations = std::sync::Arc::new(
            self.store
                .list_integrations(tenant_id)
                .await?
                .into_iter()
                .map(|i| (i.channel, i))
                .collect(),
        );
        self.caches
            .integrations
            .put(tenant_id.to_string(), all.clone());
        Ok(all)
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

    /// Creates or replaces the integration of a channel.
    pub async fn put_integration(
        &self,
        tenant: &Tenant,
        channel: Channel,
        input: IntegrationInput,
    ) -> Result<Integration> {
        let provider = self.providers.get(&input.provider).ok_or_else(|| {
            invalid(
                "provider",
                "unknown_provider",
                format!(
                    "unknown provider {:?}; known: {}",
                    input.provider,
                    self.providers.names().join(", ")
                ),
            )
        })?;
        if !provider.supports(channel) {
            return Err(invalid(
                "provider",
                "provider_not_for_channel",
                format!(
                    "provider {} cannot serve the {channel} channel",
                    input.provider
                ),
            ));
        }
        let mut settings = input.settings.unwrap_or_else(|| serde_json::json!({}));
        // `null` counts as absent for an optional setting too.
        if let Some(map) = settings.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
        if !settings.is_object() {
            return Err(invalid(
                "settings",
                "wrong_type",
                "settings must be an object",
            ));
        }
        provider.validate(channel, &settings)?;
        if let Some(w) = input.window_s {
            if !(1..=259_200).contains(&w) {
                return Err(invalid(
                    "window_s",
                    "out_of_range",
                    "window_s must be between 1 and 259200",
                ));
            }
        }
        let integration = Integration {
            channel,
            provider: input.provider,
            settings,
            confirm: input.confirm.unwrap_or(channel.default_confirm()),
            window_s: input.window_s.unwrap_or(channel.default_window_s()),
            updated_at: now_ms(),
        };
        self.store.put_integration(&tenant.id, &integration).await?;
        self.caches.integrations.forget(&tenant.id);
        Ok(integration)
    }

    /// An integration with its secrets redacted, for a GET.
    pub fn redacted(&self, mut i: Integration) -> Integration {
        if let Some(p) = self.providers.get(&i.provider) {
            i.settings = p.redact(&i.settings);
        }
        i
    }

    /// Creates or replaces a notification type.
    pub async fn put_type(
        &self,
        tenant: &Tenant,
        key: &str,
        config: TypeConfig,
    ) -> Result<NotificationType> {
        check_id("key", key)?;
        config.validate()?;
        let t = NotificationType {
            key: key.to_string(),
            config,
            updated_at: now_ms(),
        };
        self.store.put_type(&tenant.id, &t).await?;
        self.caches
            .types
            .forget(&(tenant.id.clone(), key.to_string()));
        Ok(t)
    }

    /// Creates or replaces a client or staff member.
    pub async fn put_recipient(
        &self,
        tenant: &Tenant,
        kind: Audience,
        id: &str,
        r: Recipient,
    ) -> Result<Recipient> {
        check_id("id", id)?;
        r.validate(kind)?;
        self.store.put_recipient(&tenant.id, kind, id, &r).await?;
        Ok(r)
    }

    /// Plans a trigger: finds the type and recipient, decides reach and
    /// routes per channel, and renders every channel that may be sent.
    pub async fn plan(&self, tenant: &Tenant, input: &TriggerInput) -> Result<Planned> {
        check_id("type", &input.type_key)?;
        let (audience, recipient_id) = match (&input.client, &input.staff) {
            (Some(c), None) => (Audience::Client, c.clone()),
            (None, Some(s)) => (Audience::Staff, s.clone()),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "staff",
                    "one_recipient",
                    "give exactly one of client and staff, not both",
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "client",
                    "required",
                    "give exactly one of client and staff",
                ))
            }
        };
        let field = audience.as_str();
        check_id(field, &recipient_id)?;
        if let Some(k) = &input.idempotency_key {
            check_id("idempotency_key", k)?;
        }
        let t = self
            .notification_type(&tenant.id, &input.type_key)
            .await?
            .ok_or_else(|| {
                invalid(
                    "type",
                    "unknown_type",
                    format!("no notification type {:?}", input.type_key),
                )
            })?;
        if t.config.audience != audience {
            return Err(invalid(
                field,
                "wrong_audience",
                format!(
                    "type {} is for a {}, not a {field}",
                    t.key,
                    t.config.audience.as_str()
                ),
            ));
        }
        let recipient = self
            .store
            .get_recipient(&tenant.id, audience, &recipient_id)
            .await?
            .ok_or_else(|| {
                invalid(
                    field,
                    "unknown_recipient",
                    format!("no {field} {recipient_id:?}"),
                )
            })?;
        let integrations = self.integrations(&tenant.id).await?;
        let empty = serde_json::Map::new();
        let data = input.data.as_ref().unwrap_or(&empty);
        let mut channels = Vec::with_capacity(t.config.channels.len());
        let mut rendered = Vec::with_capacity(t.config.channels.len());
        for s in &t.config.channels {
            let integration = integrations.get(&s.channel);
            let routes = match integration {
                Some(i) => self
                    .providers
                    .get(&i.provider)
                    .map(|p| p.routes(s.channel, &i.settings))
                    .unwrap_or_else(|| vec![s.channel.as_str().to_string()]),
                None => vec![s.channel.as_str().to_string()],
            };
            let reach = if s.scenario == Scenario::Off {
                Reach::Unreachable {
                    reason: "off".into(),
                }
            } else {
                reach(s.channel, audience, &recipient, integration.is_some())
            };
            let text = if s.scenario == Scenario::Off {
                None
            } else {
                Some(herald_core::template::render(
                    &t.config, &t.key, s.channel, &recipient, data,
                )?)
            };
            rendered.push(text);
            channels.push(ChannelPlan {
                channel: s.channel,
                scenario: s.scenario,
                reach,
                routes,
                confirm: integration.map_or(s.channel.default_confirm(), |i| i.confirm),
                window_s: integration.map_or(s.channel.default_window_s(), |i| i.window_s),
            });
        }
        Ok(Planned {
            type_key: t.key.clone(),
            audience,
            recipient_id,
            recipient,
            plan: Plan {
                fallback_when: t.config.fallback_when,
                channels,
            },
            rendered,
        })
    }

    /// Accepts a trigger: plans it, stores it durably, wakes the workers.
    pub async fn trigger(&self, tenant: &Tenant, input: TriggerInput) -> Result<Triggered> {
        let planned = self.plan(tenant, &input).await?;
        // Absent data and `{}` are the same request.
        let mut canonical = input.clone();
        canonical.data.get_or_insert_with(Default::default);
        let body = serde_json::to_vec(&canonical)
            .map_err(|e| invalid("data", "invalid", e.to_string()))?;
        let n = NewNotification {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.id.clone(),
            type_key: planned.type_key,
            audience: planned.audience,
            recipient_id: planned.recipient_id,
            data: serde_json::Value::Object(input.data.unwrap_or_default()),
            idempotency_key: input.idempotency_key,
            request_sha256: hex::encode(Sha256::digest(&body)),
            plan: planned.plan,
            rendered: planned.rendered,
            created_at: now_ms(),
        };
        match self.store.accept_notification(n).await? {
            Accepted::Created(id) => {
                self.metrics.accepted();
                self.work.notify_one();
                Ok(Triggered::Created(id))
            }
            Accepted::Existing(id) => Ok(Triggered::Existing(id)),
            Accepted::Conflict(id) => Err(ServiceError::Conflict(format!(
                "idempotency_key was used for notification {id} with a different body"
            ))),
        }
    }

    /// The dry run of a trigger: the plan and the texts, nothing stored.
    pub async fn preview(
        &self,
        tenant: &Tenant,
        input: &TriggerInput,
    ) -> Result<(Planned, Vec<PreviewItem>)> {
        let planned = self.plan(tenant, input).await?;
        let items = preview(&planned.plan)
            .into_iter()
            .zip(planned.rendered.iter())
            .map(|(channel, r)| PreviewItem {
                channel,
                rendered: r.clone(),
            })
            .collect();
        Ok((planned, items))
    }

    /// Takes a provider's receipt (webhook or simulator) into the cascade.
    pub async fn ingest_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch> {
        let m = self.store.record_receipt(r).await?;
        if let ReceiptMatch::Recorded { late } = m {
            self.metrics.receipt(late);
            self.work.notify_one();
        }
        Ok(m)
    }
}

/// A field error for an unknown channel name in a path.
pub fn parse_channel(s: &str) -> Result<Channel> {
    Channel::parse(s).ok_or_else(|| ServiceError::NotFound(format!("channel {s:?}")))
}
