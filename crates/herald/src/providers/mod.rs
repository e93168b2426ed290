//! Providers: the edge where a message leaves Herald. Each provider speaks
//! its service's wire format and classifies its own failures into the few
//! kinds the cascade understands.

pub mod simulator;

use async_trait::async_trait;
use herald_core::{Channel, FieldError, Millis, Rendered};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One message to send.
#[derive(Debug, Clone)]
pub struct SendRequest<'a> {
    /// Whose.
    pub tenant_id: &'a str,
    /// The notification.
    pub notification_id: &'a str,
    /// The channel.
    pub channel: Channel,
    /// The route (`sms`, `whatsapp`, or the channel's name).
    pub route: &'a str,
    /// Address or device token.
    pub to: &'a str,
    /// The text.
    pub content: &'a Rendered,
    /// The attempt's fixed key; providers that honour keys dedupe on it.
    pub idempotency_key: &'a str,
    /// The integration's settings.
    pub settings: &'a serde_json::Value,
    /// When the integration was last changed: with tenant and channel, a
    /// key under which a provider may keep its parsed settings.
    pub settings_version: Millis,
    /// End of the attempt's confirmation window.
    pub deadline: Millis,
    /// Now.
    pub now: Millis,
}

/// A provider's answer, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendReply {
    /// Accepted, with the provider's message id when it gives one.
    Accepted {
        /// Provider message id.
        message_id: Option<String>,
    },
    /// Try again later (timeouts, 429, 5xx, SMTP 4xx).
    Transient {
        /// What happened.
        error: String,
        /// The provider's `Retry-After`, if any.
        retry_after_ms: Option<Millis>,
    },
    /// Refused for good (rejected, SMTP 5xx).
    Permanent {
        /// What happened.
        error: String,
    },
    /// The address or device token is dead, or not on this route.
    RecipientInvalid {
        /// What happened.
        error: String,
    },
}

/// A provider of one or more channels.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// Its name in integration settings (`simulator`, `smtp`, …).
    fn name(&self) -> &'static str;
    /// Whether it can serve a channel.
    fn supports(&self, channel: Channel) -> bool;
    /// Checks an integration's settings; the error names the field
    /// (`settings.latency_ms`).
    fn validate(&self, channel: Channel, settings: &serde_json::Value) -> Result<(), FieldError>;
    /// The settings as shown by a GET: secrets replaced by "set"/"not set".
    fn redact(&self, settings: &serde_json::Value) -> serde_json::Value {
        settings.clone()
    }
    /// The routes of an SMS/messenger integration, in order.
    fn routes(&self, channel: Channel, _settings: &serde_json::Value) -> Vec<String> {
        vec![channel.as_str().to_string()]
    }
    /// Sends one message. Never panics; every failure is classified.
    async fn send(&self, req: SendRequest<'_>) -> SendReply;
}

/// The providers Herald knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    by_name: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl Registry {
    /// Adds a provider.
    pub fn with(mut self, p: Arc<dyn Provider>) -> Self {
        self.by_name.insert(p.name(), p);
        self
    }

    /// Looks a provider up.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.by_name.get(name)
    }

    /// The names, for error messages.
    pub fn names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }
}
