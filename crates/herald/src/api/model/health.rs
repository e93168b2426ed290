//! `GET /healthz` and the receipt webhooks' acknowledgement.

use super::ErrorDetail;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether Herald's store answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The store answers.
    Ok,
    /// The store answers reads but refuses writes now (a full disk, a lock
    /// held by another process); writes answer 503 and are retried.
    Degraded,
    /// The store does not answer (503).
    Unavailable,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with a 503.
    pub status: HealthStatus,
    /// Whether writes go through now (absent when the store does not
    /// answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writable: Option<bool>,
    /// Why writes do not go through (only when degraded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it is unavailable (absent when `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// A provider's callback taken: how many receipts it carried and how many
/// were new (a repeat is recorded once; one for an unknown message id is
/// ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HookAck {
    /// Always `true`.
    pub ok: bool,
    /// Receipts in the callback.
    pub receipts: usize,
    /// Receipts recorded now (not seen before, for a message of this
    /// integration).
    pub recorded: usize,
}
