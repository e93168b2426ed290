//! The simulator's settings and the outcomes it can play.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The most latency or receipt delay a simulator may be given.
pub(super) const MAX_MS: u64 = 60_000;

fn default_outcome() -> String {
    "delivered".into()
}

fn yes() -> bool {
    true
}

/// The simulator's integration settings (API.md "The simulator provider").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    /// The outcome of an address with no entry in `outcomes`.
    #[serde(default = "default_outcome")]
    pub default: String,
    /// Outcomes by address, phone or token (`whatsapp:+1555…` for one route).
    #[serde(default)]
    pub outcomes: BTreeMap<String, String>,
    /// How long each send request takes.
    #[serde(default)]
    pub latency_ms: u64,
    /// How long after acceptance a receipt comes.
    #[serde(default)]
    pub receipt_ms: u64,
    /// SMS channel: routes in order.
    #[serde(default)]
    pub routes: Option<Vec<String>>,
    /// Keep an outbox.
    #[serde(default = "yes")]
    pub record: bool,
}

/// An outcome the simulator can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimOutcome {
    /// Accepted, then a delivery receipt.
    Delivered,
    /// Accepted, then a failure receipt.
    Failed,
    /// Refused at send.
    Rejected,
    /// Accepted, no receipt ever.
    Silent,
    /// Refused: dead address or token.
    Unregistered,
    /// The first N requests fail transiently, then delivered.
    Transient(u32),
    /// Accepted, delivery receipt one second after the window.
    Late,
}

impl SimOutcome {
    /// Parses an outcome name.
    pub fn parse(s: &str) -> Option<SimOutcome> {
        Some(match s {
            "delivered" => SimOutcome::Delivered,
            "failed" => SimOutcome::Failed,
            "rejected" => SimOutcome::Rejected,
            "silent" => SimOutcome::Silent,
            "unregistered" => SimOutcome::Unregistered,
            "late" => SimOutcome::Late,
            other => {
                let n = other.strip_prefix("transient:")?.parse::<u32>().ok()?;
                SimOutcome::Transient(n)
            }
        })
    }
}

#[cfg(test)]
pub(super) fn parse_settings(
    settings: &serde_json::Value,
) -> Result<SimSettings, herald_core::FieldError> {
    super::super::parse_settings(settings, &[])
}

impl SimSettings {
    pub(super) fn outcome_for(&self, route: &str, to: &str) -> SimOutcome {
        let name = self
            .outcomes
            .get(&format!("{route}:{to}"))
            .or_else(|| self.outcomes.get(to))
            .unwrap_or(&self.default);
        SimOutcome::parse(name).unwrap_or(SimOutcome::Delivered)
    }

    pub(super) fn outcome_name(&self, route: &str, to: &str) -> String {
        self.outcomes
            .get(&format!("{route}:{to}"))
            .or_else(|| self.outcomes.get(to))
            .unwrap_or(&self.default)
            .clone()
    }
}
