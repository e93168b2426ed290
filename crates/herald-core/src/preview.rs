//! The dry run: how a plan reads before anything is sent.

use crate::channel::{Channel, FallbackWhen, Scenario};
use crate::plan::{Plan, Reach};
use serde::{Deserialize, Serialize};

/// One channel of a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreviewChannel {
    /// The channel.
    pub channel: Channel,
    /// Its scenario.
    pub scenario: Scenario,
    /// `send`, `send_if_earlier_fail`, `unreachable` or `skipped`.
    pub action: String,
    /// The addresses it would send to.
    pub to: Vec<String>,
    /// The routes tried in order.
    pub routes: Vec<String>,
    /// Why, for a support agent.
    pub reason: String,
}

/// The plan as a person reads it before anything is sent.
pub fn preview(plan: &Plan) -> Vec<PreviewChannel> {
    plan.channels
        .iter()
        .map(|ch| {
            let (action, to, reason) = match (ch.scenario, &ch.reach) {
                (Scenario::Off, _) => (
                    "skipped",
                    vec![],
                    "skipped: off for this notification type".to_string(),
                ),
                (_, Reach::Addresses { to }) if to.is_empty() => {
                    ("unreachable", vec![], "unreachable: no address".to_string())
                }
                (_, Reach::Unreachable { reason }) => {
                    let when = if ch.scenario == Scenario::Fallback {
                        " (would only be needed if earlier channels fail)"
                    } else {
                        ""
                    };
                    (
                        "unreachable",
                        vec![],
                        format!("unreachable: {reason}{when}"),
                    )
                }
                (Scenario::Always, Reach::Addresses { to }) => (
                    "send",
                    to.clone(),
                    format!("would send to {}", to.join(", ")),
                ),
                (Scenario::Fallback, Reach::Addresses { to }) => {
                    let cond = match plan.fallback_when {
                        FallbackWhen::NoneDelivered => "no earlier channel delivers",
                        FallbackWhen::AnyFailed => "an earlier channel fails",
                    };
                    (
                        "send_if_earlier_fail",
                        to.clone(),
                        format!(
                            "skipped unless {cond}; then would send to {}",
                            to.join(", ")
                        ),
                    )
                }
            };
            PreviewChannel {
                channel: ch.channel,
                scenario: ch.scenario,
                action: action.to_string(),
                to,
                routes: ch.route_names(),
                reason,
            }
        })
        .collect()
}
