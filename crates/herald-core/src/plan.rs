//! What the cascade decides over: the plan fixed when a notification is
//! accepted, the facts recorded about its attempts, and the decision's
//! shape. Plain data, serialized as the store keeps it.

use crate::channel::{Channel, Confirm, FallbackWhen, Millis, Outcome, Scenario, Status};
use serde::{Deserialize, Serialize};

/// Whether a channel has somewhere to send, decided at trigger time from the
/// recipient, their opt-outs and the tenant's integrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reach {
    /// The addresses (e-mail, phone, device tokens) to send to.
    Addresses {
        /// One attempt chain per address.
        to: Vec<String>,
    },
    /// Nothing to send to, and why.
    Unreachable {
        /// A sentence for a support agent.
        reason: String,
    },
}

/// One channel of a notification as planned when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPlan {
    /// The channel.
    pub channel: Channel,
    /// Its scenario in the notification type.
    pub scenario: Scenario,
    /// Where it can send.
    pub reach: Reach,
    /// Routes tried in order for each address (`["whatsapp", "sms"]`); push
    /// and e-mail have one route named after the channel.
    pub routes: Vec<String>,
    /// What counts as delivered.
    pub confirm: Confirm,
    /// The confirmation window of each attempt, in seconds.
    pub window_s: u32,
}

impl ChannelPlan {
    fn window_ms(&self) -> Millis {
        Millis::from(self.window_s) * 1000
    }
}

/// The static part of a notification's cascade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// When a `fallback` channel goes out.
    pub fallback_when: FallbackWhen,
    /// The channels in the type's order.
    pub channels: Vec<ChannelPlan>,
}

/// What the provider has said about an attempt so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptState {
    /// Stored; queued, in flight, or waiting to retry after a transient error.
    Open,
    /// The provider accepted the message at `at`.
    Accepted {
        /// When the acceptance was answered.
        at: Millis,
    },
    /// The provider refused the message for good.
    Refused {
        /// When.
        at: Millis,
        /// The provider's words.
        error: String,
        /// The address or device is dead or not on this route. On the `sms`
        /// channel this makes the route `unreachable` (the next route is
        /// tried); on e-mail and push a refusal is `failed` either way.
        unreachable: bool,
    },
    /// Transient errors until the window closed.
    GaveUp {
        /// When Herald stopped retrying.
        at: Millis,
        /// The last error.
        error: String,
    },
}

/// A delivery or failure receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFact {
    /// Delivered (true) or failed (false).
    pub delivered: bool,
    /// When it arrived.
    pub at: Millis,
    /// The provider's reason for a failure.
    pub error: Option<String>,
}

/// Whether something that happened at `at` falls outside a window ending at
/// `deadline`. Windows are `[created_at, deadline)`: at the deadline itself
/// `decide` has already called the attempt failed, so a receipt then is late.
pub fn is_late_at(deadline: Millis, at: Millis) -> bool {
    at >= deadline
}

/// Everything recorded about one attempt: one message to one address over one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptFacts {
    /// Index of the channel in the plan.
    pub channel_idx: usize,
    /// The route.
    pub route: String,
    /// The address or device token.
    pub to: String,
    /// When the attempt was stored; its window starts here.
    pub created_at: Millis,
    /// The provider's answer so far.
    pub state: AttemptState,
    /// Receipts in arrival order.
    pub receipts: Vec<ReceiptFact>,
}

impl AttemptFacts {
    /// The end of this attempt's confirmation window. The window is
    /// half-open, `[created_at, deadline)`: an answer or receipt stamped at
    /// the deadline or later is late, and at `now == deadline` an attempt
    /// without an answer has already failed.
    pub fn deadline(&self, plan: &ChannelPlan) -> Millis {
        self.created_at + plan.window_ms()
    }

    /// Whether a receipt (or answer) arriving at `at` is after the window.
    pub fn is_late(&self, plan: &ChannelPlan, at: Millis) -> bool {
        is_late_at(self.deadline(plan), at)
    }
}

/// An attempt `decide` wants created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartAttempt {
    /// Index of the channel in the plan.
    pub channel_idx: usize,
    /// The route.
    pub route: String,
    /// The address or device token.
    pub to: String,
}

/// A channel's outcome and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelVerdict {
    /// The outcome so far.
    pub outcome: Outcome,
    /// Why, for a support agent.
    pub reason: String,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// One verdict per channel, in plan order.
    pub channels: Vec<ChannelVerdict>,
    /// Attempts to create (and send) now.
    pub start: Vec<StartAttempt>,
    /// Call `decide` again at this time even if nothing else happens.
    pub wake_at: Option<Millis>,
    /// The notification's status.
    pub status: Status,
}
