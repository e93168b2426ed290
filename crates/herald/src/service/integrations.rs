//! Integrations: a tenant's own and the operator's, their secrets (sealed
//! at rest, kept by a PUT that leaves them out), the configured clients
//! every send through an integration shares, test sends, and receipt
//! webhooks routed by hook id.

use super::{new_token, now_ms, App};
use crate::error::{invalid, Result, ServiceError};
use crate::providers::{
    Client, Configure, HookError, HookReply, HookRequest, Provider, SendReply, SendRequest,
};
use crate::secrets;
use herald_core::{Channel, Confirm, Rendered};
use herald_store::{HookedIntegration, IncomingReceipt, Integration, Owner, ReceiptMatch};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// An integration as the API receives it. Its settings may hold secrets in
/// the clear, so `Debug` shows only their names.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// Provider name.
    pub provider: String,
    /// Provider settings.
    #[serde(default)]
    pub settings: Option<Value>,
    /// Confirmation mode.
    #[serde(default)]
    pub confirm: Option<Confirm>,
    /// Window in seconds.
    #[serde(default)]
    pub window_s: Option<u32>,
    /// At most this many sends a second (0.01 to 10,000).
    #[serde(default)]
    pub max_per_second: Option<f64>,
    /// What one SMS segment costs through it (0 to 1,000, in the
    /// business's currency), giving each SMS attempt its cost.
    #[serde(default)]
    pub price_per_segment: Option<f64>,
}

impl std::fmt::Debug for IntegrationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .settings
            .as_ref()
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("IntegrationInput")
            .field("provider", &self.provider)
            .field("settings", &names)
            .field("confirm", &self.confirm)
            .field("window_s", &self.window_s)
            .field("max_per_second", &self.max_per_second)
            .field("price_per_segment", &self.price_per_segment)
            .finish()
    }
}

/// An integration resolved for sending: whose it is, and its client.
#[derive(Clone)]
pub struct Resolved {
    /// The integration as stored (secrets sealed).
    pub hooked: HookedIntegration,
    /// The client every send through it shares.
    pub client: Arc<dyn Client>,
}

/// What a receipt webhook call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    /// What the provider said, verified.
    pub reply: HookReply,
    /// Receipts that matched one of the integration's messages.
    pub recorded: usize,
}

/// Why a webhook call was not taken.
#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// No integration has that hook id.
    #[error("no webhook with that id")]
    UnknownHook,
    /// The provider refused the call.
    #[error(transparent)]
    Provider(#[from] HookError),
    /// Herald could not take it now.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A fresh random hook id (128 bits, hex).
fn new_hook_id() -> String {
    new_token("").chars().take(32).collect()
}

impl App {
    fn provider(&self, name: &str) -> Result<&Arc<dyn Provider>> {
        self.providers.get(name).ok_or_else(|| {
            invalid(
                "provider",
                "unknown_provider",
                format!(
                    "unknown provider {name:?}; known: {}",
                    self.providers.names().join(", ")
                ),
            )
        })
    }

    /// The public URL of an integration's receipt webhook.
    pub fn webhook_url(&self, hook_id: &str) -> String {
        format!(
            "{}/v1/hooks/{hook_id}",
            self.env.public_url.trim_end_matches('/')
        )
    }

    /// Builds an integration's client from its stored (sealed) settings.
    fn configure(&self, i: &Integration) -> std::result::Result<Arc<dyn Client>, String> {
        let provider = self
            .providers
            .get(&i.provider)
            .ok_or_else(|| format!("provider {} is not available in this build", i.provider))?;
        let settings = self
            .env
            .sealer
            .open_all(&i.settings)
            .map_err(|e| e.to_string())?;
        let url = self.webhook_url(&i.hook_id);
        provider
            .configure(&Configure {
                channel: i.channel,
                settings: &settings,
                hook_id: &i.hook_id,
                webhook_url: &url,
                tls: &self.env.tls,
                receipts: Some(self.pushed.clone()),
            })
            .map_err(|e| format!("the integration's settings are not usable: {e}"))
    }

    /// Creates or replaces a tenant's (or the operator's) integration of a
    /// channel. Secrets left out are kept (same provider), `null` clears
    /// one; the settings are checked by configuring a client from them.
    pub async fn put_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
        input: IntegrationInput,
    ) -> Result<Integration> {
        let provider = self.provider(&input.provider)?.clone();
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
        let given = input.settings.unwrap_or_else(|| Value::Object(Map::new()));
        let Value::Object(given) = given else {
            return Err(invalid(
                "settings",
                "wrong_type",
                "settings must be an object",
            ));
        };
        if let Some(r) = input.max_per_second {
            if !(0.01..=10_000.0).contains(&r) {
                return Err(invalid(
                    "max_per_second",
                    "out_of_range",
                    "max_per_second must be between 0.01 and 10000",
                ));
            }
        }
        if let Some(p) = input.price_per_segment {
            if !(0.0..=1_000.0).contains(&p) {
                return Err(invalid(
                    "price_per_segment",
                    "out_of_range",
                    "price_per_segment must be between 0 and 1000",
                ));
            }
        }
        if let Some(w) = input.window_s {
            if !(1..=259_200).contains(&w) {
                return Err(invalid(
                    "window_s",
                    "out_of_range",
                    "window_s must be between 1 and 259200",
                ));
            }
        }
        let existing = self
            .store
            .get_integration(owner, channel)
            .await?
            .filter(|e| e.provider == input.provider);
        let secret_names = provider.secrets();
        let mut stored = Map::new();
        // Secrets the PUT said something about (a value, `null`, "not set").
        let mut mentioned: Vec<String> = Vec::new();
        for (k, v) in given {
            if secret_names.contains(&k.as_str()) {
                // A GET's "set" sent back means "keep".
                if v.as_str() == Some(secrets::SET) {
                    continue;
                }
                mentioned.push(k.clone());
                if !v.is_null() && !secrets::is_placeholder(&v) {
                    stored.insert(k, self.env.sealer.seal(&v));
                }
            } else if !v.is_null() {
                // `null` counts as absent for an optional setting.
                stored.insert(k, v);
            }
        }
        if let Some(old) = existing.as_ref().and_then(|e| e.settings.as_object()) {
            for name in secret_names {
                if !mentioned.iter().any(|m| m == name) {
                    if let Some(v) = old.get(*name) {
                        stored.insert(name.to_string(), v.clone());
                    }
                }
            }
        }
        let integration = Integration {
            channel,
            provider: input.provider,
            settings: Value::Object(stored),
            confirm: input.confirm.unwrap_or(channel.default_confirm()),
            window_s: input.window_s.unwrap_or(channel.default_window_s()),
            updated_at: now_ms(),
            hook_id: existing
                .as_ref()
                .map(|e| e.hook_id.clone())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(new_hook_id),
            inherited: false,
            max_per_second: input.max_per_second,
            price_per_segment: input.price_per_segment,
        };
        let settings = self
            .env
            .sealer
            .open_all(&integration.settings)
            .map_err(|e| invalid("settings", "unreadable_secret", e.to_string()))?;
        let url = self.webhook_url(&integration.hook_id);
        let client = provider.configure(&Configure {
            channel,
            settings: &settings,
            hook_id: &integration.hook_id,
            webhook_url: &url,
            tls: &self.env.tls,
            receipts: Some(self.pushed.clone()),
        })?;
        self.store.put_integration(owner, &integration).await?;
        self.forget_integrations(owner, &integration.hook_id);
        self.clients.put(
            integration.hook_id.clone(),
            (integration.updated_at, client),
        );
        Ok(integration)
    }

    /// Removes a tenant's (or the operator's) integration. What was sent
    /// stays in the log; people's addresses and tokens are not touched.
    pub async fn delete_integration(&self, owner: Owner<'_>, channel: Channel) -> Result<()> {
        let Some(old) = self.store.get_integration(owner, channel).await? else {
            return Err(ServiceError::NotFound(format!(
                "an integration for the {channel} channel"
            )));
        };
        self.store.delete_integration(owner, channel).await?;
        self.forget_integrations(owner, &old.hook_id);
        Ok(())
    }

    /// Drops what is cached about an owner's integrations. The operator's
    /// are part of every tenant's view, so a change there clears them all.
    fn forget_integrations(&self, owner: Owner<'_>, hook_id: &str) {
        match owner {
            Owner::Tenant(t) => self.caches.integrations.forget(&t.to_string()),
            Owner::Operator => {
                self.caches.integrations.clear();
                self.caches.operator.clear();
            }
        }
        self.caches.hooks.forget(&hook_id.to_string());
    }

    /// The operator's integrations (cached).
    async fn operator_integrations(&self) -> Result<Arc<Vec<Integration>>> {
        if let Some(v) = self.caches.operator.get(&()) {
            return Ok(v);
        }
        let v = Arc::new(self.store.list_integrations(Owner::Operator).await?);
        self.caches.operator.put((), v.clone());
        Ok(v)
    }

    /// The integrations a tenant sends through, by channel: its own, and
    /// the operator's (`inherited`) for channels it has none of (cached).
    pub async fn integrations(&self, tenant_id: &str) -> Result<crate::cache::Integrations> {
        if let Some(i) = self.caches.integrations.get(&tenant_id.to_string()) {
            return Ok(i);
        }
        let mut all: std::collections::BTreeMap<Channel, Integration> = self
            .store
            .list_integrations(Owner::Tenant(tenant_id))
            .await?
            .into_iter()
            .map(|i| (i.channel, i))
            .collect();
        for op in self.operator_integrations().await?.iter() {
            all.entry(op.channel).or_insert_with(|| Integration {
                inherited: true,
                ..op.clone()
            });
        }
        let all = Arc::new(all);
        self.caches
            .integrations
            .put(tenant_id.to_string(), all.clone());
        Ok(all)
    }

    /// An integration as a GET shows it: secrets as "set" / "not set",
    /// the webhook URL for providers that call back, and whether it is
    /// the operator's.
    pub fn integration_view(&self, i: &Integration) -> Value {
        let names: &[&str] = self
            .providers
            .get(&i.provider)
            .map(|p| p.secrets())
            .unwrap_or(&[]);
        let mut v = crate::api::views::integration(i, secrets::redact(&i.settings, names));
        if let Some(obj) = v.as_object_mut() {
            let calls_back = self
                .providers
                .get(&i.provider)
                .is_some_and(|p| p.calls_back());
            if calls_back {
                obj.insert(
                    "webhook_url".into(),
                    Value::String(self.webhook_url(&i.hook_id)),
                );
            }
            obj.insert("inherited".into(), Value::Bool(i.inherited));
        }
        v
    }

    /// The integration behind a hook id with its client (cached; the
    /// client is rebuilt only when the integration changed).
    pub async fn resolve_hook(&self, hook_id: &str) -> Result<Option<Resolved>> {
        let key = hook_id.to_string();
        let hooked = match self.caches.hooks.get(&key) {
            Some(h) => h,
            None => {
                let h = self.store.integration_by_hook(hook_id).await?.map(Arc::new);
                self.caches.hooks.put(key.clone(), h.clone());
                h
            }
        };
        let Some(hooked) = hooked else {
            return Ok(None);
        };
        let version = hooked.integration.updated_at;
        let client = match self.clients.get(&key, version) {
            Some(c) => c,
            None => {
                let c = match self.configure(&hooked.integration) {
                    Ok(c) => c,
                    Err(e) => Arc::new(Unusable(e)),
                };
                self.clients.put(key, (version, c.clone()));
                c
            }
        };
        Ok(Some(Resolved {
            hooked: (*hooked).clone(),
            client,
        }))
    }

    /// Opens the links of every integration whose provider keeps one.
    pub async fn open_links(&self) {
        for (name, provider) in self.providers.iter() {
            if !provider.keeps_a_link() {
                continue;
            }
            let all = match self.store.integrations_of_provider(name).await {
                Ok(all) => all,
                Err(e) => {
                    tracing::warn!("listing the {name} integrations to open their links: {e}");
                    continue;
                }
            };
            for h in all {
                if let Ok(Some(r)) = self.resolve_hook(&h.integration.hook_id).await {
                    r.client.open().await;
                }
            }
        }
    }

    /// Sends one test message through the tenant's integration of a
    /// channel (its own, else the operator's) now.
    pub async fn test_integration(
        &self,
        tenant_id: &str,
        channel: Channel,
        to: &str,
    ) -> Result<SendReply> {
        let to = to.trim();
        if to.is_empty() || to.chars().count() > super::MAX_ID {
            return Err(invalid(
                "to",
                "invalid_address",
                "to must be an address, phone number or device token of 1 to 255 characters",
            ));
        }
        match channel {
            Channel::Email if herald_core::recipient::parse_email(to).is_none() => {
                return Err(invalid(
                    "to",
                    "invalid_email",
                    "to must be an e-mail address",
                ))
            }
            Channel::Sms if herald_core::recipient::parse_phone(to).is_none() => {
                return Err(invalid(
                    "to",
                    "invalid_phone",
                    "to must be a phone number in E.164 form (+15550001111)",
                ))
            }
            _ => {}
        }
        let all = self.integrations(tenant_id).await?;
        let Some(i) = all.get(&channel) else {
            return Err(ServiceError::NotFound(format!(
                "an integration for the {channel} channel"
            )));
        };
        let Some(r) = self.resolve_hook(&i.hook_id).await? else {
            return Err(ServiceError::NotFound(format!(
                "an integration for the {channel} channel"
            )));
        };
        let content = Rendered {
            subject: Some("Herald test message".into()),
            title: Some("Herald test".into()),
            body: format!("This is a test message from Herald through your {channel} integration."),
        };
        let key = format!("test-{}", uuid::Uuid::now_v7());
        let now = now_ms();
        let route = self
            .providers
            .get(&i.provider)
            .map(|p| p.routes(channel, &i.settings))
            .and_then(|r| r.into_iter().next())
            .map(|r| r.name)
            .unwrap_or_else(|| channel.as_str().to_string());
        let req = SendRequest {
            tenant_id,
            notification_id: "test",
            channel,
            route: &route,
            to,
            content: &content,
            idempotency_key: &key,
            deadline: now + 60_000,
            now,
        };
        Ok(crate::worker::send_bounded(r.client.as_ref(), &req, crate::worker::MAX_SEND).await)
    }

    /// Takes a provider's callback at `/v1/hooks/{hook id}`: the provider's
    /// client verifies and parses it; each receipt is matched only within
    /// the messages sent through this integration.
    pub async fn take_hook(
        &self,
        hook_id: &str,
        req: HookRequest,
    ) -> std::result::Result<HookOutcome, HookFailure> {
        let Some(r) = self.resolve_hook(hook_id).await? else {
            return Err(HookFailure::UnknownHook);
        };
        let reply = r.client.hook(&req).await?;
        let mut recorded = 0;
        for rc in &reply.receipts {
            let m = self
                .ingest_receipt(IncomingReceipt {
                    hook_id: hook_id.to_string(),
                    provider_message_id: Some(rc.message_id.clone()),
                    // Providers that echo the attempt's key as their id
                    // still match before the send's answer is recorded.
                    idempotency_key: Some(rc.message_id.clone()),
                    delivered: rc.delivered,
                    error: rc.error.clone(),
                    at: req.now,
                })
                .await?;
            if !matches!(m, ReceiptMatch::Unknown) {
                recorded += 1;
            }
        }
        Ok(HookOutcome { reply, recorded })
    }
}

/// The client of an integration whose settings no longer configure (a
/// secret sealed under another key, a provider missing from this build):
/// every send through it fails with the reason.
struct Unusable(String);

#[async_trait::async_trait]
impl Client for Unusable {
    async fn send(&self, _req: &SendRequest<'_>) -> SendReply {
        SendReply::Permanent {
            error: self.0.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_shows_no_setting_values_in_debug() {
        let input: IntegrationInput = serde_json::from_value(serde_json::json!({
            "provider": "smtp",
            "settings": {"host": "mail.example", "password": "hunter2"}
        }))
        .unwrap();
        let shown = format!("{input:?}");
        assert!(shown.contains("password"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
