//! The cascade decision: a pure function from a notification's plan, the
//! facts recorded about its attempts, and the current time, to what happens
//! next. No clock, no I/O: restart after a crash is "call `decide` again".

use crate::channel::{Channel, Confirm, FallbackWhen, Millis, Outcome, Scenario, Status};
pub use crate::plan::*;
pub use crate::preview::{preview, PreviewChannel};
use crate::schedule::{Gate, Schedule};
use crate::verdict::{address_result, AddressResult};

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
