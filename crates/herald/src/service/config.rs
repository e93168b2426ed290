//! Configuration a tenant keeps: integrations, notification types, clients
//! and staff. Each is checked here before it is stored.

use super::{check_id, now_ms, App};
use crate::error::{invalid, Result};
use herald_core::{Audience, Channel, Confirm, Recipient, TypeConfig};
use herald_store::{Integration, NotificationType, Tenant};
use serde::Deserialize;

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

impl App {
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
}
