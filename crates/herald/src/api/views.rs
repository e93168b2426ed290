//! Store records turned into the API's response types (`api::model`).
//! Timestamps are RFC 3339 UTC strings with milliseconds
//! (`2026-11-25T10:00:00.123Z`). The console reads the same views as JSON
//! values (`notification`, `preview`), so the page and the API never
//! disagree.

use super::error::ApiError;
use super::model::{
    AttemptStatusName, AttemptView, BookingView, ChannelView, IntegrationView,
    NotificationSummaryView, NotificationTypeView, NotificationView, PreviewChannelView,
    PreviewView, ReceiptStatus, ReceiptView, RecipientView, SimMessageView, Timestamp,
};
use crate::service::{Planned, PreviewItem};
use chrono::{DateTime, SecondsFormat};
use herald_core::{Audience, Millis, Outcome, Recipient};
use herald_store::{
    AttemptRecord, AttemptStatus, Integration, NotificationRecord, NotificationSummary,
    NotificationType, ReceiptRecord, SimMessage,
};
use serde_json::Value;

/// An epoch-milliseconds time as an RFC 3339 string (`None` if out of range).
pub fn time(ms: Millis) -> Timestamp {
    Timestamp(
        DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
    )
}

/// An optional time: `null` when not set.
pub fn opt_time(ms: Option<Millis>) -> Timestamp {
    ms.map(time).unwrap_or_default()
}

/// [`time`] as a JSON value (`null` if out of range).
pub fn timestamp(ms: Millis) -> Value {
    time(ms).0.map_or(Value::Null, Value::String)
}

/// The API name of a channel outcome.
pub fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Pending => "pending",
        Outcome::Delivered => "delivered",
        Outcome::Failed => "failed",
        Outcome::Unreachable => "unreachable",
        Outcome::Skipped => "skipped",
        Outcome::Expired => "expired",
        Outcome::Cancelled => "cancelled",
    }
}

/// An integration with its settings as they may be shown (redacted by
/// the caller: `App::integration_view` is the one place that does, and
/// adds `routes`, `webhook_url` and `inherited`).
pub fn integration(i: &Integration, shown_settings: Value) -> IntegrationView {
    IntegrationView {
        channel: i.channel,
        provider: i.provider.clone(),
        settings: shown_settings,
        confirm: i.confirm,
        window_s: i.window_s,
        max_per_second: i.max_per_second,
        price_per_segment: i.price_per_segment,
        updated_at: time(i.updated_at),
        routes: None,
        webhook_url: None,
        inherited: i.inherited,
    }
}

/// A notification type: its configuration plus `key` and `updated_at`.
pub fn notification_type(t: &NotificationType) -> NotificationTypeView {
    NotificationTypeView::new(&t.key, &t.config, time(t.updated_at))
}

/// A client or staff member: `id` plus the stored fields.
pub fn recipient(id: &str, r: &Recipient) -> RecipientView {
    RecipientView::new(id, r)
}

/// The API status of an attempt: the first receipt inside the window
/// decides (`delivered`/`failed`); else where the send stands.
pub fn attempt_status(a: &AttemptRecord) -> AttemptStatusName {
    use AttemptStatusName as S;
    if let Some(r) = a.receipts.iter().find(|r| !r.late) {
        return if r.delivered { S::Delivered } else { S::Failed };
    }
    match a.status {
        AttemptStatus::Queued if a.error.is_some() => S::Retrying,
        AttemptStatus::Queued => S::Queued,
        AttemptStatus::Sending => S::Sending,
        AttemptStatus::Accepted => S::Accepted,
        AttemptStatus::Refused if a.unreachable => S::Unregistered,
        AttemptStatus::Refused => S::Rejected,
        AttemptStatus::GaveUp => S::Failed,
        AttemptStatus::Cancelled => S::Cancelled,
        AttemptStatus::Expired => S::Expired,
    }
}

/// One receipt of an attempt.
fn receipt(r: &ReceiptRecord) -> ReceiptView {
    ReceiptView {
        status: if r.delivered {
            ReceiptStatus::Delivered
        } else {
            ReceiptStatus::Failed
        },
        at: time(r.at),
        late: r.late,
        error: r.error.clone(),
    }
}

/// One attempt: one message to one address over one route.
pub fn attempt(a: &AttemptRecord) -> AttemptView {
    AttemptView {
        id: a.id.clone(),
        to: a.to.clone(),
        route: a.route.clone(),
        status: attempt_status(a),
        error: a.error.clone(),
        requests: a.requests,
        idempotency_key: a.idempotency_key.clone(),
        provider_message_id: a.provider_message_id.clone(),
        created_at: time(a.created_at),
        sent_at: opt_time(a.sent_at),
        answered_at: opt_time(a.answered_at),
        deadline: time(a.deadline),
        receipts: a.receipts.iter().map(receipt).collect(),
        cost: a.cost_micros.map(|c| c as f64 / 1_000_000.0),
        encoding: None,
        segments: None,
    }
}

/// Whether an attempt goes out as an SMS (billed by the segment), not over
/// a messenger route of the SMS channel.
fn is_sms_route(channel: herald_core::Channel, route: &str) -> bool {
    channel == herald_core::Channel::Sms && route == "sms"
}

/// `(client, staff)`: the recipient's id under its audience's name.
fn who(audience: Audience, id: &str) -> (Option<String>, Option<String>) {
    match audience {
        Audience::Client => (Some(id.to_string()), None),
        Audience::Staff => (None, Some(id.to_string())),
    }
}

/// A notification with its channels in plan order, each with its outcome,
/// reason and attempts.
pub fn notification_view(n: &NotificationRecord) -> NotificationView {
    let channels = n
        .plan
        .channels
        .iter()
        .enumerate()
        .map(|(i, ch)| {
            let (outcome, reason) = match n.verdicts.get(i) {
                Some(v) => (v.outcome, v.reason.clone()),
                None => (
                    Outcome::Pending,
                    "waiting for its turn in the cascade".to_string(),
                ),
            };
            let text = n.rendered.get(i).and_then(Option::as_ref);
            let attempts = n
                .attempts
                .iter()
                .filter(|a| a.channel_idx == i)
                .map(|a| {
                    let mut v = attempt(a);
                    // What an SMS costs: its encoding and billed parts.
                    if let (true, Some(r)) = (is_sms_route(a.channel, &a.route), text) {
                        let size = herald_core::sms::sms_size(&r.body);
                        v.encoding = Some(size.encoding);
                        v.segments = Some(size.segments);
                    }
                    v
                })
                .collect();
            let first = n
                .attempts
                .iter()
                .filter(|a| a.channel_idx == i)
                .map(|a| a.created_at)
                .min();
            // Not started: when its schedule lets it, unless it is a
            // fallback that waits for earlier channels or it is final.
            let planned = first.or_else(|| {
                // A fallback waiting for earlier channels has no time yet.
                let waits = outcome == Outcome::Pending && !reason.starts_with("waiting:");
                waits
                    .then(|| n.schedule.planned_start(ch.channel, n.created_at).at)
                    .flatten()
            });
            ChannelView {
                channel: ch.channel,
                scenario: ch.scenario,
                outcome,
                reason,
                routes: ch.route_names(),
                window_s: ch.window_s,
                rendered: text.cloned(),
                planned_at: opt_time(planned),
                attempts,
            }
        })
        .collect();
    let (client, staff) = who(n.audience, &n.recipient_id);
    NotificationView {
        id: n.id.clone(),
        type_key: n.type_key.clone(),
        status: n.status,
        client,
        staff,
        created_at: time(n.created_at),
        updated_at: time(n.updated_at),
        idempotency_key: n.idempotency_key.clone(),
        data: n.data.clone(),
        send_at: opt_time(n.schedule.send_at),
        deliver_before: opt_time(n.schedule.deliver_before),
        booking: n.booking.as_ref().map(|b| BookingView {
            id: b.id.clone(),
            starts_at: opt_time(b.starts_at),
        }),
        channels,
    }
}

/// [`notification_view`] as a JSON value, as the console reads it.
pub fn notification(n: &NotificationRecord) -> Value {
    serde_json::to_value(notification_view(n)).unwrap_or(Value::Null)
}

/// A line of the notification log.
pub fn summary(s: &NotificationSummary) -> NotificationSummaryView {
    let (client, staff) = who(s.audience, &s.recipient_id);
    NotificationSummaryView {
        id: s.id.clone(),
        type_key: s.type_key.clone(),
        status: s.status,
        client,
        staff,
        created_at: time(s.created_at),
        updated_at: time(s.updated_at),
    }
}

/// A message in the simulator's outbox.
pub fn sim_message(m: &SimMessage) -> SimMessageView {
    SimMessageView {
        id: m.id.clone(),
        notification_id: m.notification_id.clone(),
        channel: m.channel,
        route: m.route.clone(),
        to: m.to.clone(),
        subject: m.subject.clone(),
        title: m.title.clone(),
        body: m.body.clone(),
        idempotency_key: m.idempotency_key.clone(),
        requests: m.requests,
        outcome: m.outcome.clone(),
        received_at: time(m.received_at),
    }
}

/// A dry run: the type, the recipient and what each channel would do.
pub fn preview_view(planned: &Planned, items: &[PreviewItem]) -> PreviewView {
    let channels = items
        .iter()
        .map(|item| {
            let size = match (&item.rendered, item.channel.channel) {
                (Some(r), herald_core::Channel::Sms) => Some(herald_core::sms::sms_size(&r.body)),
                _ => None,
            };
            PreviewChannelView {
                plan: item.channel.clone(),
                rendered: item.rendered.clone(),
                starts_at: opt_time(item.start.at),
                when: item.start.why.clone().unwrap_or_else(|| "at once".into()),
                encoding: size.map(|s| s.encoding),
                segments: size.map(|s| s.segments),
            }
        })
        .collect();
    let (client, staff) = who(planned.audience, &planned.recipient_id);
    PreviewView {
        type_key: planned.type_key.clone(),
        client,
        staff,
        channels,
    }
}

/// [`preview_view`] as a JSON value, as the console reads it.
pub fn preview(planned: &Planned, items: &[PreviewItem]) -> Result<Value, ApiError> {
    serde_json::to_value(preview_view(planned, items)).map_err(ApiError::internal)
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod tests;
