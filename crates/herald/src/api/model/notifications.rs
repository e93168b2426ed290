//! `/v1/notifications`: a trigger's answer, one notification's story, the
//! log and the dry run.

use super::Timestamp;
use herald_core::sms::Encoding;
use herald_core::{Channel, Outcome, PreviewChannel, Rendered, Scenario, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `202` to a new trigger: the notification is stored and its cascade
/// has started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TriggerAccepted {
    /// The notification's id.
    pub id: String,
    /// `pending`, or `scheduled` when it waits for its send time.
    pub status: Status,
}

/// The booking a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingView {
    /// The booking's id.
    pub id: String,
    /// When it starts (as last moved).
    pub starts_at: Timestamp,
}

/// A notification with every channel in the type's order: its outcome,
/// the reason, and every attempt with its receipts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    /// The notification's id.
    pub id: String,
    /// The notification type's key.
    #[serde(rename = "type")]
    pub type_key: String,
    /// `pending` until every channel has its outcome; then `delivered` when
    /// one delivered, else `failed`.
    pub status: Status,
    /// The client it is for (client types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The staff member it is for (staff types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// When it was triggered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The trigger's idempotency key, if it had one.
    #[schema(required)]
    pub idempotency_key: Option<String>,
    /// The trigger's `data`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// When its cascade starts (`null`: when it was triggered).
    pub send_at: Timestamp,
    /// No attempt starts at or after this time (`null`: no deadline).
    pub deliver_before: Timestamp,
    /// The booking it is about, if any.
    #[schema(required)]
    pub booking: Option<BookingView>,
    /// The channels in the type's order.
    pub channels: Vec<ChannelView>,
}

/// One channel of a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    /// The channel.
    pub channel: Channel,
    /// When it is sent.
    pub scenario: Scenario,
    /// Where the channel stands.
    pub outcome: Outcome,
    /// Why, in a sentence a support agent understands.
    pub reason: String,
    /// The routes tried in order (`["whatsapp", "sms"]`).
    pub routes: Vec<String>,
    /// The confirmation window in seconds.
    pub window_s: u32,
    /// The text as rendered for this recipient (`null` when the channel
    /// sends nothing).
    #[schema(required)]
    pub rendered: Option<Rendered>,
    /// When it starts (or started): its first attempt, else when its
    /// schedule lets it start; `null` when it will not or waits for
    /// earlier channels.
    pub planned_at: Timestamp,
    /// One entry per message to one address or device over one route.
    pub attempts: Vec<AttemptView>,
}

/// Where one attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatusName {
    /// Waiting to be sent.
    Queued,
    /// A transient error; it will be sent again with the same key.
    Retrying,
    /// Being sent now.
    Sending,
    /// The provider accepted it; no receipt inside the window yet.
    Accepted,
    /// A delivery receipt came inside the window.
    Delivered,
    /// A failure receipt came, or Herald gave up on it.
    Failed,
    /// The provider refused it for good.
    Rejected,
    /// The address or device token is dead (a push token is removed).
    Unregistered,
    /// Never sent: the notification was cancelled first.
    Cancelled,
    /// Never sent: its deadline came first.
    Expired,
}

impl AttemptStatusName {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatusName::Queued => "queued",
            AttemptStatusName::Retrying => "retrying",
            AttemptStatusName::Sending => "sending",
            AttemptStatusName::Accepted => "accepted",
            AttemptStatusName::Delivered => "delivered",
            AttemptStatusName::Failed => "failed",
            AttemptStatusName::Rejected => "rejected",
            AttemptStatusName::Unregistered => "unregistered",
            AttemptStatusName::Cancelled => "cancelled",
            AttemptStatusName::Expired => "expired",
        }
    }
}

/// What a receipt said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Delivered.
    Delivered,
    /// Not delivered.
    Failed,
}

impl ReceiptStatus {
    /// The API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Delivered => "delivered",
            ReceiptStatus::Failed => "failed",
        }
    }
}

/// One message to one address or device over one route; its retries carry
/// the same idempotency key and count in `requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    /// The attempt's id.
    pub id: String,
    /// Address, phone number or device token.
    pub to: String,
    /// The route (`sms`, `whatsapp`, or the channel's name).
    pub route: String,
    /// Where it stands: the first receipt inside the window decides.
    pub status: AttemptStatusName,
    /// The provider's last error, if any.
    #[schema(required)]
    pub error: Option<String>,
    /// How many send requests were made.
    pub requests: u32,
    /// The key every request of it carries.
    pub idempotency_key: String,
    /// The provider's message id once accepted.
    #[schema(required)]
    pub provider_message_id: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was first sent.
    pub sent_at: Timestamp,
    /// When the provider last answered.
    pub answered_at: Timestamp,
    /// When its confirmation window closes.
    pub deadline: Timestamp,
    /// Receipts in the order they came.
    pub receipts: Vec<ReceiptView>,
    /// What it cost (an SMS with a price per segment), in the business's
    /// currency.
    #[schema(required)]
    pub cost: Option<f64>,
    /// The SMS text's encoding (SMS route only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// Billed SMS parts (SMS route only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
}

/// A receipt of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    /// Delivered or failed.
    pub status: ReceiptStatus,
    /// When it came.
    pub at: Timestamp,
    /// `true` when it came after the confirmation window closed (it is
    /// shown, and does not change the outcome).
    pub late: bool,
    /// The provider's error, for a failure.
    #[schema(required)]
    pub error: Option<String>,
}

/// A line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationSummaryView {
    /// The notification's id (the `before=` cursor).
    pub id: String,
    /// The notification type's key.
    #[serde(rename = "type")]
    pub type_key: String,
    /// Its status.
    pub status: Status,
    /// The client it is for (client types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The staff member it is for (staff types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// When it was triggered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// One page of the log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationList {
    /// The notifications of this page.
    pub notifications: Vec<NotificationSummaryView>,
    /// The `before=` of the next page, `null` on the last.
    #[schema(required)]
    pub next: Option<String>,
}

/// A dry run: what each channel would do and why, and the texts; nothing
/// was stored or sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PreviewView {
    /// The notification type's key.
    #[serde(rename = "type")]
    pub type_key: String,
    /// The client (client types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The staff member (staff types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// The channels in the type's order.
    pub channels: Vec<PreviewChannelView>,
}

/// One channel of a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PreviewChannelView {
    /// What would happen and why.
    #[serde(flatten)]
    pub plan: PreviewChannel,
    /// The text that would be sent.
    #[schema(required)]
    pub rendered: Option<Rendered>,
    /// When it would start (`null`: it would not).
    pub starts_at: Timestamp,
    /// Why then, or why never (`at once` when nothing holds it).
    pub when: String,
    /// The SMS text's encoding (SMS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// Billed SMS parts (SMS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` (the CLI's words) is what goes over the wire.
    #[test]
    fn names_are_the_wire_names() {
        use AttemptStatusName as A;
        for s in [
            A::Queued,
            A::Retrying,
            A::Sending,
            A::Accepted,
            A::Delivered,
            A::Failed,
            A::Rejected,
            A::Unregistered,
            A::Cancelled,
            A::Expired,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in [ReceiptStatus::Delivered, ReceiptStatus::Failed] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    /// A view reads back as itself: the CLI parses what the API writes.
    #[test]
    fn a_notification_round_trips() {
        let v = NotificationView {
            id: "n1".into(),
            type_key: "reminder".into(),
            status: Status::Delivered,
            client: Some("c1".into()),
            staff: None,
            created_at: Timestamp(Some("2026-11-25T10:00:00.123Z".into())),
            updated_at: Timestamp(None),
            idempotency_key: None,
            data: serde_json::json!({"time": "10:00"}),
            send_at: Timestamp(Some("2026-11-25T09:00:00.000Z".into())),
            deliver_before: Timestamp(None),
            booking: Some(BookingView {
                id: "bk-1".into(),
                starts_at: Timestamp(Some("2026-11-26T09:00:00.000Z".into())),
            }),
            channels: vec![ChannelView {
                channel: Channel::Sms,
                scenario: Scenario::Fallback,
                outcome: Outcome::Delivered,
                reason: "delivered".into(),
                routes: vec!["sms".into()],
                window_s: 600,
                rendered: Some(Rendered {
                    subject: None,
                    title: None,
                    body: "Hi".into(),
                }),
                planned_at: Timestamp(None),
                attempts: vec![],
            }],
        };
        let json = serde_json::to_value(&v).unwrap();
        assert!(json.get("staff").is_none(), "{json}");
        assert_eq!(json["type"], "reminder");
        assert_eq!(json["updated_at"], serde_json::Value::Null);
        let back: NotificationView = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }
}
