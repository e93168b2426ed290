//! The storage conformance suite: checks every `Store` backend must pass.
//! Each `check_*` takes a `&dyn Store` (or an `Arc<dyn Store>` when it
//! spawns tasks, or a `Vec<Arc<dyn Store>>` of several nodes' handles to
//! one database) on a fresh, empty database, so any backend's test file
//! can run them with `mod conformance;`.

#![allow(dead_code)]

mod bulk;
mod cascade;
mod config;
mod log;
mod nodes;
mod retention;
mod schedule;
mod sim;
mod window;

pub use bulk::*;
pub use cascade::*;
pub use config::*;
pub use log::*;
pub use nodes::*;
pub use retention::*;
pub use schedule::*;
pub use sim::*;
pub use window::*;

/// Calls `$runner!(…)` with every check that takes one store, so each
/// backend's test file runs the same list and a new check cannot be left
/// out of one of them.
#[allow(unused_macros)] // a test file that runs no list of checks
macro_rules! every_check {
    ($runner:ident) => {
        $runner!(
            check_tenant_by_key,
            check_config_round_trip,
            check_accept_creates_first_attempts,
            check_idempotency,
            check_claim_and_lease,
            check_accepted_email_delivers,
            check_refused_email_falls_back_to_sms,
            check_receipts,
            check_receipt_window_and_late_receipt,
            check_dead_push_token_removed,
            check_list_notifications,
            check_list_filters,
            check_window_lapsed_attempt_is_not_sent,
            check_receipts_stay_within_their_integration,
            check_claim_budget_is_fair,
            check_remove_and_list_people,
            check_dispatch_round,
            check_scheduled_notification_waits_for_its_time,
            check_cancel_stops_queued_attempts,
            check_claim_expires_past_the_deadline,
            check_booking_cancel_and_move,
            check_tenant_timezone,
            check_prune_finished,
            check_idempotency_keys_expire,
        );
    };
}
#[allow(unused_imports)]
pub(crate) use every_check;

use herald_core::{
    Audience, Channel, ChannelPlan, Confirm, FallbackWhen, Plan, Reach, Rendered, Scenario,
};
use herald_store::{
    Accepted, AttemptRecord, NewNotification, NotificationRecord, SendOutcome, SendResult, Store,
    Tenant,
};

pub const T0: i64 = 1_700_000_000_000;

pub fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A tenant with no integrations.
pub async fn bare_tenant(store: &dyn Store) -> String {
    let t = Tenant {
        id: id(),
        name: "Salon".into(),
        created_at: T0,
    };
    store
        .create_tenant(&t, &format!("sha-{}", t.id))
        .await
        .unwrap();
    t.id
}

/// A tenant with a simulator integration on every channel.
pub async fn new_tenant(store: &dyn Store) -> String {
    let t = Tenant {
        id: bare_tenant(store).await,
        name: "Salon".into(),
        created_at: T0,
    };
    // Attempts are claimed with the hook of the channel's integration, and
    // receipts match only within it: every channel gets one.
    for ch in Channel::ALL {
        let i = herald_store::Integration {
            channel: ch,
            provider: "simulator".into(),
            settings: serde_json::json!({}),
            confirm: ch.default_confirm(),
            window_s: ch.default_window_s(),
            updated_at: T0,
            hook_id: hook(&t.id, ch),
            inherited: false,
            max_per_second: None,
            price_per_segment: None,
        };
        store
            .put_integration(herald_store::Owner::Tenant(&t.id), &i)
            .await
            .unwrap();
    }
    t.id
}

/// The hook id of a tenant's integration of a channel (see `new_tenant`).
pub fn hook(tenant: &str, ch: Channel) -> String {
    format!("hook-{tenant}-{}", ch.as_str())
}

pub fn channel(
    ch: Channel,
    scenario: Scenario,
    to: &[&str],
    confirm: Confirm,
    window_s: u32,
) -> ChannelPlan {
    ChannelPlan {
        channel: ch,
        scenario,
        reach: Reach::Addresses {
            to: to.iter().map(|s| s.to_string()).collect(),
        },
        routes: vec![ch.as_str().into()],
        confirm,
        window_s,
    }
}

pub fn email() -> ChannelPlan {
    channel(
        Channel::Email,
        Scenario::Always,
        &["ana@example.com"],
        Confirm::Accepted,
        300,
    )
}

pub fn fallback_sms() -> ChannelPlan {
    channel(
        Channel::Sms,
        Scenario::Fallback,
        &["+15550001111"],
        Confirm::Receipt,
        600,
    )
}

/// An SMS sent always, confirmed by its receipt within ten minutes.
pub fn receipt_sms() -> ChannelPlan {
    channel(
        Channel::Sms,
        Scenario::Always,
        &["+15550001111"],
        Confirm::Receipt,
        600,
    )
}

pub fn plan(channels: Vec<ChannelPlan>) -> Plan {
    Plan {
        fallback_when: FallbackWhen::NoneDelivered,
        channels,
    }
}

pub fn notification(tenant: &str, plan: Plan, created_at: i64) -> NewNotification {
    let rendered = plan
        .channels
        .iter()
        .map(|c| {
            Some(Rendered {
                subject: (c.channel == Channel::Email).then(|| "Your visit".to_string()),
                title: c.channel.is_push().then(|| "Reminder".to_string()),
                body: format!("text for {}", c.channel),
            })
        })
        .collect();
    NewNotification {
        id: id(),
        tenant_id: tenant.to_string(),
        type_key: "appointment_reminder".into(),
        audience: Audience::Client,
        recipient_id: "client-1".into(),
        data: serde_json::json!({"client_name": "Ana"}),
        idempotency_key: None,
        keys_expire_before: None,
        request_sha256: "body-sha".into(),
        plan,
        rendered,
        created_at,
        schedule: Default::default(),
        booking: None,
    }
}

pub async fn accept(store: &dyn Store, n: NewNotification) -> String {
    match store.accept_notification(n).await.unwrap() {
        Accepted::Created(id) => id,
        other => panic!("expected Created, got {other:?}"),
    }
}

pub async fn get(store: &dyn Store, tenant: &str, id: &str) -> NotificationRecord {
    store
        .get_notification(tenant, id)
        .await
        .unwrap()
        .expect("notification exists")
}

pub fn of(rec: &NotificationRecord, ch: Channel) -> Vec<&AttemptRecord> {
    rec.attempts.iter().filter(|a| a.channel == ch).collect()
}

pub async fn answer(store: &dyn Store, attempt_id: &str, at: i64, outcome: SendOutcome) {
    store
        .record_send_results(vec![SendResult {
            attempt_id: attempt_id.to_string(),
            at,
            outcome,
        }])
        .await
        .unwrap();
}

pub fn accepted(pm: &str) -> SendOutcome {
    SendOutcome::Accepted {
        provider_message_id: Some(pm.to_string()),
        cost_micros: None,
    }
}
