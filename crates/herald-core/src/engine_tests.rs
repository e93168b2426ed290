//! Tests of the cascade decision: one table per rule of SPEC.md, the seed
//! article's example walked through step by step, `preview()`, and property
//! tests that run random plans against a random world.

use super::*;
use crate::channel::{Audience, Outcome as O, Status as St};
use crate::config::{ChannelSetting, TypeConfig};
use crate::schedule::{QuietHours, QuietMode, Schedule};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use std::collections::BTreeSet;

const SEC: Millis = 1_000;
const EMAIL: &str = "ana@example.com";
const PHONE: &str = "+15550001111";

// ---------------------------------------------------------------- builders

fn reach_to(to: &[&str]) -> Reach {
    Reach::Addresses {
        to: to.iter().map(|s| s.to_string()).collect(),
    }
}

/// A channel with the integration defaults of SPEC.md (e-mail and push:
/// accepted, 300 s; SMS: receipt, 600 s) and one route named after it.
fn chan(channel: Channel, scenario: Scenario, to: &[&str]) -> ChannelPlan {
    ChannelPlan {
        channel,
        scenario,
        reach: reach_to(to),
        routes: vec![channel.as_str().into()],
        confirm: channel.default_confirm(),
        window_s: channel.default_window_s(),
    }
}

fn email(scenario: Scenario) -> ChannelPlan {
    chan(Channel::Email, scenario, &[EMAIL])
}

fn sms(scenario: Scenario) -> ChannelPlan {
    chan(Channel::Sms, scenario, &[PHONE])
}

fn push(channel: Channel, scenario: Scenario, tokens: &[&str]) -> ChannelPlan {
    chan(channel, scenario, tokens)
}

fn unreach(channel: Channel, scenario: Scenario, reason: &str) -> ChannelPlan {
    ChannelPlan {
        reach: Reach::Unreachable {
            reason: reason.into(),
        },
        ..chan(channel, scenario, &[])
    }
}

fn with_routes(mut c: ChannelPlan, routes: &[&str]) -> ChannelPlan {
    c.routes = routes.iter().map(|s| Route::from(*s)).collect();
    c
}

fn with_confirm(mut c: ChannelPlan, confirm: Confirm, window_s: u32) -> ChannelPlan {
    c.confirm = confirm;
    c.window_s = window_s;
    c
}

fn plan(channels: Vec<ChannelPlan>) -> Plan {
    Plan {
        fallback_when: FallbackWhen::NoneDelivered,
        channels,
    }
}

fn plan_any(channels: Vec<ChannelPlan>) -> Plan {
    Plan {
        fallback_when: FallbackWhen::AnyFailed,
        channels,
    }
}

fn open() -> AttemptState {
    AttemptState::Open
}

fn acc(at: Millis) -> AttemptState {
    AttemptState::Accepted { at }
}

fn refused(at: Millis) -> AttemptState {
    AttemptState::Refused {
        at,
        error: "rejected".into(),
        unreachable: false,
    }
}

fn dead(at: Millis) -> AttemptState {
    AttemptState::Refused {
        at,
        error: "unregistered".into(),
        unreachable: true,
    }
}

fn gave_up(at: Millis) -> AttemptState {
    AttemptState::GaveUp {
        at,
        error: "HTTP 503".into(),
    }
}

fn rcpt(delivered: bool, at: Millis) -> ReceiptFact {
    ReceiptFact {
        delivered,
        at,
        error: (!delivered).then(|| "undelivered".to_string()),
    }
}

/// An attempt on the channel's first route to its first address.
fn att(p: &Plan, idx: usize, created_at: Millis, state: AttemptState) -> AttemptFacts {
    let c = &p.channels[idx];
    let to = match &c.reach {
        Reach::Addresses { to } => to[0].clone(),
        Reach::Unreachable { .. } => panic!("channel {idx} has no address"),
    };
    AttemptFacts {
        channel_idx: idx,
        route: c.routes[0].name.clone(),
        to,
        created_at,
        state,
        receipts: vec![],
    }
}

/// An attempt on a given route and address.
fn att_to(
    idx: usize,
    route: &str,
    to: &str,
    created_at: Millis,
    state: AttemptState,
) -> AttemptFacts {
    AttemptFacts {
        channel_idx: idx,
        route: route.into(),
        to: to.into(),
        created_at,
        state,
        receipts: vec![],
    }
}

fn with_receipts(mut a: AttemptFacts, receipts: Vec<ReceiptFact>) -> AttemptFacts {
    a.receipts = receipts;
    a
}

fn outcomes(d: &Decision) -> Vec<O> {
    d.channels.iter().map(|v| v.outcome).collect()
}

fn starts(d: &Decision) -> Vec<(usize, String, String)> {
    d.start
        .iter()
        .map(|s| (s.channel_idx, s.route.clone(), s.to.clone()))
        .collect()
}

// ------------------------------------------------------------ the tables

/// One row: the facts at `now`, and everything `decide` must say.
struct Case {
    name: &'static str,
    plan: Plan,
    attempts: Vec<AttemptFacts>,
    now: Millis,
    outcomes: Vec<O>,
    start: Vec<(usize, &'static str, &'static str)>,
    status: St,
    wake_at: Option<Millis>,
    /// (channel index, words its reason must contain)
    reasons: Vec<(usize, &'static str)>,
}

fn run(cases: Vec<Case>) {
    run_scheduled(
        cases
            .into_iter()
            .map(|c| (Schedule::default(), c))
            .collect(),
    )
}

/// Runs cases, each with the schedule it is decided under.
fn run_scheduled(cases: Vec<(Schedule, Case)>) {
    let mut failures = Vec::new();
    for (schedule, c) in &cases {
        let d = decide_scheduled(&c.plan, schedule, &c.attempts, c.now);
        let want_start: Vec<(usize, String, String)> = c
            .start
            .iter()
            .map(|(i, r, t)| (*i, r.to_string(), t.to_string()))
            .collect();
        let mut wrong = Vec::new();
        if outcomes(&d) != c.outcomes {
            wrong.push(format!(
                "outcomes {:?}, want {:?}",
                outcomes(&d),
                c.outcomes
            ));
        }
        if starts(&d) != want_start {
            wrong.push(format!("start {:?}, want {want_start:?}", starts(&d)));
        }
        if d.status != c.status {
            wrong.push(format!("status {:?}, want {:?}", d.status, c.status));
        }
        if d.wake_at != c.wake_at {
            wrong.push(format!("wake_at {:?}, want {:?}", d.wake_at, c.wake_at));
        }
        for (i, words) in &c.reasons {
            let reason = &d.channels[*i].reason;
            if !reason.contains(words) {
                wrong.push(format!(
                    "reason of channel {i} is {reason:?}, want it to contain {words:?}"
                ));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!("{}:\n    {}", c.name, wrong.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn off_is_skipped() {
    use Scenario::{Always as A, Off};
    let p1 = plan(vec![email(Off), sms(A)]);
    let p2 = plan(vec![
        unreach(Channel::Email, Off, "client has no e-mail address"),
        sms(A),
    ]);
    let p3 = plan(vec![email(Off)]);
    let p4 = plan(vec![email(A), sms(Off)]);
    run(vec![
        Case {
            name: "an off channel is skipped and never started",
            plan: p1,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Skipped, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "off")],
        },
        Case {
            name: "an off channel that is also unreachable is skipped, not unreachable",
            plan: p2,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Skipped, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "off")],
        },
        Case {
            name: "a type with only off channels is final at once, failed",
            plan: p3,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Skipped],
            start: vec![],
            status: St::Failed,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "an off channel after a failed one is still skipped",
            plan: p4.clone(),
            attempts: vec![att(&p4, 0, 0, refused(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Skipped],
            start: vec![],
            status: St::Failed,
            wake_at: None,
            reasons: vec![(1, "off")],
        },
    ]);
}

#[test]
fn always_sends_immediately_whatever_the_others_do() {
    use Scenario::Always as A;
    let all = plan(vec![
        email(A),
        push(Channel::Aunio, A, &["tok-a"]),
        push(Channel::BrandedApp, A, &["tok-b"]),
        sms(A),
    ]);
    let two = plan(vec![email(A), sms(A)]);
    run(vec![
        Case {
            name: "every always channel starts at the first decision",
            plan: all,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Pending; 4],
            start: vec![
                (0, "email", EMAIL),
                (1, "aunio", "tok-a"),
                (2, "branded_app", "tok-b"),
                (3, "sms", PHONE),
            ],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "always sends after an earlier channel delivered",
            plan: two.clone(),
            attempts: vec![att(&two, 0, 0, acc(SEC))],
            now: 2 * SEC,
            outcomes: vec![O::Delivered, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "always sends after an earlier channel failed",
            plan: two.clone(),
            attempts: vec![att(&two, 0, 0, refused(SEC))],
            now: 2 * SEC,
            outcomes: vec![O::Failed, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "always does not wait for an earlier pending channel",
            plan: two.clone(),
            attempts: vec![att(&two, 0, 0, open())],
            now: SEC,
            outcomes: vec![O::Pending, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![],
        },
        Case {
            name: "an always channel already started is not started again",
            plan: two.clone(),
            attempts: vec![att(&two, 0, 0, open()), att(&two, 1, 0, acc(SEC))],
            now: 2 * SEC,
            outcomes: vec![O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![],
        },
    ]);
}

#[test]
fn fallback_waits_for_every_enabled_earlier_channel() {
    use Scenario::{Always as A, Fallback as F, Off};
    let p1 = plan(vec![email(A), sms(F)]);
    let p2 = plan(vec![
        email(A),
        push(Channel::Aunio, A, &["tok-a"]),
        push(Channel::BrandedApp, F, &["tok-b"]),
    ]);
    let p3 = plan(vec![
        email(A),
        push(Channel::Aunio, Off, &["tok-a"]),
        sms(F),
    ]);
    let p4 = plan(vec![
        email(A),
        push(Channel::BrandedApp, F, &["tok-b"]),
        sms(F),
    ]);
    run(vec![
        Case {
            name: "fallback is pending while the earlier channel is pending",
            plan: p1.clone(),
            attempts: vec![att(&p1, 0, 0, open())],
            now: 10 * SEC,
            outcomes: vec![O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![(1, "waiting for email")],
        },
        Case {
            name: "fallback is not started at the first decision",
            plan: p1.clone(),
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Pending, O::Pending],
            start: vec![(0, "email", EMAIL)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(1, "waiting")],
        },
        Case {
            name: "fallback waits for every earlier channel, not only the one before",
            plan: p2.clone(),
            attempts: vec![att(&p2, 0, 0, refused(SEC)), att(&p2, 1, 0, open())],
            now: 2 * SEC,
            outcomes: vec![O::Failed, O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![(2, "waiting for aunio")],
        },
        Case {
            name: "an off earlier channel does not hold the fallback back",
            plan: p3.clone(),
            attempts: vec![att(&p3, 0, 0, refused(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Skipped, O::Pending],
            start: vec![(2, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "a fallback after a fallback waits for it",
            plan: p4.clone(),
            attempts: vec![att(&p4, 0, 0, refused(SEC)), att(&p4, 1, SEC, open())],
            now: 2 * SEC,
            outcomes: vec![O::Failed, O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(301 * SEC),
            reasons: vec![(2, "waiting for branded_app")],
        },
    ]);
}

#[test]
fn none_delivered_sends_the_fallback_only_when_nothing_got_through() {
    use Scenario::{Always as A, Fallback as F};
    let p1 = plan(vec![email(A), sms(F)]);
    let p2 = plan(vec![email(A), push(Channel::Aunio, A, &["tok-a"]), sms(F)]);
    let p3 = plan(vec![
        email(A),
        push(Channel::Aunio, A, &["tok-a"]),
        push(Channel::BrandedApp, F, &["tok-b"]),
        sms(F),
    ]);
    run(vec![
        Case {
            name: "skipped when e-mail delivered, naming it",
            plan: p1.clone(),
            attempts: vec![att(&p1, 0, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(1, "email delivered before it")],
        },
        Case {
            name: "sent when e-mail failed",
            plan: p1.clone(),
            attempts: vec![att(&p1, 0, 0, refused(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "skipped naming every channel that delivered",
            plan: p2.clone(),
            attempts: vec![att(&p2, 0, 0, acc(SEC)), att(&p2, 1, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Delivered, O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(2, "email and aunio delivered before it")],
        },
        Case {
            name: "skipped when one earlier failed but another delivered",
            plan: p2.clone(),
            attempts: vec![att(&p2, 0, 0, refused(SEC)), att(&p2, 1, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(2, "aunio delivered before it")],
        },
        Case {
            name: "a skipped earlier fallback does not count as delivered",
            plan: p3.clone(),
            attempts: vec![
                att(&p3, 0, 0, refused(SEC)),
                att(&p3, 1, 0, refused(SEC)),
                att(&p3, 2, SEC, acc(2 * SEC)),
            ],
            now: 2 * SEC,
            outcomes: vec![O::Failed, O::Failed, O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(3, "branded_app delivered before it")],
        },
    ]);
}

#[test]
fn any_failed_sends_the_fallback_when_some_earlier_channel_failed() {
    use Scenario::{Always as A, Fallback as F};
    let p = plan_any(vec![email(A), push(Channel::Aunio, A, &["tok-a"]), sms(F)]);
    let pu = plan_any(vec![
        email(A),
        unreach(Channel::Aunio, A, "client has no Aunio app installed"),
        sms(F),
    ]);
    run(vec![
        Case {
            name: "sent when one failed although another delivered",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, refused(SEC)), att(&p, 1, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Delivered, O::Pending],
            start: vec![(2, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "an unreachable earlier channel counts as failed",
            plan: pu.clone(),
            attempts: vec![att(&pu, 0, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Delivered, O::Unreachable, O::Pending],
            start: vec![(2, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "skipped when every earlier channel delivered",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, acc(SEC)), att(&p, 1, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Delivered, O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(2, "no earlier channel failed")],
        },
        Case {
            name: "waits even when one earlier channel already failed",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, refused(SEC)), att(&p, 1, 0, open())],
            now: SEC,
            outcomes: vec![O::Failed, O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![(2, "waiting for aunio")],
        },
    ]);
}

#[test]
fn unreachable_counts_as_not_delivered_and_the_cascade_moves_on() {
    use Scenario::{Always as A, Fallback as F};
    let p1 = plan(vec![
        unreach(Channel::Email, A, "client has no e-mail address"),
        sms(F),
    ]);
    let p2 = plan(vec![chan(Channel::Email, A, &[]), sms(F)]);
    let p3 = plan(vec![
        unreach(Channel::Email, A, "client has no e-mail address"),
        unreach(Channel::Sms, F, "client has no phone number"),
    ]);
    run(vec![
        Case {
            name: "an unreachable channel is final at once and the fallback starts",
            plan: p1,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Unreachable, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "unreachable: client has no e-mail address")],
        },
        Case {
            name: "an empty address list is unreachable",
            plan: p2,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Unreachable, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "no address")],
        },
        Case {
            name: "when everything is unreachable the notification failed",
            plan: p3,
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Unreachable, O::Unreachable],
            start: vec![],
            status: St::Failed,
            wake_at: None,
            reasons: vec![(1, "no phone number")],
        },
    ]);
}

#[test]
fn a_fallback_not_needed_is_skipped_even_when_unreachable() {
    use Scenario::{Always as A, Fallback as F};
    let branded = || {
        unreach(
            Channel::BrandedApp,
            F,
            "client has no branded app installed",
        )
    };
    let p = plan(vec![email(A), branded()]);
    let pa = plan_any(vec![email(A), branded()]);
    run(vec![
        Case {
            name: "none_delivered: not needed and unreachable is skipped",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(1, "email delivered before it")],
        },
        Case {
            name: "any_failed: not needed and unreachable is skipped",
            plan: pa.clone(),
            attempts: vec![att(&pa, 0, 0, acc(SEC))],
            now: SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(1, "skipped")],
        },
        Case {
            name: "needed and unreachable is unreachable",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, refused(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Unreachable],
            start: vec![],
            status: St::Failed,
            wake_at: None,
            reasons: vec![(1, "no branded app installed")],
        },
        Case {
            name: "not yet known to be needed and unreachable is pending",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, open())],
            now: SEC,
            outcomes: vec![O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![(1, "waiting")],
        },
    ]);
}

#[test]
fn confirm_accepted_counts_acceptance_as_delivered() {
    use Scenario::{Always as A, Fallback as F};
    let p = plan(vec![email(A), sms(F)]);
    let bounce = |a: AttemptFacts, at| with_receipts(a, vec![rcpt(false, at)]);
    run(vec![
        Case {
            name: "acceptance is delivered at once, long before the window ends",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, acc(2 * SEC))],
            now: 2 * SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![(0, "accepted by the provider")],
        },
        Case {
            name: "a failure receipt after the acceptance does not reopen the cascade",
            plan: p.clone(),
            attempts: vec![bounce(att(&p, 0, 0, acc(2 * SEC)), 60 * SEC)],
            now: 61 * SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "a failure receipt racing ahead of the recorded acceptance still means accepted",
            plan: p.clone(),
            attempts: vec![bounce(att(&p, 0, 0, open()), SEC)],
            now: 2 * SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "the same race, once the acceptance is recorded, is still delivered",
            plan: p.clone(),
            attempts: vec![bounce(att(&p, 0, 0, acc(3 * SEC)), SEC)],
            now: 3 * SEC,
            outcomes: vec![O::Delivered, O::Skipped],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "an unanswered accepted-channel attempt is pending until its window ends",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, open())],
            now: 300 * SEC - 1,
            outcomes: vec![O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(300 * SEC),
            reasons: vec![(0, "sending")],
        },
        Case {
            name: "no answer when the window ends is failed, and the fallback starts",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, open())],
            now: 300 * SEC,
            outcomes: vec![O::Failed, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "no answer from the provider within 300 s")],
        },
        Case {
            name: "an acceptance after the window is failed",
            plan: p.clone(),
            attempts: vec![att(&p, 0, 0, acc(301 * SEC))],
            now: 301 * SEC,
            outcomes: vec![O::Failed, O::Pending],
            start: vec![(1, "sms", PHONE)],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "accepted only after the 300 s window")],
        },
    ]);
}

#[test]
fn confirm_receipt_waits_for_a_receipt_within_the_window() {
    use Scenario::Always as A;
    let p = plan(vec![sms(A)]);
    let sent = |receipts: Vec<ReceiptFact>| with_receipts(att(&p, 0, 0, acc(SEC)), receipts);
    let pe = plan(vec![with_confirm(email(A), Confirm::Receipt, 120)]);
    let ps = plan(vec![with_confirm(sms(A), Confirm::Receipt, 30)]);
    let one = |name, attempts, now, outcome, status, wake_at, reason| Case {
        name,
        plan: p.clone(),
        attempts,
        now,
        outcomes: vec![outcome],
        start: vec![],
        status,
        wake_at,
        reasons: vec![(0, reason)],
    };
    run(vec![
        one(
            "accepted but no receipt yet is pending until the window ends",
            vec![sent(vec![])],
            100 * SEC,
            O::Pending,
            St::Pending,
            Some(600 * SEC),
            "waiting for a delivery receipt (window 600 s)",
        ),
        one(
            "a delivery receipt delivers",
            vec![sent(vec![rcpt(true, 30 * SEC)])],
            30 * SEC,
            O::Delivered,
            St::Delivered,
            None,
            "delivery receipt",
        ),
        one(
            "a failure receipt fails",
            vec![sent(vec![rcpt(false, 30 * SEC)])],
            30 * SEC,
            O::Failed,
            St::Failed,
            None,
            "failure receipt (undelivered)",
        ),
        one(
            "no receipt by the deadline fails",
            vec![sent(vec![])],
            600 * SEC,
            O::Failed,
            St::Failed,
            None,
            "no receipt within 600 s",
        ),
        one(
            "a late delivery receipt does not change the failed outcome",
            vec![sent(vec![rcpt(true, 650 * SEC)])],
            700 * SEC,
            O::Failed,
            St::Failed,
            None,
            "no receipt within 600 s",
        ),
        one(
            "a receipt stamped exactly at the deadline is late",
            vec![sent(vec![rcpt(true, 600 * SEC)])],
            600 * SEC,
            O::Failed,
            St::Failed,
            None,
            "no receipt within 600 s",
        ),
        one(
            "a receipt a millisecond inside the window counts",
            vec![sent(vec![rcpt(true, 600 * SEC - 1)])],
            700 * SEC,
            O::Delivered,
            St::Delivered,
            None,
            "delivery receipt",
        ),
        one(
            "the first receipt in the window decides",
            vec![sent(vec![rcpt(true, 10 * SEC), rcpt(false, 20 * SEC)])],
            30 * SEC,
            O::Delivered,
            St::Delivered,
            None,
            "delivery receipt",
        ),
        one(
            "a receipt racing ahead of the acceptance counts",
            vec![with_receipts(att(&p, 0, 0, open()), vec![rcpt(true, SEC)])],
            SEC,
            O::Delivered,
            St::Delivered,
            None,
            "delivery receipt",
        ),
        Case {
            name: "receipt confirmation on e-mail ignores the acceptance",
            plan: pe.clone(),
            attempts: vec![att(&pe, 0, 0, acc(SEC))],
            now: 60 * SEC,
            outcomes: vec![O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(120 * SEC),
            reasons: vec![(0, "window 120 s")],
        },
        Case {
            name: "the integration's own window is used",
            plan: ps.clone(),
            attempts: vec![att(&ps, 0, 0, acc(SEC))],
            now: 30 * SEC,
            outcomes: vec![O::Failed],
            start: vec![],
            status: St::Failed,
            wake_at: None,
            reasons: vec![(0, "no receipt within 30 s")],
        },
    ]);
}

#[test]
fn refusal_and_give_up_are_failed_at_once() {
    use Scenario::Always as A;
    let ps = plan(vec![sms(A)]);
    let pe = plan(vec![email(A)]);
    let pp = plan(vec![push(Channel::Aunio, A, &["tok-a"])]);
    let one = |name, p: &Plan, state, now, reason| Case {
        name,
        plan: p.clone(),
        attempts: vec![att(p, 0, 0, state)],
        now,
        outcomes: vec![O::Failed],
        start: vec![],
        status: St::Failed,
        wake_at: None,
        reasons: vec![(0, reason)],
    };
    run(vec![
        one(
            "a refusal on a receipt channel fails at once, not at the deadline",
            &ps,
            refused(SEC),
            SEC,
            "rejected by the provider (rejected)",
        ),
        one(
            "a refusal on an accepted channel fails at once",
            &pe,
            refused(SEC),
            SEC,
            "rejected by the provider",
        ),
        one(
            "a dead push token is a refusal: failed at once",
            &pp,
            dead(SEC),
            SEC,
            "no longer registered",
        ),
        one(
            "an e-mail address refused as invalid is failed",
            &pe,
            dead(SEC),
            SEC,
            "address not registered (unregistered)",
        ),
        one(
            "giving up after transient errors is failed",
            &pe,
            gave_up(300 * SEC),
            300 * SEC,
            "provider unavailable until the window closed (HTTP 503)",
        ),
        one(
            "giving up before the deadline is failed at once",
            &ps,
            gave_up(10 * SEC),
            10 * SEC,
            "provider unavailable",
        ),
        one(
            "a refusal recorded after the window is failed, not unreachable",
            &ps,
            dead(601 * SEC),
            601 * SEC,
            "no answer from the provider within 600 s",
        ),
    ]);
}

#[test]
fn push_sends_to_every_device() {
    use Scenario::Always as A;
    let p = plan(vec![push(Channel::Aunio, A, &["t1", "t2"])]);
    let two = |s1, s2| {
        vec![
            att_to(0, "aunio", "t1", 0, s1),
            att_to(0, "aunio", "t2", 0, s2),
        ]
    };
    let one = |name, attempts, outcome, status, wake_at, reason| Case {
        name,
        plan: p.clone(),
        attempts,
        now: 2 * SEC,
        outcomes: vec![outcome],
        start: vec![],
        status,
        wake_at,
        reasons: vec![(0, reason)],
    };
    run(vec![
        Case {
            name: "one attempt per device token",
            plan: p.clone(),
            attempts: vec![],
            now: 0,
            outcomes: vec![O::Pending],
            start: vec![(0, "aunio", "t1"), (0, "aunio", "t2")],
            status: St::Pending,
            wake_at: None,
            reasons: vec![(0, "to 2 devices")],
        },
        one(
            "delivered when one device delivered and the other failed",
            two(refused(SEC), acc(SEC)),
            O::Delivered,
            St::Delivered,
            None,
            "(1 of 2 devices)",
        ),
        one(
            "delivered when one device delivered and the other is still pending",
            two(acc(SEC), open()),
            O::Delivered,
            St::Delivered,
            None,
            "delivered",
        ),
        one(
            "pending while one failed and the other is pending",
            two(refused(SEC), open()),
            O::Pending,
            St::Pending,
            Some(300 * SEC),
            "sending",
        ),
        one(
            "failed when all devices failed",
            two(refused(SEC), dead(SEC)),
            O::Failed,
            St::Failed,
            None,
            "all 2 devices failed",
        ),
    ]);
}

#[test]
fn sms_routes_are_tried_in_order() {
    use Scenario::Always as A;
    let p = plan(vec![with_routes(sms(A), &["whatsapp", "sms"])]);
    let wa = |state, receipts| with_receipts(att_to(0, "whatsapp", PHONE, 0, state), receipts);
    let sm =
        |created, state, receipts| with_receipts(att_to(0, "sms", PHONE, created, state), receipts);
    let case = |name, attempts, now, outcome, start, status, wake_at, reasons| Case {
        name,
        plan: p.clone(),
        attempts,
        now,
        outcomes: vec![outcome],
        start,
        status,
        wake_at,
        reasons,
    };
    run(vec![
        case(
            "the messenger route goes first, alone",
            vec![],
            0,
            O::Pending,
            vec![(0, "whatsapp", PHONE)],
            St::Pending,
            None,
            vec![],
        ),
        case(
            "the sms route waits while the messenger is pending",
            vec![wa(acc(SEC), vec![])],
            100 * SEC,
            O::Pending,
            vec![],
            St::Pending,
            Some(600 * SEC),
            vec![],
        ),
        case(
            "the sms route starts after a messenger failure receipt",
            vec![wa(acc(SEC), vec![rcpt(false, 50 * SEC)])],
            50 * SEC,
            O::Pending,
            vec![(0, "sms", PHONE)],
            St::Pending,
            None,
            vec![],
        ),
        case(
            "the sms route starts when the number is not on the messenger",
            vec![wa(dead(SEC), vec![])],
            SEC,
            O::Pending,
            vec![(0, "sms", PHONE)],
            St::Pending,
            None,
            vec![],
        ),
        case(
            "the sms route starts after a messenger refusal",
            vec![wa(refused(SEC), vec![])],
            SEC,
            O::Pending,
            vec![(0, "sms", PHONE)],
            St::Pending,
            None,
            vec![],
        ),
        case(
            "the sms route starts when the messenger timed out",
            vec![wa(acc(SEC), vec![])],
            600 * SEC,
            O::Pending,
            vec![(0, "sms", PHONE)],
            St::Pending,
            None,
            vec![],
        ),
        case(
            "the sms route has a window of its own, from its own creation",
            vec![wa(acc(SEC), vec![]), sm(600 * SEC, acc(601 * SEC), vec![])],
            1_000 * SEC,
            O::Pending,
            vec![],
            St::Pending,
            Some(1_200 * SEC),
            vec![],
        ),
        case(
            "a late messenger receipt does not stop the sms route",
            vec![
                wa(acc(SEC), vec![rcpt(true, 700 * SEC)]),
                sm(600 * SEC, acc(601 * SEC), vec![]),
            ],
            700 * SEC,
            O::Pending,
            vec![],
            St::Pending,
            Some(1_200 * SEC),
            vec![],
        ),
        case(
            "both routes timed out: failed, the reason shows every route",
            vec![wa(acc(SEC), vec![]), sm(600 * SEC, acc(601 * SEC), vec![])],
            1_200 * SEC,
            O::Failed,
            vec![],
            St::Failed,
            None,
            vec![
                (0, "whatsapp: no receipt within 600 s"),
                (0, "sms: no receipt within 600 s"),
            ],
        ),
        case(
            "delivered via the messenger: sms route never started",
            vec![wa(acc(SEC), vec![rcpt(true, 5 * SEC)])],
            5 * SEC,
            O::Delivered,
            vec![],
            St::Delivered,
            None,
            vec![(0, "via whatsapp")],
        ),
        case(
            "delivered via sms after the messenger",
            vec![
                wa(dead(SEC), vec![]),
                sm(SEC, acc(2 * SEC), vec![rcpt(true, 10 * SEC)]),
            ],
            10 * SEC,
            O::Delivered,
            vec![],
            St::Delivered,
            None,
            vec![(0, "via sms")],
        ),
        case(
            "not on the messenger and a dead number on sms is failed",
            vec![wa(dead(SEC), vec![]), sm(SEC, dead(2 * SEC), vec![])],
            2 * SEC,
            O::Failed,
            vec![],
            St::Failed,
            None,
            vec![
                (0, "whatsapp: not on whatsapp"),
                (0, "sms: address not registered"),
            ],
        ),
        case(
            "unreachable on one route and failed on the other is failed",
            vec![wa(dead(SEC), vec![]), sm(SEC, refused(2 * SEC), vec![])],
            2 * SEC,
            O::Failed,
            vec![],
            St::Failed,
            None,
            vec![(0, "whatsapp"), (0, "sms: rejected")],
        ),
    ]);
}

/// A chain of providers, one per route, each with its own confirmation
/// rule and window (API.md "Messenger then SMS").
#[test]
fn each_route_of_a_chain_has_its_own_window_and_confirmation() {
    use Scenario::Always as A;
    let mut c = sms(A);
    c.routes = vec![
        Route::new("whatsapp", RouteKind::Messenger).with_confirmation(Confirm::Receipt, 60),
        Route::new("sms", RouteKind::Sms).with_confirmation(Confirm::Accepted, 30),
    ];
    let p = plan(vec![c]);
    let wa = |state, receipts| with_receipts(att_to(0, "whatsapp", PHONE, 0, state), receipts);
    let sm =
        |created, state, receipts| with_receipts(att_to(0, "sms", PHONE, created, state), receipts);
    let case = |name, attempts, now, outcome, start, status, wake_at, reasons| Case {
        name,
        plan: p.clone(),
        attempts,
        now,
        outcomes: vec![outcome],
        start,
        status,
        wake_at,
        reasons,
    };
    run(vec![
        case(
            "the messenger waits for its own 60 s window, not the channel's 600 s",
            vec![wa(acc(SEC), vec![])],
            10 * SEC,
            O::Pending,
            vec![],
            St::Pending,
            Some(60 * SEC),
            vec![(0, "window 60 s")],
        ),
        case(
            "silent past its window: the sms route starts",
            vec![wa(acc(SEC), vec![])],
            60 * SEC,
            O::Pending,
            vec![(0, "sms", PHONE)],
            St::Pending,
            None,
            vec![],
        ),
        case(
            "acceptance is delivery on the sms route of this chain",
            vec![wa(acc(SEC), vec![]), sm(60 * SEC, acc(61 * SEC), vec![])],
            61 * SEC,
            O::Delivered,
            vec![],
            St::Delivered,
            None,
            vec![(0, "via sms: accepted by the provider")],
        ),
        case(
            "the sms route's own 30 s window, from its creation",
            vec![
                wa(acc(SEC), vec![]),
                sm(60 * SEC, AttemptState::Open, vec![]),
            ],
            89 * SEC,
            O::Pending,
            vec![],
            St::Pending,
            Some(90 * SEC),
            vec![],
        ),
        case(
            "a messenger failure receipt after its window is late: the sms answer decides",
            vec![
                wa(acc(SEC), vec![rcpt(false, 70 * SEC)]),
                sm(60 * SEC, acc(61 * SEC), vec![]),
            ],
            70 * SEC,
            O::Delivered,
            vec![],
            St::Delivered,
            None,
            vec![(0, "via sms")],
        ),
        case(
            "both silent: each route's own window is named",
            vec![
                wa(acc(SEC), vec![]),
                sm(60 * SEC, AttemptState::Open, vec![]),
            ],
            90 * SEC,
            O::Failed,
            vec![],
            St::Failed,
            None,
            vec![
                (0, "whatsapp: no receipt within 60 s"),
                (0, "sms: no answer from the provider within 30 s"),
            ],
        ),
    ]);
}

#[test]
fn route_confirmation_round_trips_and_old_plans_have_none() {
    let r = Route::new("whatsapp", RouteKind::Messenger).with_confirmation(Confirm::Receipt, 60);
    let back: Route = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let old: Route = serde_json::from_str(r#"{"name":"sms","kind":"sms"}"#).unwrap();
    assert_eq!((old.confirm, old.window_s), (None, None));
    let plain = serde_json::to_value(Route::new("sms", RouteKind::Sms)).unwrap();
    assert_eq!(plain, serde_json::json!({"name": "sms", "kind": "sms"}));
}

// ------------------------------------------------ schedules and deadlines

/// The help article's e-mail-then-SMS cascade under a schedule: a send
/// time, a deadline (the appointment's start), quiet hours, a cancel.
#[test]
fn schedules_deadlines_quiet_hours_and_cancels() {
    use Scenario::{Always as A, Fallback as F};
    let p = plan(vec![email(A), sms(F)]);
    let e = |created, state| att(&p, 0, created, state);
    let s = |created, state| att(&p, 1, created, state);
    let at = |send_at: Option<Millis>, deliver_before: Option<Millis>| Schedule {
        send_at,
        deliver_before,
        ..Schedule::default()
    };
    let quiet = |mode| Schedule {
        quiet: Some(QuietHours {
            // 00:00–08:00 UTC; the tests' times are in the first hours of 1970.
            from_min: 0,
            until_min: 8 * 60,
            tz: "UTC".into(),
            channels: vec![Channel::Sms],
            mode,
        }),
        ..Schedule::default()
    };
    let cancelled = Schedule {
        cancelled_at: Some(10 * SEC),
        ..Schedule::default()
    };
    let case = |name, attempts, now, outcomes, start, status, wake_at, reasons| Case {
        name,
        plan: p.clone(),
        attempts,
        now,
        outcomes,
        start,
        status,
        wake_at,
        reasons,
    };
    run_scheduled(vec![
        (
            at(Some(100 * SEC), None),
            case(
                "before its send time nothing starts: scheduled, wakes then",
                vec![],
                10 * SEC,
                vec![O::Pending, O::Pending],
                vec![],
                St::Scheduled,
                Some(100 * SEC),
                vec![(0, "scheduled for 1970-01-01T00:01:40Z")],
            ),
        ),
        (
            at(Some(100 * SEC), None),
            case(
                "at its send time the cascade starts",
                vec![],
                100 * SEC,
                vec![O::Pending, O::Pending],
                vec![(0, "email", EMAIL)],
                St::Pending,
                None,
                vec![],
            ),
        ),
        (
            at(None, Some(50 * SEC)),
            case(
                "the fallback goes while the deadline is ahead",
                vec![e(0, refused(SEC))],
                SEC,
                vec![O::Failed, O::Pending],
                vec![(1, "sms", PHONE)],
                St::Pending,
                None,
                vec![],
            ),
        ),
        (
            at(None, Some(50 * SEC)),
            case(
                "after the deadline the fallback is not sent: expired",
                vec![e(0, refused(50 * SEC))],
                50 * SEC,
                vec![O::Failed, O::Expired],
                vec![],
                St::Expired,
                None,
                vec![(1, "deadline passed")],
            ),
        ),
        (
            at(None, Some(50 * SEC)),
            case(
                "an attempt already out is carried to its outcome past the deadline",
                vec![e(0, refused(SEC)), s(SEC, acc(2 * SEC))],
                60 * SEC,
                vec![O::Failed, O::Pending],
                vec![],
                St::Pending,
                Some(601 * SEC),
                vec![],
            ),
        ),
        (
            at(None, Some(0)),
            case(
                "a deadline already passed at acceptance: nothing starts",
                vec![],
                0,
                vec![O::Expired, O::Expired],
                vec![],
                St::Expired,
                None,
                vec![(0, "deadline passed")],
            ),
        ),
        (
            quiet(QuietMode::Defer),
            case(
                "quiet hours, defer: the SMS waits until they end",
                vec![e(0, refused(SEC))],
                SEC,
                vec![O::Failed, O::Pending],
                vec![],
                St::Pending,
                Some(8 * 3_600 * SEC),
                vec![(1, "waits for quiet hours to end at 08:00 UTC")],
            ),
        ),
        (
            Schedule {
                deliver_before: Some(3_600 * SEC),
                ..quiet(QuietMode::Defer)
            },
            case(
                "quiet hours ending after the deadline: expired now",
                vec![e(0, refused(SEC))],
                SEC,
                vec![O::Failed, O::Expired],
                vec![],
                St::Expired,
                None,
                vec![(1, "after the deadline")],
            ),
        ),
        (
            quiet(QuietMode::Skip),
            case(
                "quiet hours, skip: the SMS is unreachable, the cascade ends",
                vec![e(0, refused(SEC))],
                SEC,
                vec![O::Failed, O::Unreachable],
                vec![],
                St::Failed,
                None,
                vec![(1, "quiet hours until 08:00 UTC")],
            ),
        ),
        (
            quiet(QuietMode::Skip),
            case(
                "quiet hours apply only to their channels",
                vec![],
                SEC,
                vec![O::Pending, O::Pending],
                vec![(0, "email", EMAIL)],
                St::Pending,
                None,
                vec![],
            ),
        ),
        (
            cancelled.clone(),
            case(
                "cancelled before anything went: every channel cancelled",
                vec![],
                10 * SEC,
                vec![O::Cancelled, O::Cancelled],
                vec![],
                St::Cancelled,
                None,
                vec![(0, "cancelled before it was sent")],
            ),
        ),
        (
            cancelled.clone(),
            case(
                "cancelled while the e-mail is out: its answer still counts, the SMS never goes",
                vec![e(0, AttemptState::Open)],
                10 * SEC,
                vec![O::Pending, O::Cancelled],
                vec![],
                St::Pending,
                Some(300 * SEC),
                vec![],
            ),
        ),
        (
            cancelled.clone(),
            case(
                "cancelled, then the e-mail failed: the fallback is not sent",
                vec![e(0, refused(20 * SEC))],
                20 * SEC,
                vec![O::Failed, O::Cancelled],
                vec![],
                St::Cancelled,
                None,
                vec![],
            ),
        ),
        (
            cancelled,
            case(
                "cancelled after delivery: delivered stays delivered",
                vec![e(0, acc(SEC))],
                20 * SEC,
                vec![O::Delivered, O::Skipped],
                vec![],
                St::Delivered,
                None,
                vec![],
            ),
        ),
    ]);
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    (
        prop::option::of(0..2_000i64),
        prop::option::of(0..2_000i64),
        prop::option::of(0..2_000i64),
        prop::option::of((0u16..1440, 0u16..1440, any::<bool>())),
    )
        .prop_map(|(send_at, deliver_before, cancelled_at, quiet)| Schedule {
            send_at: send_at.map(|s| s * SEC),
            deliver_before: deliver_before.map(|s| s * SEC),
            cancelled_at: cancelled_at.map(|s| s * SEC),
            quiet: quiet.map(|(from_min, until_min, skip)| QuietHours {
                from_min,
                until_min,
                tz: "UTC".into(),
                channels: vec![Channel::Sms, Channel::Aunio],
                mode: if skip {
                    QuietMode::Skip
                } else {
                    QuietMode::Defer
                },
            }),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Nothing ever starts before the send time, at or after the deadline,
    /// inside quiet hours for a listed channel, or once cancelled; and a
    /// notification that waits always says when to look again.
    #[test]
    fn a_schedule_is_never_broken(
        schedule in arb_schedule(),
        now in 0..2_500i64,
        refused_email in any::<bool>(),
    ) {
        use Scenario::{Always as A, Fallback as F};
        let p = plan(vec![email(A), push(Channel::Aunio, F, &["tok"]), sms(F)]);
        let now = now * SEC;
        let attempts = if refused_email {
            vec![att(&p, 0, 0, refused(0))]
        } else {
            vec![]
        };
        let d = decide_scheduled(&p, &schedule, &attempts, now);
        for s in &d.start {
            let ch = p.channels[s.channel_idx].channel;
            prop_assert!(schedule.cancelled_at.is_none(), "started after a cancel: {s:?}");
            prop_assert!(schedule.send_at.is_none_or(|at| now >= at), "before send_at: {s:?}");
            prop_assert!(schedule.deliver_before.is_none_or(|d| now < d), "after the deadline: {s:?}");
            if let Some(q) = schedule.quiet.as_ref().filter(|q| q.channels.contains(&ch)) {
                prop_assert!(crate::schedule::quiet_until(q, now).is_none(), "in quiet hours: {s:?}");
            }
        }
        if matches!(d.status, St::Pending | St::Scheduled) && d.start.is_empty() {
            prop_assert!(d.wake_at.is_some_and(|w| w > now), "waits without a wake time: {d:?}");
        }
        if d.status == St::Scheduled {
            prop_assert!(attempts.is_empty() && d.start.is_empty());
        }
    }
}

#[test]
fn status_and_wake_at() {
    use Scenario::{Always as A, Fallback as F};
    let p = plan(vec![email(A), push(Channel::Aunio, A, &["tok-a"]), sms(A)]);
    let pf = plan(vec![
        email(A),
        unreach(Channel::Sms, F, "client has no phone number"),
    ]);
    run(vec![
        Case {
            name: "pending while any channel is pending, even if one delivered",
            plan: p.clone(),
            attempts: vec![
                att(&p, 0, 0, acc(SEC)),
                att(&p, 1, 0, refused(SEC)),
                att(&p, 2, 0, acc(SEC)),
            ],
            now: SEC,
            outcomes: vec![O::Delivered, O::Failed, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(600 * SEC),
            reasons: vec![],
        },
        Case {
            name: "delivered once final when some channel delivered",
            plan: p.clone(),
            attempts: vec![
                att(&p, 0, 0, refused(SEC)),
                att(&p, 1, 0, acc(SEC)),
                with_receipts(att(&p, 2, 0, acc(SEC)), vec![rcpt(false, 9 * SEC)]),
            ],
            now: 10 * SEC,
            outcomes: vec![O::Failed, O::Delivered, O::Failed],
            start: vec![],
            status: St::Delivered,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "failed once final when no channel delivered",
            plan: pf.clone(),
            attempts: vec![att(&pf, 0, 0, refused(SEC))],
            now: SEC,
            outcomes: vec![O::Failed, O::Unreachable],
            start: vec![],
            status: St::Failed,
            wake_at: None,
            reasons: vec![],
        },
        Case {
            name: "wake_at is the earliest pending deadline",
            plan: p.clone(),
            attempts: vec![
                att(&p, 0, 100 * SEC, open()),
                att(&p, 1, 50 * SEC, open()),
                att(&p, 2, 0, acc(SEC)),
            ],
            now: 200 * SEC,
            outcomes: vec![O::Pending, O::Pending, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(350 * SEC),
            reasons: vec![],
        },
        Case {
            name: "wake_at ignores attempts that are already final",
            plan: p.clone(),
            attempts: vec![
                att(&p, 0, 0, refused(SEC)),
                att(&p, 1, 0, acc(SEC)),
                att(&p, 2, 0, acc(SEC)),
            ],
            now: SEC,
            outcomes: vec![O::Failed, O::Delivered, O::Pending],
            start: vec![],
            status: St::Pending,
            wake_at: Some(600 * SEC),
            reasons: vec![],
        },
    ]);
}

// --------------------------------------------- the seed article's example

/// The article's example for a client type: e-mail always, Aunio always,
/// the branded app as fallback, SMS as fallback (last).
fn seed_plan(email: Reach, aunio: Reach, branded: Reach, sms: Reach) -> Plan {
    use Scenario::{Always as A, Fallback as F};
    let c = |channel, scenario, reach| ChannelPlan {
        reach,
        ..chan(channel, scenario, &[])
    };
    plan(vec![
        c(Channel::Email, A, email),
        c(Channel::Aunio, A, aunio),
        c(Channel::BrandedApp, F, branded),
        c(Channel::Sms, F, sms),
    ])
}

fn no(reason: &str) -> Reach {
    Reach::Unreachable {
        reason: reason.into(),
    }
}

#[test]
fn seed_example_is_a_valid_client_type() {
    let cfg = TypeConfig {
        audience: Audience::Client,
        channels: vec![
            ChannelSetting {
                channel: Channel::Email,
                scenario: Scenario::Always,
            },
            ChannelSetting {
                channel: Channel::Aunio,
                scenario: Scenario::Always,
            },
            ChannelSetting {
                channel: Channel::BrandedApp,
                scenario: Scenario::Fallback,
            },
            ChannelSetting {
                channel: Channel::Sms,
                scenario: Scenario::Fallback,
            },
        ],
        fallback_when: FallbackWhen::NoneDelivered,
        default_locale: "en".into(),
        templates: Default::default(),
        quiet_hours: None,
        critical: false,
    };
    assert_eq!(cfg.validate(), Ok(()));
}

#[test]
fn seed_client_reached_by_email() {
    let p = seed_plan(
        reach_to(&[EMAIL]),
        no("client has no Aunio app installed"),
        no("client has no branded app installed"),
        reach_to(&[PHONE]),
    );
    let d = decide(&p, &[], 0);
    assert_eq!(
        outcomes(&d),
        [O::Pending, O::Unreachable, O::Pending, O::Pending]
    );
    assert_eq!(starts(&d), [(0, "email".into(), EMAIL.into())]);

    let facts = [att(&p, 0, 0, acc(SEC))];
    let d = decide(&p, &facts, SEC);
    assert_eq!(
        outcomes(&d),
        [O::Delivered, O::Unreachable, O::Skipped, O::Skipped]
    );
    assert!(d.start.is_empty());
    assert_eq!(d.status, St::Delivered);
    assert_eq!(d.wake_at, None);
    assert!(
        d.channels[2].reason.contains("email delivered before it"),
        "{:?}",
        d.channels[2]
    );
    assert!(
        d.channels[3].reason.contains("email delivered before it"),
        "{:?}",
        d.channels[3]
    );
}

#[test]
fn seed_failing_email_and_branded_app_installed() {
    let p = seed_plan(
        reach_to(&[EMAIL]),
        no("client has no Aunio app installed"),
        reach_to(&["tok-b"]),
        reach_to(&[PHONE]),
    );
    let d = decide(&p, &[], 0);
    assert_eq!(starts(&d), [(0, "email".into(), EMAIL.into())]);

    let mut facts = vec![att(&p, 0, 0, refused(SEC))];
    let d = decide(&p, &facts, SEC);
    assert_eq!(
        outcomes(&d),
        [O::Failed, O::Unreachable, O::Pending, O::Pending]
    );
    assert_eq!(starts(&d), [(2, "branded_app".into(), "tok-b".into())]);
    assert!(
        d.channels[3].reason.contains("waiting for branded_app"),
        "{:?}",
        d.channels[3]
    );

    facts.push(att(&p, 2, SEC, open()));
    let d = decide(&p, &facts, SEC);
    assert!(d.start.is_empty(), "the branded app is not started twice");
    assert_eq!(d.wake_at, Some(301 * SEC));

    facts[1].state = acc(2 * SEC);
    let d = decide(&p, &facts, 2 * SEC);
    assert_eq!(
        outcomes(&d),
        [O::Failed, O::Unreachable, O::Delivered, O::Skipped]
    );
    assert!(d.start.is_empty());
    assert_eq!(d.status, St::Delivered);
    assert!(d.channels[3]
        .reason
        .contains("branded_app delivered before it"));
}

#[test]
fn seed_client_with_both_apps_delivered_by_aunio() {
    let p = seed_plan(
        reach_to(&[EMAIL]),
        reach_to(&["tok-a"]),
        reach_to(&["tok-b"]),
        reach_to(&[PHONE]),
    );
    let d = decide(&p, &[], 0);
    assert_eq!(
        starts(&d),
        [
            (0, "email".into(), EMAIL.into()),
            (1, "aunio".into(), "tok-a".into())
        ]
    );
    let facts = [att(&p, 0, 0, refused(SEC)), att(&p, 1, 0, acc(SEC))];
    let d = decide(&p, &facts, SEC);
    assert_eq!(
        outcomes(&d),
        [O::Failed, O::Delivered, O::Skipped, O::Skipped]
    );
    assert!(d.channels[2].reason.contains("aunio delivered before it"));
    assert_eq!(d.status, St::Delivered);
}

#[test]
fn seed_no_email_no_apps_only_sms_goes() {
    let p = seed_plan(
        no("client has no e-mail address"),
        no("client has no Aunio app installed"),
        no("client has no branded app installed"),
        reach_to(&[PHONE]),
    );
    let d = decide(&p, &[], 0);
    assert_eq!(
        outcomes(&d),
        [O::Unreachable, O::Unreachable, O::Unreachable, O::Pending]
    );
    assert_eq!(starts(&d), [(3, "sms".into(), PHONE.into())]);

    let mut facts = vec![att(&p, 3, 0, acc(SEC))];
    let d = decide(&p, &facts, 100 * SEC);
    assert_eq!(d.status, St::Pending);
    assert!(d.start.is_empty());
    assert_eq!(d.wake_at, Some(600 * SEC));

    facts[0].receipts.push(rcpt(true, 120 * SEC));
    let d = decide(&p, &facts, 120 * SEC);
    assert_eq!(
        outcomes(&d),
        [O::Unreachable, O::Unreachable, O::Unreachable, O::Delivered]
    );
    assert_eq!(d.status, St::Delivered);
}

#[test]
fn seed_everything_fails() {
    let p = seed_plan(
        reach_to(&[EMAIL]),
        reach_to(&["tok-a"]),
        reach_to(&["tok-b"]),
        reach_to(&[PHONE]),
    );
    let mut facts = vec![att(&p, 0, 0, refused(SEC)), att(&p, 1, 0, dead(SEC))];
    let d = decide(&p, &facts, SEC);
    assert_eq!(outcomes(&d), [O::Failed, O::Failed, O::Pending, O::Pending]);
    assert_eq!(starts(&d), [(2, "branded_app".into(), "tok-b".into())]);

    facts.push(att(&p, 2, SEC, refused(2 * SEC)));
    let d = decide(&p, &facts, 2 * SEC);
    assert_eq!(outcomes(&d), [O::Failed, O::Failed, O::Failed, O::Pending]);
    assert_eq!(starts(&d), [(3, "sms".into(), PHONE.into())]);

    facts.push(att(&p, 3, 2 * SEC, acc(3 * SEC)));
    let d = decide(&p, &facts, 3 * SEC);
    assert_eq!(d.status, St::Pending);
    assert_eq!(d.wake_at, Some(602 * SEC));
    assert!(d.start.is_empty());

    let d = decide(&p, &facts, 602 * SEC);
    assert_eq!(outcomes(&d), [O::Failed; 4]);
    assert_eq!(d.status, St::Failed);
    assert_eq!(d.wake_at, None);
    assert!(d.start.is_empty());
    assert!(d.channels[3].reason.contains("no receipt within 600 s"));
}

// ---------------------------------------------------------------- preview

#[test]
fn preview_reads_the_plan() {
    use Scenario::{Always as A, Fallback as F, Off};
    let p = plan(vec![
        email(A),
        unreach(Channel::Aunio, A, "client has no Aunio app installed"),
        push(Channel::BrandedApp, Off, &["tok-b"]),
        with_routes(sms(F), &["whatsapp", "sms"]),
    ]);
    let v = preview(&p);
    let actions: Vec<&str> = v.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions,
        ["send", "unreachable", "skipped", "send_if_earlier_fail"]
    );
    let channels: Vec<Channel> = v.iter().map(|c| c.channel).collect();
    assert_eq!(
        channels,
        [
            Channel::Email,
            Channel::Aunio,
            Channel::BrandedApp,
            Channel::Sms
        ]
    );
    assert_eq!(v[0].to, [EMAIL]);
    assert_eq!(v[0].reason, format!("would send to {EMAIL}"));
    assert!(v[1].to.is_empty());
    assert_eq!(
        v[1].reason,
        "unreachable: client has no Aunio app installed"
    );
    assert!(v[2].to.is_empty(), "an off channel would send to nobody");
    assert!(v[2].reason.contains("off"));
    assert_eq!(v[3].to, [PHONE]);
    assert_eq!(v[3].routes, ["whatsapp", "sms"]);
    assert_eq!(v[3].scenario, Scenario::Fallback);
    assert!(
        v[3].reason.contains("unless no earlier channel delivers"),
        "{}",
        v[3].reason
    );
}

#[test]
fn preview_of_any_failed_and_unreachable_fallbacks() {
    use Scenario::{Always as A, Fallback as F};
    let p = plan_any(vec![
        email(A),
        unreach(
            Channel::BrandedApp,
            F,
            "client has no branded app installed",
        ),
        chan(Channel::Sms, F, &[]),
    ]);
    let v = preview(&p);
    assert!(v[0].reason.contains(EMAIL));
    assert_eq!(v[1].action, "unreachable");
    assert!(v[1].reason.contains("no branded app installed"));
    assert!(v[1]
        .reason
        .contains("would only be needed if earlier channels fail"));
    assert_eq!(
        v[2].action, "unreachable",
        "no address is unreachable, as in decide"
    );
    let p = plan_any(vec![email(A), sms(F)]);
    assert!(preview(&p)[1]
        .reason
        .contains("unless an earlier channel fails"));
}

#[test]
fn preview_agrees_with_the_first_decision() {
    use Scenario::{Always as A, Off};
    let p = plan(vec![
        email(A),
        push(Channel::Aunio, A, &["t1", "t2"]),
        unreach(
            Channel::BrandedApp,
            A,
            "client has no branded app installed",
        ),
        sms(Off),
    ]);
    let v = preview(&p);
    let d = decide(&p, &[], 0);
    for (i, (pc, v)) in v.iter().zip(&d.channels).enumerate() {
        let expect = match pc.action.as_str() {
            "send" => O::Pending,
            "unreachable" => O::Unreachable,
            "skipped" => O::Skipped,
            other => panic!("unexpected action {other}"),
        };
        assert_eq!(v.outcome, expect, "channel {i}");
        let started: Vec<&str> = d
            .start
            .iter()
            .filter(|s| s.channel_idx == i)
            .map(|s| s.to.as_str())
            .collect();
        assert_eq!(started, pc.to, "channel {i}");
    }
}

// --------------------------------------------------------- property tests

/// One channel as the generator draws it.
#[derive(Debug, Clone)]
struct ChanGen {
    present: bool,
    key: u8,
    scenario: Scenario,
    /// `None`: unreachable; `Some(n)`: reachable (n devices for push).
    devices: Option<usize>,
    two_routes: bool,
    confirm: Confirm,
    window_s: u32,
}

fn chan_gen() -> impl Strategy<Value = ChanGen> {
    (
        prop::bool::weighted(0.7),
        any::<u8>(),
        prop_oneof![
            Just(Scenario::Off),
            Just(Scenario::Always),
            Just(Scenario::Fallback)
        ],
        prop::option::weighted(0.8, 1usize..=3),
        any::<bool>(),
        prop_oneof![Just(Confirm::Accepted), Just(Confirm::Receipt)],
        prop_oneof![1u32..=5, 30u32..=900],
    )
        .prop_map(
            |(present, key, scenario, devices, two_routes, confirm, window_s)| ChanGen {
                present,
                key,
                scenario,
                devices,
                two_routes,
                confirm,
                window_s,
            },
        )
}

/// Builds a plan from drawn channels, or `None` when the configuration
/// rules reject it (the service never runs such a plan).
fn build_plan(client: bool, gens: &[ChanGen], any_failed: bool) -> Option<Plan> {
    let (audience, candidates) = if client {
        (
            Audience::Client,
            vec![
                Channel::Email,
                Channel::Aunio,
                Channel::BrandedApp,
                Channel::Sms,
            ],
        )
    } else {
        (
            Audience::Staff,
            vec![Channel::Email, Channel::AdminApp, Channel::Sms],
        )
    };
    let mut picked: Vec<(Channel, &ChanGen)> = candidates
        .into_iter()
        .zip(gens)
        .filter(|(_, g)| g.present)
        .collect();
    picked.sort_by_key(|(c, g)| (c.priority_group(), g.key));
    let scenario = |c: Channel, s: Scenario| if c.allows(s) { s } else { Scenario::Always };
    let fallback_when = if any_failed {
        FallbackWhen::AnyFailed
    } else {
        FallbackWhen::NoneDelivered
    };
    let cfg = TypeConfig {
        audience,
        channels: picked
            .iter()
            .map(|(c, g)| ChannelSetting {
                channel: *c,
                scenario: scenario(*c, g.scenario),
            })
            .collect(),
        fallback_when,
        default_locale: "en".into(),
        templates: Default::default(),
        quiet_hours: None,
        critical: false,
    };
    cfg.validate().ok()?;
    let channels = picked
        .iter()
        .map(|(c, g)| {
            let reach = match g.devices {
                None => Reach::Unreachable {
                    reason: format!("no {c} address"),
                },
                Some(n) => Reach::Addresses {
                    to: match c {
                        Channel::Email => vec![EMAIL.to_string()],
                        Channel::Sms => vec![PHONE.to_string()],
                        _ => (0..n).map(|i| format!("{c}-tok-{i}")).collect(),
                    },
                },
            };
            let routes = if *c == Channel::Sms && g.two_routes {
                vec!["whatsapp".into(), "sms".into()]
            } else {
                vec![c.as_str().into()]
            };
            ChannelPlan {
                channel: *c,
                scenario: scenario(*c, g.scenario),
                reach,
                routes,
                confirm: g.confirm,
                window_s: g.window_s,
            }
        })
        .collect();
    Some(Plan {
        fallback_when,
        channels,
    })
}

/// A random plan that the configuration rules accept.
fn plan_gen() -> impl Strategy<Value = Plan> {
    (
        any::<bool>(),
        prop::collection::vec(chan_gen(), 4),
        any::<bool>(),
    )
        .prop_filter_map(
            "the configuration rules reject it",
            |(client, gens, any_failed)| build_plan(client, &gens, any_failed),
        )
}

/// When something happens, relative to the attempt's creation.
#[derive(Debug, Clone, Copy)]
enum When {
    After(Millis),
    /// Around the end of the window (offset in ms), to probe the boundary.
    AtDeadline(Millis),
    /// A share of the window, in thousandths (above 1000: after it).
    Share(Millis),
}

impl When {
    fn at(self, created_at: Millis, window_ms: Millis) -> Millis {
        created_at
            + match self {
                When::After(d) => d,
                When::AtDeadline(o) => (window_ms + o).max(0),
                When::Share(k) => window_ms * k / 1000,
            }
    }
}

/// How the provider answers a send.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Accepted,
    Refused,
    /// Refused: the address or device is dead / not on the route.
    Dead,
    GaveUp,
    /// Never answers (a provider that hangs until the window closes).
    Never,
}

/// The world's answer to one attempt, with receipts at random times (an
/// accepted message only; a receipt may race ahead of the acceptance).
#[derive(Debug, Clone)]
struct Reply {
    answer: Answer,
    at: When,
    receipts: Vec<(bool, When)>,
}

fn when_gen() -> impl Strategy<Value = When> {
    prop_oneof![
        3 => (0 as Millis..1_500).prop_map(When::Share),
        2 => (0 as Millis..1_200_000).prop_map(When::After),
        1 => Just(When::After(0)),
        2 => (-2 as Millis..=2).prop_map(When::AtDeadline),
    ]
}

fn reply_gen() -> impl Strategy<Value = Reply> {
    (
        prop_oneof![
            4 => Just(Answer::Accepted),
            1 => Just(Answer::Refused),
            1 => Just(Answer::Dead),
            1 => Just(Answer::GaveUp),
            1 => Just(Answer::Never),
        ],
        when_gen(),
        prop::collection::vec((any::<bool>(), when_gen()), 0..=2),
    )
        .prop_map(|(answer, at, receipts)| Reply {
            answer,
            at,
            receipts,
        })
}

/// One attempt in the simulated world: its facts, each shown to `decide`
/// only once its time has come.
struct Live {
    base: AttemptFacts,
    state: Option<(AttemptState, bool)>,
    receipts: Vec<(ReceiptFact, bool)>,
}

fn state_at(s: &AttemptState) -> Millis {
    match s {
        AttemptState::Accepted { at }
        | AttemptState::Refused { at, .. }
        | AttemptState::GaveUp { at, .. } => *at,
        AttemptState::Open => Millis::MAX,
    }
}

impl Live {
    fn new(plan: &Plan, s: &StartAttempt, now: Millis, reply: &Reply) -> Live {
        let window_ms = Millis::from(plan.channels[s.channel_idx].window_s) * SEC;
        let at = reply.at.at(now, window_ms);
        let state = match reply.answer {
            Answer::Accepted => Some(acc(at)),
            Answer::Refused => Some(refused(at)),
            Answer::Dead => Some(dead(at)),
            Answer::GaveUp => Some(gave_up(at)),
            Answer::Never => None,
        };
        let receipts = match reply.answer {
            Answer::Accepted => reply
                .receipts
                .iter()
                .map(|(ok, w)| (rcpt(*ok, w.at(now, window_ms)), false))
                .collect(),
            _ => vec![],
        };
        Live {
            base: att_to(s.channel_idx, &s.route, &s.to, now, open()),
            state: state.map(|s| (s, false)),
            receipts,
        }
    }

    fn facts(&self) -> AttemptFacts {
        let mut f = self.base.clone();
        if let Some((s, true)) = &self.state {
            f.state = s.clone();
        }
        f.receipts = self
            .receipts
            .iter()
            .filter(|(_, shown)| *shown)
            .map(|(r, _)| r.clone())
            .collect();
        f.receipts.sort_by_key(|r| r.at);
        f
    }

    fn next_event(&self) -> Option<Millis> {
        let state = self
            .state
            .iter()
            .filter(|(_, shown)| !shown)
            .map(|(s, _)| state_at(s));
        let receipts = self
            .receipts
            .iter()
            .filter(|(_, shown)| !shown)
            .map(|(r, _)| r.at);
        state.chain(receipts).min()
    }

    /// Shows every fact from before `now`; one stamped exactly `now` is
    /// shown only when `coin` says so (it may be recorded just after a
    /// `decide` at the same millisecond).
    fn reveal(&mut self, now: Millis, coin: bool) {
        let due = |t: Millis| t < now || (t == now && coin);
        if let Some((s, shown)) = &mut self.state {
            *shown |= due(state_at(s));
        }
        for (r, shown) in &mut self.receipts {
            *shown |= due(r.at);
        }
    }
}

const MAX_STEPS: usize = 400;

/// The earlier enabled channels' outcomes for channel `j`.
fn earlier_outcomes(plan: &Plan, d: &Decision, j: usize) -> Vec<O> {
    plan.channels[..j]
        .iter()
        .zip(&d.channels)
        .filter(|(c, _)| c.scenario != Scenario::Off)
        .map(|(_, v)| v.outcome)
        .collect()
}

/// Whether a fallback channel is needed, given the earlier outcomes.
fn fallback_needed(plan: &Plan, earlier: &[O]) -> bool {
    match plan.fallback_when {
        FallbackWhen::NoneDelivered => !earlier.contains(&O::Delivered),
        FallbackWhen::AnyFailed => earlier
            .iter()
            .any(|o| matches!(o, O::Failed | O::Unreachable)),
    }
}

/// What must hold of every decision, at every step.
fn check_decision(
    plan: &Plan,
    d: &Decision,
    now: Millis,
    finals: &mut [Option<O>],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(d.channels.len(), plan.channels.len());
    // (d) once final, an outcome never changes.
    for (i, v) in d.channels.iter().enumerate() {
        match finals[i] {
            Some(o) => prop_assert_eq!(
                v.outcome,
                o,
                "channel {} was {:?} and became {:?} at {}: {:?}",
                i,
                o,
                v.outcome,
                now,
                v
            ),
            None if v.outcome.is_final() => finals[i] = Some(v.outcome),
            None => {}
        }
    }
    let pending = d.channels.iter().any(|v| v.outcome == O::Pending);
    let delivered = d.channels.iter().any(|v| v.outcome == O::Delivered);
    let want = match (pending, delivered) {
        (true, _) => St::Pending,
        (false, true) => St::Delivered,
        (false, false) => St::Failed,
    };
    prop_assert_eq!(d.status, want);
    if d.status == St::Pending {
        // (a) a pending notification always has something to do or wait for.
        prop_assert!(
            !d.start.is_empty() || d.wake_at.is_some(),
            "stuck at {}: {:?}",
            now,
            d
        );
    } else {
        prop_assert!(
            d.start.is_empty(),
            "a final notification starts nothing: {:?}",
            d
        );
        prop_assert_eq!(d.wake_at, None);
    }
    if let Some(w) = d.wake_at {
        prop_assert!(w > now, "wake_at {} is not after now {}", w, now);
    }
    for (j, c) in plan.channels.iter().enumerate() {
        if c.scenario == Scenario::Off {
            prop_assert_eq!(d.channels[j].outcome, O::Skipped);
        }
    }
    Ok(())
}

/// What must hold of an attempt `decide` asks to start.
fn check_start(
    plan: &Plan,
    d: &Decision,
    s: &StartAttempt,
    started: &BTreeSet<(usize, String, String)>,
) -> Result<(), TestCaseError> {
    let c = &plan.channels[s.channel_idx];
    prop_assert!(
        c.scenario != Scenario::Off,
        "an off channel is started: {:?}",
        s
    );
    let Reach::Addresses { to } = &c.reach else {
        return Err(TestCaseError::fail(format!(
            "an unreachable channel is started: {s:?}"
        )));
    };
    prop_assert!(to.contains(&s.to));
    let r = c.routes.iter().position(|r| r.name == s.route);
    prop_assert!(r.is_some(), "unknown route in {:?}", s);
    if let Some(r) = r.filter(|r| *r > 0) {
        let previous = (s.channel_idx, c.routes[r - 1].name.clone(), s.to.clone());
        prop_assert!(
            started.contains(&previous),
            "route {} before {:?}",
            s.route,
            previous.1
        );
    }
    if c.scenario == Scenario::Fallback {
        let earlier = earlier_outcomes(plan, d, s.channel_idx);
        prop_assert!(
            earlier.iter().all(|o| o.is_final()),
            "fallback started before the earlier channels ended: {:?}",
            d
        );
        // (b) never a fallback after a delivery under none_delivered.
        prop_assert!(
            fallback_needed(plan, &earlier),
            "fallback not needed: {:?}",
            d
        );
    }
    Ok(())
}

fn simulate(
    plan: &Plan,
    replies: &[Reply],
    coins: &[bool],
    extras: &[Millis],
) -> Result<(), TestCaseError> {
    let mut lives: Vec<Live> = Vec::new();
    let mut started: BTreeSet<(usize, String, String)> = BTreeSet::new();
    let mut finals: Vec<Option<O>> = vec![None; plan.channels.len()];
    let mut now: Millis = 0;
    let mut last = None;
    for step in 0..MAX_STEPS {
        let facts: Vec<AttemptFacts> = lives.iter().map(Live::facts).collect();
        let d = decide(plan, &facts, now);
        // (d) deterministic, and blind to the order of the facts.
        prop_assert_eq!(&d, &decide(plan, &facts, now));
        let mut reversed = facts.clone();
        reversed.reverse();
        prop_assert_eq!(&d, &decide(plan, &reversed, now));
        check_decision(plan, &d, now, &mut finals)?;
        for s in &d.start {
            check_start(plan, &d, s, &started)?;
            // (c) never the same attempt twice.
            let key = (s.channel_idx, s.route.clone(), s.to.clone());
            prop_assert!(started.insert(key), "asked to start {:?} twice", s);
            let reply = &replies[lives.len() % replies.len()];
            lives.push(Live::new(plan, s, now, reply));
        }
        let next_fact = lives.iter().filter_map(Live::next_event).min();
        if d.status != St::Pending && next_fact.is_none() {
            last = Some(d);
            break;
        }
        match [d.wake_at, next_fact].into_iter().flatten().min() {
            // Only just-started attempts that will never answer: look again.
            None => prop_assert!(!d.start.is_empty(), "stuck at {}: {:?}", now, d),
            // A fact stamped `now` that was recorded after this decision.
            Some(t) if t <= now => lives.iter_mut().for_each(|l| l.reveal(now, true)),
            Some(t) => {
                now = t + extras[step % extras.len()];
                let coin = coins[step % coins.len()];
                lives.iter_mut().for_each(|l| l.reveal(now, coin));
            }
        }
    }
    // (a) a final status within a bounded number of steps.
    let Some(last) = last else {
        return Err(TestCaseError::fail(format!(
            "no final status within {MAX_STEPS} steps"
        )));
    };
    // Much later, with every fact known, nothing changes.
    let facts: Vec<AttemptFacts> = lives.iter().map(Live::facts).collect();
    let much_later = decide(plan, &facts, now + 30 * 86_400 * SEC);
    check_decision(plan, &much_later, now, &mut finals)?;
    prop_assert_eq!(&much_later.channels, &last.channels);

    // (e) delivered iff some channel delivered.
    let any_delivered = last.channels.iter().any(|v| v.outcome == O::Delivered);
    prop_assert_eq!(last.status == St::Delivered, any_delivered);
    prop_assert!(last.channels.iter().all(|v| v.outcome.is_final()));

    for (j, c) in plan.channels.iter().enumerate() {
        let attempts = lives.iter().filter(|l| l.base.channel_idx == j).count();
        let outcome = last.channels[j].outcome;
        let reachable = matches!(&c.reach, Reach::Addresses { to } if !to.is_empty());
        let sent = match c.scenario {
            Scenario::Off => false,
            Scenario::Always => true,
            Scenario::Fallback => fallback_needed(plan, &earlier_outcomes(plan, &last, j)),
        };
        if !sent {
            // (b) a fallback not needed (under none_delivered: after a
            // delivery) never has an attempt, and is skipped.
            prop_assert_eq!(outcome, O::Skipped, "channel {}", j);
            prop_assert_eq!(attempts, 0, "channel {} was not to be sent", j);
        } else if reachable {
            prop_assert!(attempts > 0, "channel {} was to be sent and was not", j);
            prop_assert!(outcome != O::Skipped);
        } else {
            prop_assert_eq!(outcome, O::Unreachable, "channel {}", j);
            prop_assert_eq!(attempts, 0);
        }
    }
    Ok(())
}

/// Arbitrary facts about a plan's possible attempts, at arbitrary times.
fn facts_gen(plan: Plan) -> impl Strategy<Value = (Plan, Vec<AttemptFacts>)> {
    let keys: Vec<(usize, String, String)> = plan
        .channels
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let to = match &c.reach {
                Reach::Addresses { to } => to.clone(),
                Reach::Unreachable { .. } => vec![],
            };
            c.routes
                .iter()
                .flat_map(move |r| to.clone().into_iter().map(move |t| (i, r.name.clone(), t)))
                .collect::<Vec<_>>()
        })
        .collect();
    let n = keys.len();
    let fact = (
        any::<prop::sample::Index>(),
        0 as Millis..2_000_000,
        reply_gen(),
    );
    prop::collection::vec(fact, 0..=n.min(8)).prop_map(move |drawn| {
        let mut seen = BTreeSet::new();
        let mut facts = Vec::new();
        for (ix, created_at, reply) in drawn {
            if n == 0 {
                break;
            }
            let (i, route, to) = keys[ix.index(n)].clone();
            if !seen.insert((i, route.clone(), to.clone())) {
                continue;
            }
            let s = StartAttempt {
                channel_idx: i,
                route,
                to,
            };
            let mut live = Live::new(&plan, &s, created_at, &reply);
            live.reveal(Millis::MAX, true);
            facts.push(live.facts());
        }
        (plan.clone(), facts)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random valid plans against a random world, stepped through time.
    #[test]
    fn simulated_cascades_end_and_keep_the_rules(
        plan in plan_gen(),
        replies in prop::collection::vec(reply_gen(), 1..12),
        coins in prop::collection::vec(any::<bool>(), 1..8),
        extras in prop::collection::vec(
            prop_oneof![3 => Just(0 as Millis), 1 => 1 as Millis..5_000],
            1..8,
        ),
    ) {
        simulate(&plan, &replies, &coins, &extras)?;
    }

    /// On any facts, decide is a function, and time alone never changes a
    /// final outcome or the attempts it asks for.
    #[test]
    fn decide_is_deterministic_and_monotone_in_time(
        (plan, facts) in plan_gen().prop_flat_map(facts_gen),
        t1 in 0 as Millis..3_000_000,
        dt in 0 as Millis..3_000_000,
    ) {
        let a = decide(&plan, &facts, t1);
        prop_assert_eq!(&a, &decide(&plan, &facts, t1));
        let b = decide(&plan, &facts, t1 + dt);
        for (i, (x, y)) in a.channels.iter().zip(&b.channels).enumerate() {
            if x.outcome.is_final() {
                prop_assert_eq!(x, y, "channel {} changed from {} to {}", i, t1, t1 + dt);
            }
        }
        if let Some(w) = a.wake_at {
            prop_assert!(w > t1);
        }
    }
}

/// Whether a dead number makes a route unreachable (the next route goes)
/// or failed depends on the kind its provider gave the route, not on its
/// name: a plain SMS route called `text` fails like `sms`, and a messenger
/// called `sms_chat` is skipped like WhatsApp.
#[test]
fn route_kinds_not_names_decide_a_dead_number() {
    let plain = Route::new("text", RouteKind::Sms);
    let chat = Route::new("sms_chat", RouteKind::Messenger);
    let mut c = sms(Scenario::Always);
    c.routes = vec![chat.clone(), plain.clone()];
    let p = plan(vec![c]);
    // The messenger route's dead number: unreachable there, the SMS route goes.
    let d = decide(&p, &[att_to(0, "sms_chat", PHONE, 0, dead(SEC))], SEC);
    assert_eq!(d.channels[0].outcome, O::Pending);
    assert_eq!(d.start.len(), 1);
    assert_eq!(d.start[0].route, "text");
    // The SMS route's dead number: the channel fails.
    let d = decide(
        &p,
        &[
            att_to(0, "sms_chat", PHONE, 0, dead(SEC)),
            att_to(0, "text", PHONE, SEC, dead(2 * SEC)),
        ],
        2 * SEC,
    );
    assert_eq!(d.channels[0].outcome, O::Failed, "{:?}", d.channels[0]);
    // With only the messenger route, a dead number is unreachable.
    let mut c = sms(Scenario::Always);
    c.routes = vec![chat];
    let d = decide(
        &plan(vec![c]),
        &[att_to(0, "sms_chat", PHONE, 0, dead(SEC))],
        SEC,
    );
    assert_eq!(d.channels[0].outcome, O::Unreachable);
}
