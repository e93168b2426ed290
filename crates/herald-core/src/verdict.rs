//! Verdicts inside one channel of the cascade: on one attempt (pending,
//! delivered, failed, unreachable, by its facts, its confirmation rule and
//! its window), and on one address over its routes.

use crate::channel::{Confirm, Millis};
use crate::plan::*;
use crate::schedule::Gate;

/// The verdict on one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Pending { until: Millis },
    Delivered(String),
    Failed(String),
    Unreachable(String),
}

fn attempt_verdict(att: &AttemptFacts, plan: &ChannelPlan, now: Millis) -> Verdict {
    let deadline = att.deadline(plan);
    let confirm = plan.confirm_of(&att.route);
    let window_s = plan.window_s_of(&att.route);
    // Only facts inside the window count: a late one is recorded (and shown
    // in the log) but never changes a verdict that was already final when
    // the window closed.
    let first_receipt = att
        .receipts
        .iter()
        .filter(|r| !att.is_late(plan, r.at))
        .min_by_key(|r| r.at);
    match &att.state {
        AttemptState::Refused {
            at,
            error,
            unreachable,
        } if *at < deadline => {
            // Only a messenger route can be "not there" for a number (it is
            // not on WhatsApp); a dead number on SMS itself, a dead token or
            // a 5xx from SMTP is a refusal at send time, a failure
            // (SPEC.md "Confirmation").
            let messenger = plan.route_kind(&att.route) == Some(RouteKind::Messenger);
            if *unreachable && messenger {
                Verdict::Unreachable(format!("not on {} ({error})", att.route))
            } else if *unreachable && plan.channel.is_push() {
                Verdict::Failed(format!("device token no longer registered ({error})"))
            } else if *unreachable {
                Verdict::Failed(format!("address not registered ({error})"))
            } else {
                Verdict::Failed(format!("rejected by the provider ({error})"))
            }
        }
        AttemptState::GaveUp { error, .. } => Verdict::Failed(format!(
            "provider unavailable until the window closed ({error})"
        )),
        AttemptState::Accepted { at } if confirm == Confirm::Accepted && *at < deadline => {
            Verdict::Delivered("accepted by the provider".into())
        }
        state => match first_receipt {
            Some(r) if r.delivered => Verdict::Delivered("delivery receipt".into()),
            // A receipt means the provider accepted the message; when
            // acceptance counts as delivered, a failure receipt that raced
            // ahead of the recorded acceptance does not make it failed
            // (it would be ignored had it arrived after the acceptance).
            Some(_) if confirm == Confirm::Accepted => {
                Verdict::Delivered("accepted by the provider (a failure receipt followed)".into())
            }
            Some(r) => Verdict::Failed(match &r.error {
                Some(e) => format!("failure receipt ({e})"),
                None => "failure receipt".into(),
            }),
            None if now >= deadline => Verdict::Failed(match state {
                AttemptState::Accepted { at } if *at >= deadline => {
                    format!("accepted only after the {window_s} s window")
                }
                AttemptState::Accepted { .. } => {
                    format!("no receipt within {window_s} s")
                }
                AttemptState::Refused { error, .. } => format!(
                    "no answer from the provider within {window_s} s (then refused: {error})"
                ),
                _ => format!("no answer from the provider within {window_s} s"),
            }),
            None => Verdict::Pending { until: deadline },
        },
    }
}

/// The outcome of one address over its routes.
pub(crate) enum AddressResult {
    Start(String),
    Pending {
        route: String,
        until: Millis,
    },
    Delivered {
        route: String,
        why: String,
    },
    Failed(String),
    Unreachable(String),
    /// The next route may not start now (scheduled, quiet hours, deadline,
    /// cancel); what was tried before it, if anything.
    Held {
        gate: Gate,
        before: Vec<String>,
    },
}

pub(crate) fn address_result(
    idx: usize,
    plan: &ChannelPlan,
    to: &str,
    attempts: &[&AttemptFacts],
    now: Millis,
    gate: &Gate,
) -> AddressResult {
    let mut failures: Vec<(String, bool)> = Vec::new();
    for route in plan.routes.iter().map(|r| &r.name) {
        let Some(att) = attempts
            .iter()
            .find(|a| a.channel_idx == idx && a.route == *route && a.to == to)
        else {
            return match gate {
                Gate::Open => AddressResult::Start(route.clone()),
                held => AddressResult::Held {
                    gate: held.clone(),
                    before: failures.into_iter().map(|(w, _)| w).collect(),
                },
            };
        };
        match attempt_verdict(att, plan, now) {
            Verdict::Pending { until } => {
                return AddressResult::Pending {
                    route: route.clone(),
                    until,
                }
            }
            Verdict::Delivered(why) => {
                return AddressResult::Delivered {
                    route: route.clone(),
                    why,
                }
            }
            Verdict::Failed(why) => failures.push((prefix_route(plan, route, why), false)),
            Verdict::Unreachable(why) => failures.push((prefix_route(plan, route, why), true)),
        }
    }
    let all_unreachable = failures.iter().all(|(_, u)| *u);
    let why = failures
        .into_iter()
        .map(|(w, _)| w)
        .collect::<Vec<_>>()
        .join("; then ");
    if all_unreachable {
        AddressResult::Unreachable(why)
    } else {
        AddressResult::Failed(why)
    }
}

fn prefix_route(plan: &ChannelPlan, route: &str, why: String) -> String {
    if plan.routes.len() > 1 {
        format!("{route}: {why}")
    } else {
        why
    }
}
