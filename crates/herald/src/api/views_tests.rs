//! Tests of the API's views: attempt statuses, timestamps, a notification
//! in plan order, summaries and recipients.

use super::*;
use herald_core::Rendered;
use herald_core::{
    Channel, ChannelPlan, ChannelVerdict, Confirm, FallbackWhen, Plan, Reach, Scenario, Status,
};
use serde_json::json;

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
    let attempt_status = |a: &AttemptRecord| serde_json::to_value(attempt_status(a)).unwrap();
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
        schedule: Default::default(),
        booking: None,
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
    let v = serde_json::to_value(summary(&s)).unwrap();
    assert_eq!(v["staff"], "s1");
    assert_eq!(v["status"], "failed");
    let r = Recipient {
        name: Some("Ana".into()),
        ..Default::default()
    };
    let v = serde_json::to_value(recipient("c1", &r)).unwrap();
    assert_eq!(v["id"], "c1");
    assert_eq!(v["name"], "Ana");
    assert_eq!(v["apps"], json!([]));
}
