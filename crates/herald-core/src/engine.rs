//! The cascade decision: a pure function from a notification's plan, the
//! facts recorded about its attempts, and the current time, to what happens
//! next. No clock, no I/O: restart after a crash is "call `decide` again".

use crate::channel::{Channel, Confirm, FallbackWhen, Millis, Outcome, Scenario, Status};
pub use crate::plan::*;
pub use crate::preview::{preview, PreviewChannel};
use crate::schedule::{Gate, Schedule};

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
enum AddressResult {
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

fn address_result(
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

/// Evaluates a channel that the scenario says to send.
fn evaluate_sending(
    idx: usize,
    plan: &ChannelPlan,
    attempts: &[&AttemptFacts],
    now: Millis,
    schedule: &Schedule,
    start: &mut Vec<StartAttempt>,
    wake: &mut Option<Millis>,
) -> ChannelVerdict {
    let gate = schedule.gate(plan.channel, now);
    let addresses = match &plan.reach {
        Reach::Unreachable { reason } => {
            return verdict(Outcome::Unreachable, format!("unreachable: {reason}"))
        }
        Reach::Addresses { to } if to.is_empty() => {
            return verdict(Outcome::Unreachable, "unreachable: no address".into())
        }
        Reach::Addresses { to } => to,
    };
    let unit = if plan.channel.is_push() {
        "device"
    } else {
        "address"
    };
    let n = addresses.len();
    let mut delivered = Vec::new();
    let mut pending = 0usize;
    // The route the first waiting address waits on says what it waits for.
    let mut waiting_on: Option<String> = None;
    let mut failed = Vec::new();
    let mut unreachable = Vec::new();
    let mut expired = Vec::new();
    let mut cancelled = Vec::new();
    let mut held_why: Option<String> = None;
    for to in addresses {
        match address_result(idx, plan, to, attempts, now, &gate) {
            AddressResult::Start(route) => {
                start.push(StartAttempt {
                    channel_idx: idx,
                    route,
                    to: to.clone(),
                });
                pending += 1;
            }
            AddressResult::Pending { route, until } => {
                *wake = Some(wake.map_or(until, |w| w.min(until)));
                waiting_on.get_or_insert(route);
                pending += 1;
            }
            AddressResult::Delivered { route, why } => delivered.push((route, why)),
            AddressResult::Failed(why) => failed.push(why),
            AddressResult::Unreachable(why) => unreachable.push(why),
            AddressResult::Held { gate, before } => {
                let then = |why: String| {
                    if before.is_empty() {
                        why
                    } else {
                        format!("{}; then {why}", before.join("; then "))
                    }
                };
                match gate {
                    Gate::Open => {}
                    Gate::Wait { until, why } => {
                        *wake = Some(wake.map_or(until, |w| w.min(until)));
                        held_why.get_or_insert(why);
                        pending += 1;
                    }
                    Gate::Cancelled(why) => cancelled.push(then(why)),
                    Gate::Expired(why) => expired.push(then(why)),
                    Gate::Quiet(why) => unreachable.push(then(why)),
                }
            }
        }
    }
    if let Some((route, why)) = delivered.first() {
        let via = if plan.routes.len() > 1 {
            format!(" via {route}")
        } else {
            String::new()
        };
        let of = if n > 1 {
            format!(" ({} of {n} {unit}s)", delivered.len())
        } else {
            String::new()
        };
        return verdict(Outcome::Delivered, format!("delivered{via}: {why}{of}"));
    }
    if pending > 0 && waiting_on.is_none() {
        if let Some(why) = held_why {
            return verdict(Outcome::Pending, why);
        }
    }
    if pending > 0 {
        let route = waiting_on.as_deref().unwrap_or_default();
        let what = if plan.confirm_of(route) == Confirm::Receipt {
            format!(
                "waiting for a delivery receipt (window {} s)",
                plan.window_s_of(route)
            )
        } else {
            "sending".to_string()
        };
        let to = if n > 1 {
            format!(" to {n} {unit}s")
        } else {
            String::new()
        };
        return verdict(Outcome::Pending, format!("{what}{to}"));
    }
    if failed.is_empty() && !expired.is_empty() {
        return verdict(Outcome::Expired, all_of(n, unit, "expired", expired));
    }
    if failed.is_empty() && !cancelled.is_empty() {
        return verdict(Outcome::Cancelled, all_of(n, unit, "cancelled", cancelled));
    }
    if failed.is_empty() {
        let why = unreachable.join("; ");
        let why = if n > 1 {
            format!("all {n} {unit}s unreachable ({why})")
        } else {
            why
        };
        return verdict(Outcome::Unreachable, format!("unreachable: {why}"));
    }
    let mut all = failed;
    all.extend(unreachable);
    all.extend(expired);
    all.extend(cancelled);
    let why = if n > 1 {
        format!("all {n} {unit}s failed ({})", all.join("; "))
    } else {
        all.join("; ")
    };
    verdict(Outcome::Failed, format!("failed: {why}"))
}

/// "all 2 addresses expired (…)", or the one address's reason.
fn all_of(n: usize, unit: &str, what: &str, why: Vec<String>) -> String {
    if n > 1 {
        format!("all {n} {unit}s {what} ({})", why.join("; "))
    } else {
        why.join("; ")
    }
}

fn verdict(outcome: Outcome, reason: String) -> ChannelVerdict {
    ChannelVerdict { outcome, reason }
}

fn names(list: &[Channel]) -> String {
    let names: Vec<&str> = list.iter().map(|c| c.as_str()).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].to_string(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// The cascade decision. Given the plan, every attempt recorded so far and
/// the current time, it says each channel's outcome, which attempts to start
/// now, when to look again, and the notification's status.
pub fn decide(plan: &Plan, attempts: &[AttemptFacts], now: Millis) -> Decision {
    decide_scheduled(plan, &Schedule::default(), attempts, now)
}

/// The cascade decision for a notification with a schedule: nothing starts
/// before its send time, at or after its deadline, inside its quiet hours
/// (`defer` waits, `skip` makes the channel unreachable) or after a cancel;
/// what already went out is still carried to its outcome.
pub fn decide_scheduled(
    plan: &Plan,
    schedule: &Schedule,
    attempts: &[AttemptFacts],
    now: Millis,
) -> Decision {
    let mut verdicts: Vec<ChannelVerdict> = Vec::with_capacity(plan.channels.len());
    let mut start = Vec::new();
    let mut wake = None;
    for (idx, ch) in plan.channels.iter().enumerate() {
        let mine: Vec<&AttemptFacts> = attempts.iter().filter(|a| a.channel_idx == idx).collect();
        let v = match ch.scenario {
            Scenario::Off => verdict(
                Outcome::Skipped,
                "skipped: off for this notification type".into(),
            ),
            Scenario::Always => {
                evaluate_sending(idx, ch, &mine, now, schedule, &mut start, &mut wake)
            }
            Scenario::Fallback => {
                let earlier: Vec<(Channel, Outcome)> = plan.channels[..idx]
                    .iter()
                    .zip(&verdicts)
                    .filter(|(c, _)| c.scenario != Scenario::Off)
                    .map(|(c, v)| (c.channel, v.outcome))
                    .collect();
                let waiting: Vec<Channel> = earlier
                    .iter()
                    .filter(|(_, o)| *o == Outcome::Pending)
                    .map(|(c, _)| *c)
                    .collect();
                let delivered: Vec<Channel> = earlier
                    .iter()
                    .filter(|(_, o)| *o == Outcome::Delivered)
                    .map(|(c, _)| *c)
                    .collect();
                let any_failed = earlier
                    .iter()
                    .any(|(_, o)| matches!(o, Outcome::Failed | Outcome::Unreachable));
                let stopped = match schedule.gate(ch.channel, now) {
                    Gate::Cancelled(why) => Some((Outcome::Cancelled, why)),
                    Gate::Expired(why) => Some((Outcome::Expired, why)),
                    _ => None,
                };
                if let (false, true, Some((outcome, why))) =
                    (waiting.is_empty(), mine.is_empty(), stopped)
                {
                    // Waiting for earlier channels that can no longer
                    // make it go: it will never be sent.
                    verdict(outcome, why)
                } else if !waiting.is_empty() {
                    let cond = match plan.fallback_when {
                        FallbackWhen::NoneDelivered => "do not deliver",
                        FallbackWhen::AnyFailed => "fail",
                    };
                    verdict(
                        Outcome::Pending,
                        format!(
                            "waiting: sent only if earlier channels {cond} (waiting for {})",
                            names(&waiting)
                        ),
                    )
                } else {
                    match plan.fallback_when {
                        FallbackWhen::NoneDelivered if !delivered.is_empty() => verdict(
                            Outcome::Skipped,
                            format!("skipped: {} delivered before it", names(&delivered)),
                        ),
                        FallbackWhen::AnyFailed if !any_failed => verdict(
                            Outcome::Skipped,
                            "skipped: no earlier channel failed".into(),
                        ),
                        _ => evaluate_sending(idx, ch, &mine, now, schedule, &mut start, &mut wake),
                    }
                }
            }
        };
        verdicts.push(v);
    }
    let any = |o: Outcome| verdicts.iter().any(|v| v.outcome == o);
    let status = if any(Outcome::Pending) && attempts.is_empty() && schedule.is_before_send_at(now)
    {
        Status::Scheduled
    } else if any(Outcome::Pending) {
        Status::Pending
    } else if any(Outcome::Delivered) {
        Status::Delivered
    } else if schedule.cancelled_at.is_some() {
        Status::Cancelled
    } else if any(Outcome::Expired) {
        Status::Expired
    } else {
        Status::Failed
    };
    Decision {
        channels: verdicts,
        start,
        wake_at: if matches!(status, Status::Pending | Status::Scheduled) {
            wake
        } else {
            None
        },
        status,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
