//! The backend-neutral half of "record a fact, then decide, then apply":
//! given a notification's plan, rendered texts and recorded attempts, run
//! `herald_core::decide` and say exactly what must be written (verdicts,
//! status, wake time, new attempts with their fixed idempotency keys). No
//! SQL here, so every backend applies the same step the same way.

use crate::{AttemptRecord, Result, StoreError};
use herald_core::{
    decide_scheduled, Channel, ChannelVerdict, Millis, Plan, Recipient, Rendered, Schedule,
    StartAttempt, Status,
};

/// An attempt `decide` asked for, ready to be inserted as `queued`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttempt {
    /// A fresh UUID v7.
    pub id: String,
    /// The channel's index in the plan.
    pub channel_idx: usize,
    /// The channel.
    pub channel: Channel,
    /// The route.
    pub route: String,
    /// Address or device token.
    pub to: String,
    /// Fixed now, before anything is sent; every retry carries it.
    pub idempotency_key: String,
    /// Window start (`now`).
    pub created_at: Millis,
    /// `now` plus the channel's window.
    pub deadline: Millis,
    /// Due at once.
    pub next_try_at: Millis,
    /// The notification's deadline: the claim does not send it from then.
    pub not_after: Option<Millis>,
    /// The text, copied from the notification's rendered channel.
    pub content: Rendered,
}

/// What one decision step writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The verdicts, one per plan channel (each backend encodes them its
    /// own way).
    pub verdicts: Vec<ChannelVerdict>,
    /// The notification's status.
    pub status: Status,
    /// When to decide again.
    pub wake_at: Option<Millis>,
    /// Attempts `decide` wants started; turn them into rows with
    /// `new_attempts` (only then are the rendered texts needed).
    pub start: Vec<StartAttempt>,
}

/// A fresh UUID v7 as a string (ids sort by creation time).
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Runs the decision on the recorded facts at `now`. Attempts stopped
/// before they were sent (cancelled, expired) are no facts: the schedule
/// says why their channel stopped.
pub(crate) fn step(
    plan: &Plan,
    schedule: &Schedule,
    attempts: &[AttemptRecord],
    now: Millis,
) -> Result<Step> {
    let facts: Vec<herald_core::AttemptFacts> = attempts
        .iter()
        .filter(|a| !a.status.is_stopped())
        .map(AttemptRecord::facts)
        .collect();
    let decision = decide_scheduled(plan, schedule, &facts, now);
    Ok(Step {
        verdicts: decision.channels,
        status: decision.status,
        wake_at: decision.wake_at,
        start: decision.start,
    })
}

/// The rows for the attempts a step starts: each with a fresh id, a fresh
/// idempotency key, its window from `now`, due at once, and the text of
/// its channel.
pub(crate) fn new_attempts(
    plan: &Plan,
    schedule: &Schedule,
    rendered: &[Option<Rendered>],
    start: &[StartAttempt],
    now: Millis,
) -> Result<Vec<NewAttempt>> {
    let mut out = Vec::with_capacity(start.len());
    for s in start {
        let ch = plan.channels.get(s.channel_idx).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "decide started channel {} outside the plan",
                s.channel_idx
            ))
        })?;
        let content = rendered
            .get(s.channel_idx)
            .and_then(Option::as_ref)
            .cloned()
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "notification has no rendered text for channel {} ({}) that must be sent",
                    s.channel_idx, ch.channel
                ))
            })?;
        out.push(NewAttempt {
            id: new_id(),
            channel_idx: s.channel_idx,
            channel: ch.channel,
            route: s.route.clone(),
            to: s.to.clone(),
            idempotency_key: new_id(),
            created_at: now,
            deadline: now.saturating_add(ch.window_ms_of(&s.route)),
            next_try_at: now,
            not_after: schedule.deliver_before,
            content,
        });
    }
    Ok(out)
}

/// Whether a receipt arriving at `at` is after the attempt's window (the
/// engine's own rule, so the stored flag and the outcome always agree).
pub(crate) fn is_late(deadline: Millis, at: Millis) -> bool {
    herald_core::engine::is_late_at(deadline, at)
}

/// Removes every installation of `app` with `token` from the recipient (a
/// push service said the token is unregistered). Returns whether anything
/// was removed.
pub(crate) fn remove_token(who: &mut Recipient, app: Channel, token: &str) -> bool {
    let before = who.apps.len();
    who.apps.retain(|a| !(a.app == app && a.token == token));
    who.apps.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttemptStatus;
    use herald_core::{AppInstall, ChannelPlan, Confirm, FallbackWhen, Reach, Scenario};

    fn plan() -> Plan {
        Plan {
            fallback_when: FallbackWhen::NoneDelivered,
            channels: vec![
                ChannelPlan {
                    channel: Channel::Email,
                    scenario: Scenario::Always,
                    reach: Reach::Addresses {
                        to: vec!["a@example.com".into()],
                    },
                    routes: vec!["email".into()],
                    confirm: Confirm::Accepted,
                    window_s: 300,
                },
                ChannelPlan {
                    channel: Channel::Sms,
                    scenario: Scenario::Fallback,
                    reach: Reach::Addresses {
                        to: vec!["+15550001111".into()],
                    },
                    routes: vec!["sms".into()],
                    confirm: Confirm::Receipt,
                    window_s: 600,
                },
            ],
        }
    }

    fn rendered() -> Vec<Option<Rendered>> {
        vec![
            Some(Rendered {
                subject: Some("Hi".into()),
                title: None,
                body: "mail".into(),
            }),
            Some(Rendered {
                subject: None,
                title: None,
                body: "sms".into(),
            }),
        ]
    }

    #[test]
    fn first_step_starts_email_only() {
        let s = step(&plan(), &Schedule::default(), &[], 1_000).unwrap();
        assert_eq!(s.status, Status::Pending);
        let new =
            new_attempts(&plan(), &Schedule::default(), &rendered(), &s.start, 1_000).unwrap();
        assert_eq!(new.len(), 1);
        let a = &new[0];
        assert_eq!(
            (a.channel_idx, a.channel, a.route.as_str()),
            (0, Channel::Email, "email")
        );
        assert_eq!(a.deadline, 1_000 + 300_000);
        assert_eq!(a.next_try_at, 1_000);
        assert_eq!(a.content.body, "mail");
        assert_ne!(a.id, a.idempotency_key);
    }

    #[test]
    fn refused_email_starts_sms() {
        let refused = AttemptRecord {
            id: new_id(),
            channel_idx: 0,
            channel: Channel::Email,
            route: "email".into(),
            to: "a@example.com".into(),
            idempotency_key: new_id(),
            provider_message_id: None,
            status: AttemptStatus::Refused,
            error: Some("550".into()),
            unreachable: false,
            requests: 1,
            created_at: 1_000,
            deadline: 301_000,
            sent_at: Some(1_000),
            answered_at: Some(2_000),
            cost_micros: None,
            receipts: vec![],
        };
        let s = step(&plan(), &Schedule::default(), &[refused], 2_000).unwrap();
        let new =
            new_attempts(&plan(), &Schedule::default(), &rendered(), &s.start, 2_000).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].channel, Channel::Sms);
        assert_eq!(new[0].deadline, 2_000 + 600_000);
    }

    #[test]
    fn missing_text_for_a_sent_channel_is_an_error() {
        let s = step(&plan(), &Schedule::default(), &[], 0).unwrap();
        let r = new_attempts(&plan(), &Schedule::default(), &[None, None], &s.start, 0);
        assert!(matches!(r, Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn removes_only_that_token_of_that_app() {
        let mut who = Recipient {
            apps: vec![
                AppInstall {
                    app: Channel::Aunio,
                    token: "t1".into(),
                    platform: None,
                },
                AppInstall {
                    app: Channel::BrandedApp,
                    token: "t1".into(),
                    platform: None,
                },
                AppInstall {
                    app: Channel::Aunio,
                    token: "t2".into(),
                    platform: None,
                },
            ],
            ..Recipient::default()
        };
        assert!(remove_token(&mut who, Channel::Aunio, "t1"));
        assert!(!remove_token(&mut who, Channel::Aunio, "t1"));
        assert_eq!(who.apps.len(), 2);
        assert!(is_late(10, 11));
        assert!(is_late(10, 10));
        assert!(!is_late(10, 9));
    }
}
