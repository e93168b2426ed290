//! The records the store reads and writes, in domain terms.

use herald_core::{
    AttemptState, Audience, Channel, ChannelVerdict, Confirm, Millis, Plan, Rendered, Schedule,
    Status, TypeConfig,
};
use serde::{Deserialize, Serialize};

/// A business using Herald.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: Millis,
}

/// A tenant's provider for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// The channel.
    pub channel: Channel,
    /// `simulator`, `smtp`, …
    pub provider: String,
    /// Provider settings, secrets included (never returned by the API).
    pub settings: serde_json::Value,
    /// What counts as delivered.
    pub confirm: Confirm,
    /// The confirmation window in seconds.
    pub window_s: u32,
    /// Last change.
    pub updated_at: Millis,
    /// The random id of its receipt webhook (`/v1/hooks/{hook_id}`).
    #[serde(default)]
    pub hook_id: String,
    /// At most this many sends a second through it (`None`: no bound).
    #[serde(default)]
    pub max_per_second: Option<f64>,
    /// What one SMS segment costs through it (`None`: not priced).
    #[serde(default)]
    pub price_per_segment: Option<f64>,
    /// Not the tenant's own: the operator's, which the tenant uses (never
    /// stored; set when a tenant's integrations are listed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inherited: bool,
}

/// Whose an integration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A tenant's own.
    Tenant(&'a str),
    /// The operator's, used by every tenant without its own.
    Operator,
}

/// An integration found by its hook id, with its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct HookedIntegration {
    /// The tenant whose it is; `None` for the operator's.
    pub tenant_id: Option<String>,
    /// The integration.
    pub integration: Integration,
}

/// How many sends each (tenant, channel) may still start in one claim:
/// keys at their bound are skipped, so one integration's backlog never
/// holds back another's due work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimBudget {
    /// The most sends in flight per (tenant, channel).
    pub per_key: usize,
    /// Sends in flight now, by (tenant, channel).
    pub in_flight: std::collections::HashMap<(String, Channel), usize>,
}

impl ClaimBudget {
    /// No bound per key (tests, tools).
    pub fn unbounded() -> ClaimBudget {
        ClaimBudget {
            per_key: usize::MAX,
            in_flight: Default::default(),
        }
    }

    /// How many more the key may start.
    pub fn remaining(&self, tenant_id: &str, channel: Channel) -> usize {
        let used = self
            .in_flight
            .get(&(tenant_id.to_string(), channel))
            .copied()
            .unwrap_or(0);
        self.per_key.saturating_sub(used)
    }

    /// The keys with nothing left.
    pub fn saturated(&self) -> impl Iterator<Item = &(String, Channel)> {
        self.in_flight
            .iter()
            .filter(|(_, n)| **n >= self.per_key)
            .map(|(k, _)| k)
    }
}

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

/// An attempt handed to a worker to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedAttempt {
    /// The attempt's id.
    pub id: String,
    /// The notification's id.
    pub notification_id: String,
    /// Whose.
    pub tenant_id: String,
    /// Client or staff (for removing a dead device token).
    pub audience: Audience,
    /// The recipient's id.
    pub recipient_id: String,
    /// The channel.
    pub channel: Channel,
    /// The route.
    pub route: String,
    /// Address or device token.
    pub to: String,
    /// The attempt's fixed idempotency key.
    pub idempotency_key: String,
    /// The text to send.
    pub content: Rendered,
    /// Requests made so far, this one included.
    pub requests: u32,
    /// Window start.
    pub created_at: Millis,
    /// Started by a later decision than the notification's first: a
    /// fallback after a failure (its `created_at` is when that failure was
    /// recorded).
    pub fallback: bool,
    /// End of the confirmation window.
    pub deadline: Millis,
    /// The notification's deadline: a provider that takes a validity gets
    /// the time left until it.
    pub deliver_before: Option<Millis>,
    /// The hook id of the integration it goes out through (fixed when it
    /// was claimed; receipts are matched within it). `None`: the channel
    /// has no integration now.
    pub via_hook: Option<String>,
}

/// A provider's answer to one send, as the worker classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted; the provider's message id if it gave one.
    Accepted {
        /// The provider's message id.
        provider_message_id: Option<String>,
        /// What it cost, in millionths of the price's unit (SMS: segments
        /// × the integration's price per segment).
        cost_micros: Option<i64>,
    },
    /// Refused for good. `unreachable` when the address or token is dead;
    /// for push the store then removes the token from the recipient.
    Refused {
        /// The provider's words.
        error: String,
        /// Dead address / not on this route.
        unreachable: bool,
    },
    /// A transient error; send again at `next_try_at` (inside the window).
    Retry {
        /// The provider's words.
        error: String,
        /// When to try again.
        next_try_at: Millis,
    },
    /// Transient errors until the window closed: stop trying.
    GaveUp {
        /// The last error.
        error: String,
    },
}

/// One answer to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// The attempt.
    pub attempt_id: String,
    /// When the answer came.
    pub at: Millis,
    /// What it was.
    pub outcome: SendOutcome,
}

/// A receipt as a provider reports it: matched, within the messages sent
/// through its integration, by the provider's message id or by the
/// attempt's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingReceipt {
    /// The integration it came through: only its messages match.
    pub hook_id: String,
    /// The provider's message id.
    pub provider_message_id: Option<String>,
    /// The attempt's idempotency key.
    pub idempotency_key: Option<String>,
    /// Delivered (true) or failed.
    pub delivered: bool,
    /// The provider's reason for a failure.
    pub error: Option<String>,
    /// When it arrived.
    pub at: Millis,
}

/// What became of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptMatch {
    /// Stored and applied.
    Recorded {
        /// It came after the window.
        late: bool,
    },
    /// The same receipt was stored before; nothing changed.
    Duplicate,
    /// No attempt has that message id or key.
    Unknown,
}

/// One round of the dispatcher (see `Store::dispatch_round`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// Providers' answers that came in since the last round.
    pub results: Vec<SendResult>,
    /// The round's time.
    pub now: Millis,
    /// Wake up to this many due notifications first; `None` skips it.
    pub wake_limit: Option<usize>,
    /// How many attempts to claim at most.
    pub limit: usize,
    /// The lease of each claimed attempt.
    pub lease_ms: Millis,
    /// The sends each (tenant, channel) may still start.
    pub budget: ClaimBudget,
}

/// What a dispatcher round did, part by part.
#[derive(Debug)]
pub struct RoundDone {
    /// Whether the answers were recorded (if not, none of them was).
    pub recorded: crate::Result<()>,
    /// How many due notifications were decided again.
    pub woken: crate::Result<usize>,
    /// The attempts claimed.
    pub claimed: crate::Result<Vec<ClaimedAttempt>>,
    /// The earliest time anything is due after the round (`now` when the
    /// claim took all it was allowed: more is likely due).
    pub next_due_at: crate::Result<Option<Millis>>,
}
