//! The records of sending: an attempt claimed for a worker, a provider's
//! answer as the store records it, receipts coming in, and a dispatcher
//! round.

use crate::ClaimBudget;
use herald_core::{Audience, Channel, Millis, Rendered};

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
