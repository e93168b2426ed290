//! Integrations: a tenant's own and the operator's, their secrets (sealed
//! at rest, kept by a PUT that leaves them out), their clients configured,
//! and their views. Resolving one by hook id for a send or a receipt
//! webhook is `hook_clients`.

pub use super::integration_input::IntegrationInput;
use super::integration_input::{check_limits, settings_object};
use super::{new_token, now_ms, App};
use crate::error::{invalid, Result, ServiceError};
use crate::providers::{Client, Configure, Provider};
use crate::secrets;
use herald_core::Channel;
use herald_store::{Integration, Owner};
use serde_json::{Map, Value};
use std::sync::Arc;

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
    pub(super) fn configure(
        &self,
        i: &Integration,
    ) -> std::result::Result<Arc<dyn Client>, String> {
        if i.provider == super::chain::CHAIN {
            return self.chain_client(i).map_err(|e| match e {
                Unconfigured::Secret(e) => e.to_string(),
                Unconfigured::Settings(e) => {
                    format!("the integration's settings are not usable: {e}")
                }
            });
        }
        let provider = self
            .providers
            .get(&i.provider)
            .ok_or_else(|| format!("provider {} is not available in this build", i.provider))?;
        match self.client_of(provider.as_ref(), i) {
            Ok(c) => Ok(c),
            Err(Unconfigured::Secret(e)) => Err(e.to_string()),
            Err(Unconfigured::Settings(e)) => {
                Err(format!("the integration's settings are not usable: {e}"))
            }
        }
    }

    /// Opens an integration's sealed settings and has its provider build
    /// the client: the one way a client is made.
    pub(super) fn client_of(
        &self,
        provider: &dyn Provider,
        i: &Integration,
    ) -> std::result::Result<Arc<dyn Client>, Unconfigured> {
        self.configure_provider(provider, i.channel, &i.settings, &i.hook_id, &i.hook_id)
    }

    /// Has a provider build a client from sealed settings. Receipts it
    /// pushes carry `hook_id` (whose messages they are matched against);
    /// its callbacks come to the webhook of `webhook_id`.
    pub(super) fn configure_provider(
        &self,
        provider: &dyn Provider,
        channel: Channel,
        sealed: &Value,
        hook_id: &str,
        webhook_id: &str,
    ) -> std::result::Result<Arc<dyn Client>, Unconfigured> {
        let settings = self
            .env
            .sealer
            .open_all(sealed)
            .map_err(Unconfigured::Secret)?;
        let url = self.webhook_url(webhook_id);
        provider
            .configure(&Configure {
                channel,
                settings: &settings,
                hook_id,
                webhook_url: &url,
                tls: &self.env.tls,
                receipts: Some(self.pushed.clone()),
            })
            .map_err(Unconfigured::Settings)
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
        check_limits(&input)?;
        let name = match (&input.provider, &input.routes) {
            (None, Some(_)) => return self.put_chain(owner, channel, input).await,
            // A GET of a chain sent back.
            (Some(p), Some(_)) if p == super::chain::CHAIN => {
                return self.put_chain(owner, channel, input).await
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "routes",
                    "provider_and_routes",
                    "give either provider (with its settings) or routes (a chain of providers), not both",
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "provider",
                    "missing_field",
                    "provider is required (or routes, for a chain of providers on the sms channel)",
                ))
            }
            (Some(name), None) => name.clone(),
        };
        let provider = self.provider(&name)?.clone();
        if !provider.supports(channel) {
            return Err(invalid(
                "provider",
                "provider_not_for_channel",
                format!("provider {name} cannot serve the {channel} channel"),
            ));
        }
        let given = settings_object(input.settings, "settings")?;
        let existing = self
            .store
            .get_integration(owner, channel)
            .await?
            .filter(|e| e.provider == name);
        let stored = self.merge_settings(
            given,
            provider.secrets(),
            existing.as_ref().and_then(|e| e.settings.as_object()),
        );
        let integration = Integration {
            channel,
            provider: name,
            settings: Value::Object(stored),
            confirm: input.confirm.unwrap_or(channel.default_confirm()),
            window_s: input.window_s.unwrap_or(channel.default_window_s()),
            updated_at: now_ms(),
            hook_id: kept_hook_id(existing.as_ref()),
            inherited: false,
            max_per_second: input.max_per_second,
            price_per_segment: input.price_per_segment,
        };
        let client = match self.client_of(provider.as_ref(), &integration) {
            Ok(c) => c,
            Err(Unconfigured::Settings(e)) => return Err(e.into()),
            Err(Unconfigured::Secret(e)) => {
                return Err(invalid("settings", "unreadable_secret", e.to_string()))
            }
        };
        self.save_integration(owner, integration, client).await
    }

    /// Stores an integration whose client was just built from it, and
    /// puts that client in place of the old one.
    pub(super) async fn save_integration(
        &self,
        owner: Owner<'_>,
        integration: Integration,
        client: Arc<dyn Client>,
    ) -> Result<Integration> {
        self.store.put_integration(owner, &integration).await?;
        self.forget_integrations(owner, &integration.hook_id);
        self.clients.put(
            integration.hook_id.clone(),
            (integration.updated_at, client),
        );
        Ok(integration)
    }

    /// The settings to store from a PUT's: secrets sealed, a secret the
    /// PUT left out (or sent back as "set") kept from `old`, `null` clearing
    /// one, `null` meaning absent for the rest.
    pub(super) fn merge_settings(
        &self,
        given: Map<String, Value>,
        secret_names: &[&str],
        old: Option<&Map<String, Value>>,
    ) -> Map<String, Value> {
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
        if let Some(old) = old {
            for name in secret_names {
                if !mentioned.iter().any(|m| m == name) {
                    if let Some(v) = old.get(*name) {
                        stored.insert(name.to_string(), v.clone());
                    }
                }
            }
        }
        stored
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
    pub fn integration_model(&self, i: &Integration) -> crate::api::model::IntegrationView {
        let names: &[&str] = self
            .providers
            .get(&i.provider)
            .map(|p| p.secrets())
            .unwrap_or(&[]);
        let is_chain = i.provider == super::chain::CHAIN;
        let shown = if is_chain {
            Value::Object(Map::new())
        } else {
            secrets::redact(&i.settings, names)
        };
        let mut v = crate::api::views::integration(i, shown);
        if is_chain {
            v.routes = Some(self.chain_routes_view(i));
        }
        let calls_back = self
            .providers
            .get(&i.provider)
            .is_some_and(|p| p.calls_back());
        if calls_back {
            v.webhook_url = Some(self.webhook_url(&i.hook_id));
        }
        v
    }

    /// [`App::integration_model`] as a JSON value, as the console reads it.
    pub fn integration_view(&self, i: &Integration) -> Value {
        serde_json::to_value(self.integration_model(i)).unwrap_or(Value::Null)
    }
}

/// The hook id an integration keeps across PUTs (a new one the first time).
pub(super) fn kept_hook_id(existing: Option<&Integration>) -> String {
    existing
        .map(|e| e.hook_id.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(new_hook_id)
}

/// Why an integration's client could not be made.
pub(super) enum Unconfigured {
    /// A sealed secret does not open with this key.
    Secret(crate::secrets::SecretError),
    /// The provider refused the settings.
    Settings(herald_core::FieldError),
}
