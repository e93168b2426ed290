//! `GET /v1/simulator/outbox`.

use super::Timestamp;
use herald_core::Channel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A message the tenant's simulator accepted or refused, once per
/// idempotency key, with the text as rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SimMessageView {
    /// The outbox entry's id (the `after=` cursor).
    pub id: String,
    /// The notification it belongs to.
    pub notification_id: String,
    /// The channel.
    pub channel: Channel,
    /// The route (`sms`, `whatsapp`, or the channel's name).
    pub route: String,
    /// Address, phone number or device token.
    pub to: String,
    /// E-mail subject.
    #[schema(required)]
    pub subject: Option<String>,
    /// Push title.
    #[schema(required)]
    pub title: Option<String>,
    /// The body.
    pub body: String,
    /// The attempt's idempotency key.
    pub idempotency_key: String,
    /// How many times Herald asked to send it (retries and repeats after a
    /// crash included).
    pub requests: u32,
    /// The outcome the simulator gave it (`delivered`, `failed`,
    /// `rejected`, `silent`, `unregistered`, `transient:N`, `late`).
    pub outcome: String,
    /// When the simulator first received it.
    pub received_at: Timestamp,
}

/// `{"messages": [...]}`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Outbox {
    /// The messages of this page.
    pub messages: Vec<SimMessageView>,
}
