//! The records of a business's setup: tenants, integrations and who owns
//! them, and the bound of sends in flight per integration.

use herald_core::{Channel, Confirm, Millis};
use serde::{Deserialize, Serialize};

/// A business using Herald.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: Millis,
}

/// A tenant's provider for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// The channel.
    pub channel: Channel,
    /// `simulator`, `smtp`, …
    pub provider: String,
    /// Provider settings, secrets included (never returned by the API).
    pub settings: serde_json::Value,
    /// What counts as delivered.
    pub confirm: Confirm,
    /// The confirmation window in seconds.
    pub window_s: u32,
    /// Last change.
    pub updated_at: Millis,
    /// The random id of its receipt webhook (`/v1/hooks/{hook_id}`).
    #[serde(default)]
    pub hook_id: String,
    /// At most this many sends a second through it (`None`: no bound).
    #[serde(default)]
    pub max_per_second: Option<f64>,
    /// What one SMS segment costs through it (`None`: not priced).
    #[serde(default)]
    pub price_per_segment: Option<f64>,
    /// Not the tenant's own: the operator's, which the tenant uses (never
    /// stored; set when a tenant's integrations are listed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inherited: bool,
}

/// Whose an integration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A tenant's own.
    Tenant(&'a str),
    /// The operator's, used by every tenant without its own.
    Operator,
}

/// An integration found by its hook id, with its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct HookedIntegration {
    /// The tenant whose it is; `None` for the operator's.
    pub tenant_id: Option<String>,
    /// The integration.
    pub integration: Integration,
}

/// How many sends each (tenant, channel) may still start in one claim:
/// keys at their bound are skipped, so one integration's backlog never
/// holds back another's due work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimBudget {
    /// The most sends in flight per (tenant, channel).
    pub per_key: usize,
    /// Sends in flight now, by (tenant, channel).
    pub in_flight: std::collections::HashMap<(String, Channel), usize>,
}

impl ClaimBudget {
    /// No bound per key (tests, tools).
    pub fn unbounded() -> ClaimBudget {
        ClaimBudget {
            per_key: usize::MAX,
            in_flight: Default::default(),
        }
    }

    /// How many more the key may start.
    pub fn remaining(&self, tenant_id: &str, channel: Channel) -> usize {
        let used = self
            .in_flight
            .get(&(tenant_id.to_string(), channel))
            .copied()
            .unwrap_or(0);
        self.per_key.saturating_sub(used)
    }

    /// The keys with nothing left.
    pub fn saturated(&self) -> impl Iterator<Item = &(String, Channel)> {
        self.in_flight
            .iter()
            .filter(|(_, n)| **n >= self.per_key)
            .map(|(k, _)| k)
    }
}
