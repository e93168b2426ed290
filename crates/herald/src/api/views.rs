//! Store records turned into the API's JSON shapes. Timestamps are RFC 3339
//! UTC strings with milliseconds (`2026-11-25T10:00:00.123Z`).

use super::error::ApiError;
use crate::service::{Planned, PreviewItem};
use chrono::{DateTime, SecondsFormat};
use herald_core::{Audience, Millis, Outcome, Recipient, Rendered};
use herald_store::{
    AttemptRecord, AttemptStatus, Integration, NotificationRecord, NotificationSummary,
    NotificationType, ReceiptRecord, SimMessage,
};
use serde_json::{json, Map, Value};

/// An epoch-milliseconds time as an RFC 3339 string (`null` if out of range).
pub fn timestamp(ms: Millis) -> Value {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => Value::Null,
    }
}

/// An optional time, `null` when absent.
fn opt_timestamp(ms: Option<Millis>) -> Value {
    ms.map_or(Value::Null, timestamp)
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
/// the caller: `App::integration_view` is the one place that does).
pub fn integration(i: &Integration, shown_settings: Value) -> Value {
    json!({
        "channel": i.channel.as_str(),
        "provider": i.provider,
        "settings": shown_settings,
        "confirm": match i.confirm {
            herald_core::Confirm::Accepted => "accepted",
            herald_core::Confirm::Receipt => "receipt",
        },
        "window_s": i.window_s,
        "max_per_second": i.max_per_second,
        "price_per_segment": i.price_per_segment,
        "updated_at": timestamp(i.updated_at),
    })
}

/// A notification type: its configuration plus `key` and `updated_at`.
pub fn notification_type(t: &NotificationType) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(&t.config).map_err(ApiError::internal)?;
    let Some(obj) = v.as_object_mut() else {
        return Err(ApiError::internal(
            "a type config did not serialize to an object",
        ));
    };
    obj.insert("key".into(), Value::String(t.key.clone()));
    obj.insert("updated_at".into(), timestamp(t.updated_at));
    Ok(v)
}

/// A client or staff member: `id` plus the stored fields.
pub fn recipient(id: &str, r: &Recipient) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(r).map_err(ApiError::internal)?;
    let Some(obj) = v.as_object_mut() else {
        return Err(ApiError::internal(
            "a recipient did not serialize to an object",
        ));
    };
    obj.insert("id".into(), Value::String(id.to_string()));
    Ok(v)
}

/// A rendered text as the preview shows it, so the two compare equal.
fn rendered(r: Option<&Rendered>) -> Value {
    r.and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or(Value::Null)
}

/// The API status of an attempt: the first receipt inside the window
/// decides (`delivered`/`failed`); else where the send stands.
pub fn attempt_status(a: &AttemptRecord) -> &'static str {
    if let Some(r) = a.receipts.iter().find(|r| !r.late) {
        return if r.delivered { "delivered" } else { "failed" };
    }
    match a.status {
        AttemptStatus::Queued if a.error.is_some() => "retrying",
        AttemptStatus::Queued => "queued",
        AttemptStatus::Sending => "sending",
        AttemptStatus::Accepted => "accepted",
        AttemptStatus::Refused if a.unreachable => "unregistered",
        AttemptStatus::Refused => "rejected",
        AttemptStatus::GaveUp => "failed",
    }
}

/// One receipt of an attempt.
fn receipt(r: &ReceiptRecord) -> Value {
    json!({
        "status": if r.delivered { "delivered" } else { "failed" },
        "at": timestamp(r.at),
        "late": r.late,
        "error": r.error,
    })
}

/// One attempt: one message to one address over one route.
pub fn attempt(a: &AttemptRecord) -> Value {
    json!({
        "id": a.id,
        "to": a.to,
        "route": a.route,
        "status": attempt_status(a),
        "error": a.error,
        "requests": a.requests,
        "idempotency_key": a.idempotency_key,
        "provider_message_id": a.provider_message_id,
        "created_at": timestamp(a.created_at),
        "sent_at": opt_timestamp(a.sent_at),
        "answered_at": opt_timestamp(a.answered_at),
        "deadline": timestamp(a.deadline),
        "receipts": a.receipts.iter().map(receipt).collect::<Vec<_>>(),
        "cost": a.cost_micros.map(|c| c as f64 / 1_000_000.0),
    })
}

/// Whether an attempt goes out as an SMS (billed by the segment), not over
/// a messenger route of the SMS channel.
fn is_sms_route(channel: herald_core::Channel, route: &str) -> bool {
    channel == herald_core::Channel::Sms && route == "sms"
}

/// Adds `encoding` and `segments` of an SMS text to an object.
fn add_sms_size(obj: &mut Map<String, Value>, body: &str) {
    let size = herald_core::sms::sms_size(body);
    obj.insert("encoding".into(), json!(size.encoding.as_str()));
    obj.insert("segments".into(), json!(size.segments));
}

/// Sets `"client": id` or `"staff": id` on an object.
fn set_recipient(v: &mut Value, audience: Audience, id: &str) {
    if let Some(obj) = v.as_object_mut() {
        obj.insert(audience.as_str().into(), Value::String(id.to_string()));
    }
}

/// A notification with its channels in plan order, each with its outcome,
/// reason and attempts.
pub fn notification(n: &NotificationRecord) -> Value {
    let channels: Vec<Value> = n
        .plan
        .channels
        .iter()
        .enumerate()
        .map(|(i, ch)| {
            let (outcome, reason) = match n.verdicts.get(i) {
                Some(v) => (outcome_str(v.outcome), v.reason.clone()),
                None => ("pending", "waiting for its turn in the cascade".to_string()),
            };
            let text = n.rendered.get(i).and_then(Option::as_ref);
            let attempts: Vec<Value> = n
                .attempts
                .iter()
                .filter(|a| a.channel_idx == i)
                .map(|a| {
                    let mut v = attempt(a);
                    // What an SMS costs: its encoding and billed parts.
                    if let (true, Some(r), Some(obj)) =
                        (is_sms_route(a.channel, &a.route), text, v.as_object_mut())
                    {
                        add_sms_size(obj, &r.body);
                    }
                    v
                })
                .collect();
            json!({
                "channel": ch.channel.as_str(),
                "scenario": ch.scenario.as_str(),
                "outcome": outcome,
                "reason": reason,
                "routes": ch.route_names(),
                "window_s": ch.window_s,
                "rendered": rendered(n.rendered.get(i).and_then(Option::as_ref)),
                "attempts": attempts,
            })
        })
        .collect();
    let mut v = json!({
        "id": n.id,
        "type": n.type_key,
        "status": n.status.as_str(),
        "created_at": timestamp(n.created_at),
        "updated_at": timestamp(n.updated_at),
        "idempotency_key": n.idempotency_key,
        "data": n.data,
        "channels": channels,
    });
    set_recipient(&mut v, n.audience, &n.recipient_id);
    v
}

/// A line of the notification log.
pub fn summary(s: &NotificationSummary) -> Value {
    let mut v = json!({
        "id": s.id,
        "type": s.type_key,
        "status": s.status.as_str(),
        "created_at": timestamp(s.created_at),
        "updated_at": timestamp(s.updated_at),
    });
    set_recipient(&mut v, s.audience, &s.recipient_id);
    v
}

/// A message in the simulator's outbox.
pub fn sim_message(m: &SimMessage) -> Value {
    json!({
        "id": m.id,
        "notification_id": m.notification_id,
        "channel": m.channel.as_str(),
        "route": m.route,
        "to": m.to,
        "subject": m.subject,
        "title": m.title,
        "body": m.body,
        "idempotency_key": m.idempotency_key,
        "requests": m.requests,
        "outcome": m.outcome,
        "received_at": timestamp(m.received_at),
    })
}

/// A dry run: the type, the recipient and what each channel would do.
pub fn preview(planned: &Planned, items: &[PreviewItem]) -> Result<Value, ApiError> {
    let mut channels = serde_json::to_value(items).map_err(ApiError::internal)?;
    if let Some(list) = channels.as_array_mut() {
        for (item, v) in items.iter().zip(list.iter_mut()) {
            if item.channel.channel != herald_core::Channel::Sms {
                continue;
            }
            if let (Some(r), Some(obj)) = (&item.rendered, v.as_object_mut()) {
                add_sms_size(obj, &r.body);
            }
        }
    }
    let mut obj = Map::new();
    obj.insert("type".into(), Value::String(planned.type_key.clone()));
    obj.insert(
        planned.audience.as_str().into(),
        Value::String(planned.recipient_id.clone()),
    );
    obj.insert("channels".into(), channels);
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::{
        Channel, ChannelPlan, ChannelVerdict, Confirm, FallbackWhen, Plan, Reach, Scenario, Status,
    };

    fn att(status: AttemptStatus) -> AttemptRecord {
        AttemptRecord {
            id: "a1".into(),
            channel_idx: 0,
            channel: Channel::Sms,
            route: "sms".into(),
            to: "+15550001111".into(),
            idempotency_key: "k".into(),
            provider_message_id: None,
            status,
            error: None,
            unreachable: false,
            requests: 1,
            created_at: 0,
            deadline: 600_000,
            sent_at: Some(1),
            answered_at: None,
            cost_micros: None,
            receipts: vec![],
        }
    }

    fn rc(delivered: bool, late: bool) -> ReceiptRecord {
        ReceiptRecord {
            delivered,
            at: 5,
            late,
            error: None,
        }
    }

    #[test]
    fn attempt_statuses() {
        assert_eq!(attempt_status(&att(AttemptStatus::Queued)), "queued");
        let mut a = att(AttemptStatus::Queued);
        a.error = Some("429".into());
        assert_eq!(attempt_status(&a), "retrying");
        assert_eq!(attempt_status(&att(AttemptStatus::Sending)), "sending");
        assert_eq!(attempt_status(&att(AttemptStatus::Accepted)), "accepted");
        assert_eq!(attempt_status(&att(AttemptStatus::Refused)), "rejected");
        let mut a = att(AttemptStatus::Refused);
        a.unreachable = true;
        assert_eq!(attempt_status(&a), "unregistered");
        assert_eq!(attempt_status(&att(AttemptStatus::GaveUp)), "failed");

        let mut a = att(AttemptStatus::Accepted);
        a.receipts = vec![rc(true, false)];
        assert_eq!(attempt_status(&a), "delivered");
        a.receipts = vec![rc(false, false), rc(true, false)];
        assert_eq!(attempt_status(&a), "failed");
        a.receipts = vec![rc(true, true)];
        assert_eq!(attempt_status(&a), "accepted");
        a.receipts = vec![rc(true, true), rc(false, false)];
        assert_eq!(attempt_status(&a), "failed");
    }

    #[test]
    fn timestamps_are_rfc3339_millis_utc() {
        assert_eq!(timestamp(0), json!("1970-01-01T00:00:00.000Z"));
        assert_eq!(
            timestamp(1_795_600_800_123),
            json!("2026-11-25T10:00:00.123Z")
        );
        assert_eq!(timestamp(i64::MAX), Value::Null);
    }

    fn record() -> NotificationRecord {
        let plan_ch = |channel, scenario| ChannelPlan {
            channel,
            scenario,
            reach: Reach::Addresses {
                to: vec!["x".into()],
            },
            routes: vec![channel.as_str().into()],
            confirm: Confirm::Accepted,
            window_s: 300,
        };
        let mut second = att(AttemptStatus::Refused);
        second.channel_idx = 1;
        second.id = "a2".into();
        NotificationRecord {
            id: "n1".into(),
            tenant_id: "t".into(),
            type_key: "reminder".into(),
            audience: Audience::Client,
            recipient_id: "c1".into(),
            data: json!({"client_name": "Ana"}),
            idempotency_key: None,
            status: Status::Pending,
            created_at: 0,
            updated_at: 0,
            plan: Plan {
                fallback_when: FallbackWhen::NoneDelivered,
                channels: vec![
                    plan_ch(Channel::Email, Scenario::Always),
                    plan_ch(Channel::Sms, Scenario::Fallback),
                ],
            },
            rendered: vec![
                Some(Rendered {
                    subject: Some("Hi".into()),
                    title: None,
                    body: "Body".into(),
                }),
                None,
            ],
            verdicts: vec![ChannelVerdict {
                outcome: Outcome::Delivered,
                reason: "accepted by the provider".into(),
            }],
            wake_at: None,
            attempts: vec![att(AttemptStatus::Accepted), second],
        }
    }

    #[test]
    fn notification_view_in_plan_order() {
        let v = notification(&record());
        assert_eq!(v["id"], "n1");
        assert_eq!(v["type"], "reminder");
        assert_eq!(v["status"], "pending");
        assert_eq!(v["client"], "c1");
        assert!(v.get("staff").is_none());
        let chs = v["channels"].as_array().unwrap();
        assert_eq!(chs.len(), 2);
        assert_eq!(chs[0]["channel"], "email");
        assert_eq!(chs[0]["outcome"], "delivered");
        assert_eq!(chs[0]["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(chs[0]["attempts"][0]["status"], "accepted");
        assert_eq!(chs[0]["rendered"], json!({"subject": "Hi", "body": "Body"}));
        assert_eq!(chs[1]["channel"], "sms");
        assert_eq!(chs[1]["scenario"], "fallback");
        assert_eq!(chs[1]["outcome"], "pending");
        assert_eq!(chs[1]["attempts"][0]["status"], "rejected");
        assert_eq!(chs[1]["attempts"][0]["sent_at"], "1970-01-01T00:00:00.001Z");
    }

    #[test]
    fn summary_and_recipient_views() {
        let s = NotificationSummary {
            id: "n1".into(),
            type_key: "t".into(),
            audience: Audience::Staff,
            recipient_id: "s1".into(),
            status: Status::Failed,
            created_at: 0,
            updated_at: 0,
        };
        let v = summary(&s);
        assert_eq!(v["staff"], "s1");
        assert_eq!(v["status"], "failed");
        let r = Recipient {
            name: Some("Ana".into()),
            ..Default::default()
        };
        let v = recipient("c1", &r).unwrap();
        assert_eq!(v["id"], "c1");
        assert_eq!(v["name"], "Ana");
        assert_eq!(v["apps"], json!([]));
    }
}
