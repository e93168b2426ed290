//! The simulator: a provider for every channel that needs no credentials
//! and behaves like a real one outside Herald. Its memory is its own table
//! (so what it was asked survives a crash of Herald), it dedupes on the
//! attempt's idempotency key, and its receipts come back through the same
//! receipt path real providers' webhooks use.

mod receipts;
mod settings;

pub use receipts::{hand_over_due, run_receipts, Handed};
pub use settings::{SimOutcome, SimSettings};

use super::{Client, Configure, Provider, SendReply, SendRequest};
use async_trait::async_trait;
use herald_core::{Channel, FieldError, Millis, Route, RouteKind};
use herald_store::{SimAnswer, SimFinal, SimSend, SimStore};
use settings::MAX_MS;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The simulator provider.
pub struct Simulator {
    /// `None` when the store keeps no simulator state: then no simulator
    /// integration can be configured.
    store: Option<Arc<dyn SimStore>>,
    /// Wakes the receipt pump when a receipt was scheduled.
    pub receipts: Arc<Notify>,
}

impl Simulator {
    /// A simulator keeping its state in the store's `SimStore`.
    pub fn new(store: Option<Arc<dyn SimStore>>) -> Simulator {
        Simulator {
            store,
            receipts: Arc::new(Notify::new()),
        }
    }
}

/// Checks parsed settings against the channel.
fn validate(channel: Channel, s: &SimSettings) -> Result<(), FieldError> {
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
            if herald_core::known_route(r).is_none() {
                return Err(FieldError::new(
                    format!("settings.routes[{i}]"),
                    "unknown_route",
                    format!(
                        "unknown route {r:?}; known: {}",
                        herald_core::known_route_names()
                    ),
                ));
            }
            if routes[..i].contains(r) {
                return Err(FieldError::new(
                    format!("settings.routes[{i}]"),
                    "invalid_route",
                    format!("route {r} is named twice; routes are tried once each, in order"),
                ));
            }
        }
    }
    Ok(())
}

impl Provider for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn supports(&self, _channel: Channel) -> bool {
        true
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[]
    }

    fn configure(&self, cfg: &Configure<'_>) -> Result<Arc<dyn Client>, FieldError> {
        let settings: SimSettings = super::parse_settings(cfg.settings, &[])?;
        validate(cfg.channel, &settings)?;
        let store = self.store.clone().ok_or_else(|| {
            FieldError::new(
                "provider",
                "unavailable",
                "the simulator keeps its outbox in the store, and this database backend has none",
            )
        })?;
        Ok(Arc::new(SimClient {
            store,
            receipts: self.receipts.clone(),
            hook_id: cfg.hook_id.to_string(),
            settings,
        }))
    }

    fn routes(&self, channel: Channel, settings: &serde_json::Value) -> Vec<Route> {
        // Only the routes are read: this runs for every trigger.
        let routes = settings
            .get("routes")
            .and_then(|r| serde_json::from_value::<Vec<String>>(r.clone()).ok());
        match (channel, routes) {
            // The simulator's `sms` route is SMS; any other is a messenger.
            (Channel::Sms, Some(r)) if !r.is_empty() => r
                .into_iter()
                .map(|name| {
                    herald_core::known_route(&name)
                        .unwrap_or_else(|| Route::new(name, RouteKind::Messenger))
                })
                .collect(),
            (Channel::Sms, _) => vec![Route::new("sms", RouteKind::Sms)],
            _ => vec![Route::direct(channel)],
        }
    }
}

/// A configured simulator integration.
struct SimClient {
    store: Arc<dyn SimStore>,
    receipts: Arc<Notify>,
    hook_id: String,
    settings: SimSettings,
}

#[async_trait]
impl Client for SimClient {
    async fn send(&self, req: &SendRequest<'_>) -> SendReply {
        let s = &self.settings;
        if s.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(s.latency_ms)).await;
        }
        // The sender's clock, so a test's clock moves receipts too.
        let now = req.now;
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
                hook_id: self.hook_id.clone(),
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

#[cfg(test)]
mod tests;
