//! The simulator: a provider for every channel that needs no credentials
//! and behaves like a real one outside Herald. Its memory is its own table
//! (so what it was asked survives a crash of Herald), it dedupes on the
//! attempt's idempotency key, and its receipts come back through the same
//! receipt path real providers' webhooks use.

use super::{Provider, SendReply, SendRequest};
use crate::service::{now_ms, App};
use async_trait::async_trait;
use herald_core::{Channel, FieldError, Millis};
use herald_store::{IncomingReceipt, SimAnswer, SimFinal, SimSend, Store};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// The most latency or receipt delay a simulator may be given.
const MAX_MS: u64 = 60_000;

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

fn parse_settings(settings: &serde_json::Value) -> Result<SimSettings, FieldError> {
    serde_path_to_error::deserialize::<_, SimSettings>(settings.clone())
        .map_err(|e| crate::json::field_error(&e, Some("settings")))
}

impl SimSettings {
    fn outcome_for(&self, route: &str, to: &str) -> SimOutcome {
        let name = self
            .outcomes
            .get(&format!("{route}:{to}"))
            .or_else(|| self.outcomes.get(to))
            .unwrap_or(&self.default);
        SimOutcome::parse(name).unwrap_or(SimOutcome::Delivered)
    }

    fn outcome_name(&self, route: &str, to: &str) -> String {
        self.outcomes
            .get(&format!("{route}:{to}"))
            .or_else(|| self.outcomes.get(to))
            .unwrap_or(&self.default)
            .clone()
    }
}

/// Parsed settings by (tenant, channel), with the version they were parsed from.
type SettingsCache = crate::cache::TtlMap<(String, Channel), (Millis, Arc<SimSettings>)>;

/// The simulator provider.
pub struct Simulator {
    store: Arc<dyn Store>,
    settings: SettingsCache,
    /// Wakes the receipt pump when a receipt was scheduled.
    pub receipts: Arc<Notify>,
}

impl Simulator {
    /// A simulator keeping its state in the store.
    pub fn new(store: Arc<dyn Store>) -> Simulator {
        Simulator {
            store,
            settings: SettingsCache::default(),
            receipts: Arc::new(Notify::new()),
        }
    }
}

#[async_trait]
impl Provider for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn supports(&self, _channel: Channel) -> bool {
        true
    }

    fn validate(&self, channel: Channel, settings: &serde_json::Value) -> Result<(), FieldError> {
        let s = parse_settings(settings)?;
        if SimOutcome::parse(&s.default).is_none() {
            return Err(FieldError::new(
                "settings.default",
                "invalid_outcome",
                "outcome must be one of delivered, failed, rejected, silent, unregistered, late, transient:N",
            ));
        }
        for (k, v) in &s.outcomes {
            if SimOutcome::parse(v).is_none() {
                return Err(FieldError::new(
                    format!("settings.outcomes.{k}"),
                    "invalid_outcome",
                    "outcome must be one of delivered, failed, rejected, silent, unregistered, late, transient:N",
                ));
            }
        }
        for (field, v) in [("latency_ms", s.latency_ms), ("receipt_ms", s.receipt_ms)] {
            if v > MAX_MS {
                return Err(FieldError::new(
                    format!("settings.{field}"),
                    "out_of_range",
                    format!("{field} must be between 0 and 60000"),
                ));
            }
        }
        if let Some(routes) = &s.routes {
            if channel != Channel::Sms {
                return Err(FieldError::new(
                    "settings.routes",
                    "not_for_channel",
                    "routes apply to the sms channel only",
                ));
            }
            if routes.is_empty() {
                return Err(FieldError::new(
                    "settings.routes",
                    "required",
                    "routes must name at least one route",
                ));
            }
            for (i, r) in routes.iter().enumerate() {
                let ok = !r.is_empty()
                    && r.len() <= 32
                    && r.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok || routes[..i].contains(r) {
                    return Err(FieldError::new(
                        format!("settings.routes[{i}]"),
                        "invalid_route",
                        "routes are distinct lowercase names such as whatsapp or sms",
                    ));
                }
            }
        }
        Ok(())
    }

    fn routes(&self, channel: Channel, settings: &serde_json::Value) -> Vec<String> {
        // Only the routes are read: this runs for every trigger.
        let routes = settings
            .get("routes")
            .and_then(|r| serde_json::from_value::<Vec<String>>(r.clone()).ok());
        match (channel, routes) {
            (Channel::Sms, Some(r)) if !r.is_empty() => r,
            _ => vec![channel.as_str().to_string()],
        }
    }

    async fn send(&self, req: SendRequest<'_>) -> SendReply {
        let key = (req.tenant_id.to_string(), req.channel);
        let s = match self.settings.get(&key) {
            Some((version, s)) if version == req.settings_version => s,
            _ => match parse_settings(req.settings) {
                Ok(s) => {
                    let s = Arc::new(s);
                    self.settings.put(key, (req.settings_version, s.clone()));
                    s
                }
                Err(e) => {
                    return SendReply::Permanent {
                        error: e.to_string(),
                    }
                }
            },
        };
        if s.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(s.latency_ms)).await;
        }
        let now = now_ms();
        let outcome = s.outcome_for(req.route, req.to);
        let receipt_at = |delivered: bool| Some((delivered, now + s.receipt_ms as Millis));
        let (transient_first, final_answer) = match outcome {
            SimOutcome::Delivered => (
                0,
                SimFinal::Accepted {
                    receipt: receipt_at(true),
                },
            ),
            SimOutcome::Failed => (
                0,
                SimFinal::Accepted {
                    receipt: receipt_at(false),
                },
            ),
            SimOutcome::Silent => (0, SimFinal::Accepted { receipt: None }),
            SimOutcome::Late => (
                0,
                SimFinal::Accepted {
                    receipt: Some((true, req.deadline + 1_000)),
                },
            ),
            SimOutcome::Transient(n) => (
                n,
                SimFinal::Accepted {
                    receipt: receipt_at(true),
                },
            ),
            SimOutcome::Rejected => (
                0,
                SimFinal::Refused {
                    unreachable: false,
                    error: "rejected by the simulator".into(),
                },
            ),
            SimOutcome::Unregistered => (
                0,
                SimFinal::Refused {
                    unreachable: true,
                    error: "address or device token is not registered".into(),
                },
            ),
        };
        let answer = self
            .store
            .sim_send(SimSend {
                tenant_id: req.tenant_id.to_string(),
                notification_id: req.notification_id.to_string(),
                channel: req.channel,
                route: req.route.to_string(),
                to: req.to.to_string(),
                content: req.content.clone(),
                idempotency_key: req.idempotency_key.to_string(),
                outcome: s.outcome_name(req.route, req.to),
                transient_first,
                final_answer,
                record: s.record,
                at: now,
            })
            .await;
        match answer {
            Ok(SimAnswer::Transient { requests }) => SendReply::Transient {
                error: format!("simulated transient error (request {requests})"),
                retry_after_ms: None,
            },
            Ok(SimAnswer::Accepted { message_id }) => {
                self.receipts.notify_one();
                SendReply::Accepted {
                    message_id: Some(message_id),
                }
            }
            Ok(SimAnswer::Refused {
                unreachable: true,
                error,
            }) => SendReply::RecipientInvalid { error },
            Ok(SimAnswer::Refused { error, .. }) => SendReply::Permanent { error },
            // The simulator's own storage failing looks like an outage of the provider.
            Err(e) => SendReply::Transient {
                error: format!("simulator unavailable: {e}"),
                retry_after_ms: None,
            },
        }
    }
}

/// Hands the simulator's due receipts to the service, as a provider's
/// webhooks would, until the service is dropped. Receipts are handed over
/// before they are marked sent, so a crash repeats one rather than losing
/// it (receipts are idempotent).
pub async fn run_receipts(
    app: Weak<App>,
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(app) = app.upgrade() else { return };
        let now = now_ms();
        match store.sim_due_receipts(now, 512).await {
            Ok(due) if !due.is_empty() => {
                // Handed over all at once, as a provider's webhooks would
                // arrive, so the store commits them together.
                let mut set = tokio::task::JoinSet::new();
                for r in due {
                    let app = app.clone();
                    set.spawn(async move {
                        let receipt = IncomingReceipt {
                            provider_message_id: Some(r.id.clone()),
                            idempotency_key: Some(r.idempotency_key.clone()),
                            delivered: r.delivered,
                            error: (!r.delivered).then(|| "simulated failure receipt".to_string()),
                            at: now,
                        };
                        match app.ingest_receipt(receipt).await {
                            Ok(_) => Some(r.id),
                            Err(e) => {
                                tracing::warn!("simulator receipt {}: {e}", r.id);
                                None
                            }
                        }
                    });
                }
                let mut done = Vec::with_capacity(set.len());
                let mut failed = false;
                while let Some(r) = set.join_next().await {
                    match r {
                        Ok(Some(id)) => done.push(id),
                        _ => failed = true,
                    }
                }
                if let Err(e) = store.sim_mark_sent(&done).await {
                    tracing::warn!("simulator receipts: {e}");
                    failed = true;
                }
                if failed {
                    // Undelivered receipts stay due; try again shortly.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("simulator receipts: {e}"),
        }
        drop(app);
        let next = store.sim_next_receipt_at().await.ok().flatten();
        let wait = next.map_or(1_000, |t| (t - now_ms()).clamp(1, 1_000));
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
#[path = "simulator_tests.rs"]
mod tests;
