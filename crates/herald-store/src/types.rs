//! The records of notifications the store reads and writes, in domain
//! terms: types, new notifications, attempts, receipts and the log's
//! views. Setup records are in `setup_types`, the worker's in `send_types`.

use herald_core::{
    AttemptState, Audience, Channel, ChannelVerdict, Millis, Plan, Rendered, Schedule, Status,
    TypeConfig,
};
use serde::{Deserialize, Serialize};

/// A notification type as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationType {
    /// Its key, e.g. `appointment_reminder`.
    pub key: String,
    /// Its configuration.
    pub config: TypeConfig,
    /// Last change.
    pub updated_at: Millis,
}

/// A notification ready to be stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNotification {
    /// A fresh id (UUID v7, so ids sort by creation).
    pub id: String,
    /// Whose.
    pub tenant_id: String,
    /// The type key.
    pub type_key: String,
    /// Client or staff.
    pub audience: Audience,
    /// The recipient's id.
    pub recipient_id: String,
    /// The trigger's data.
    pub data: serde_json::Value,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Keys of notifications created before this time have expired
    /// (`--idempotency-hours`): such a key is free again, whether or not
    /// the pruner has come by yet. `None`: keys never expire.
    pub keys_expire_before: Option<Millis>,
    /// SHA-256 of the trigger body, to tell a retry from a different request.
    pub request_sha256: String,
    /// The cascade plan.
    pub plan: Plan,
    /// The rendered text per channel (same index as the plan); `None` for
    /// channels that cannot be sent.
    pub rendered: Vec<Option<Rendered>>,
    /// Acceptance time; also `now` for the first decision.
    pub created_at: Millis,
    /// When it may send (send time, deadline, quiet hours).
    #[serde(default)]
    pub schedule: Schedule,
    /// The appointment it is about.
    #[serde(default)]
    pub booking: Option<BookingLink>,
}

/// How a notification is tied to its booking, so that a move of the
/// booking knows which of its times follow the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingLink {
    /// The booking's id (the tenant's own).
    pub id: String,
    /// When the appointment starts.
    pub starts_at: Option<Millis>,
    /// The send time is this long before the start (`send_before_start`).
    pub send_before_start_ms: Option<Millis>,
    /// The deadline is the start (no `deliver_before` was given).
    pub deadline_from_booking: bool,
}

/// What a booking cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingCancelled {
    /// Notifications cancelled now (scheduled or pending).
    pub cancelled: usize,
    /// Notifications that had already finished (sent, failed, expired).
    pub already_sent: usize,
}

/// What `accept_notification` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored as new.
    Created(String),
    /// The same key and the same body were seen before: that notification.
    Existing(String),
    /// The same key with a different body: that notification's id.
    Conflict(String),
}

/// One receipt of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    /// `delivered` or `failed`.
    pub delivered: bool,
    /// When it arrived.
    pub at: Millis,
    /// Whether it came after the window closed.
    pub late: bool,
    /// The provider's reason for a failure.
    pub error: Option<String>,
}

/// Where an attempt is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Waiting to be sent (first time or retry).
    Queued,
    /// Claimed by a worker; lease running.
    Sending,
    /// The provider accepted it.
    Accepted,
    /// The provider refused it for good.
    Refused,
    /// Transient errors until the window closed.
    GaveUp,
    /// Never sent: the notification was cancelled before it was claimed.
    Cancelled,
    /// Never sent: its deadline came before it was claimed.
    Expired,
}

impl AttemptStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Queued => "queued",
            AttemptStatus::Sending => "sending",
            AttemptStatus::Accepted => "accepted",
            AttemptStatus::Refused => "refused",
            AttemptStatus::GaveUp => "gave_up",
            AttemptStatus::Cancelled => "cancelled",
            AttemptStatus::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<AttemptStatus> {
        Some(match s {
            "queued" => AttemptStatus::Queued,
            "sending" => AttemptStatus::Sending,
            "accepted" => AttemptStatus::Accepted,
            "refused" => AttemptStatus::Refused,
            "gave_up" => AttemptStatus::GaveUp,
            "cancelled" => AttemptStatus::Cancelled,
            "expired" => AttemptStatus::Expired,
            _ => return None,
        })
    }

    /// Stopped before it was ever sent (cancelled or expired): not a fact
    /// the cascade decides on, the schedule says why the channel stopped.
    pub fn is_stopped(self) -> bool {
        matches!(self, AttemptStatus::Cancelled | AttemptStatus::Expired)
    }
}

/// One attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Its id.
    pub id: String,
    /// The channel's index in the plan.
    pub channel_idx: usize,
    /// The channel.
    pub channel: Channel,
    /// The route.
    pub route: String,
    /// Address or device token.
    pub to: String,
    /// Fixed before the first send; every retry carries it.
    pub idempotency_key: String,
    /// The provider's id for the message, once known.
    pub provider_message_id: Option<String>,
    /// Where it is.
    pub status: AttemptStatus,
    /// The provider's last error.
    pub error: Option<String>,
    /// For `Refused`: the address is dead / not on this route.
    pub unreachable: bool,
    /// How many send requests were made.
    pub requests: u32,
    /// When stored (window start).
    pub created_at: Millis,
    /// End of the confirmation window.
    pub deadline: Millis,
    /// First send request.
    pub sent_at: Option<Millis>,
    /// When the provider's final answer (accept/refuse/give up) was recorded.
    pub answered_at: Option<Millis>,
    /// What it cost, in millionths of the price's unit, when priced.
    #[serde(default)]
    pub cost_micros: Option<i64>,
    /// Receipts in arrival order.
    pub receipts: Vec<ReceiptRecord>,
}

impl AttemptRecord {
    /// The facts `decide` needs.
    pub fn facts(&self) -> herald_core::AttemptFacts {
        let at = self.answered_at.unwrap_or(self.created_at);
        let state = match self.status {
            AttemptStatus::Queued
            | AttemptStatus::Sending
            | AttemptStatus::Cancelled
            | AttemptStatus::Expired => AttemptState::Open,
            AttemptStatus::Accepted => AttemptState::Accepted { at },
            AttemptStatus::Refused => AttemptState::Refused {
                at,
                error: self.error.clone().unwrap_or_default(),
                unreachable: self.unreachable,
            },
            AttemptStatus::GaveUp => AttemptState::GaveUp {
                at,
                error: self.error.clone().unwrap_or_default(),
            },
        };
        herald_core::AttemptFacts {
            channel_idx: self.channel_idx,
            route: self.route.clone(),
            to: self.to.clone(),
            created_at: self.created_at,
            state,
            receipts: self
                .receipts
                .iter()
                .map(|r| herald_core::ReceiptFact {
                    delivered: r.delivered,
                    at: r.at,
                    error: r.error.clone(),
                })
                .collect(),
        }
    }
}

/// A notification with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// Its id.
    pub id: String,
    /// Whose.
    pub tenant_id: String,
    /// Type key.
    pub type_key: String,
    /// Client or staff.
    pub audience: Audience,
    /// Recipient id.
    pub recipient_id: String,
    /// The trigger's data.
    pub data: serde_json::Value,
    /// The caller's key.
    pub idempotency_key: Option<String>,
    /// Overall status.
    pub status: Status,
    /// Accepted at.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// The plan.
    pub plan: Plan,
    /// Rendered texts per channel.
    pub rendered: Vec<Option<Rendered>>,
    /// The latest verdict per channel.
    pub verdicts: Vec<ChannelVerdict>,
    /// When the cascade looks again.
    pub wake_at: Option<Millis>,
    /// Attempts, oldest first.
    pub attempts: Vec<AttemptRecord>,
    /// When it may send.
    #[serde(default)]
    pub schedule: Schedule,
    /// The appointment it is about.
    #[serde(default)]
    pub booking: Option<BookingLink>,
}

/// A line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSummary {
    /// Its id.
    pub id: String,
    /// Type key.
    pub type_key: String,
    /// Client or staff.
    pub audience: Audience,
    /// Recipient id.
    pub recipient_id: String,
    /// Overall status.
    pub status: Status,
    /// Accepted at.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// Filters of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this type.
    pub type_key: Option<String>,
    /// At most this many.
    pub limit: usize,
    /// Only ids strictly before (older than) this one.
    pub before: Option<String>,
    /// Only those with an attempt over this channel (something was sent,
    /// or tried, over it).
    pub channel: Option<Channel>,
    /// Only those created at or after this time.
    pub created_from: Option<Millis>,
    /// Only those created before this time.
    pub created_before: Option<Millis>,
    /// Only those whose recipient id contains this text (ASCII case
    /// ignored).
    pub recipient_contains: Option<String>,
}

impl ListQuery {
    /// `recipient_contains` as a `LIKE` pattern with `\` escaping, so a
    /// `%` or `_` in the search matches only itself.
    pub fn recipient_pattern(&self) -> Option<String> {
        self.recipient_contains.as_ref().map(|r| {
            let mut p = String::with_capacity(r.len() + 2);
            p.push('%');
            for ch in r.chars() {
                if matches!(ch, '%' | '_' | '\\') {
                    p.push('\\');
                }
                p.push(ch);
            }
            p.push('%');
            p
        })
    }
}
