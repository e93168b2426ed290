//! The simulator's records: what it is asked, what it answers, what it
//! owes, and its outbox. The simulator lives outside Herald in spirit; its
//! memory is kept by the store so that it survives a crash of Herald.

use herald_core::{Channel, Millis, Rendered};
use serde::{Deserialize, Serialize};

/// The simulator's answer rule for one message (the provider computes it
/// from its settings; the store applies it atomically).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimFinal {
    /// Accepted; a receipt follows at `receipt_at` if any.
    Accepted {
        /// `Some((delivered, at))` for a receipt to send later.
        receipt: Option<(bool, Millis)>,
    },
    /// Refused at send.
    Refused {
        /// Dead address or token.
        unreachable: bool,
        /// The error text.
        error: String,
    },
}

/// A send request to the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSend {
    /// Whose.
    pub tenant_id: String,
    /// Which notification.
    pub notification_id: String,
    /// Which channel.
    pub channel: Channel,
    /// Which route.
    pub route: String,
    /// Address or token.
    pub to: String,
    /// The text.
    pub content: Rendered,
    /// The attempt's key; the simulator dedupes on it.
    pub idempotency_key: String,
    /// The configured outcome name (`delivered`, `transient:2`, …).
    pub outcome: String,
    /// The first this many requests for the key answer with a transient error.
    pub transient_first: u32,
    /// What the message's answer is once the transient ones are used up.
    pub final_answer: SimFinal,
    /// Whether to keep the message in the outbox (`record`).
    pub record: bool,
    /// The hook of the integration it was sent through (its receipts come
    /// back through it).
    pub hook_id: String,
    /// Now.
    pub at: Millis,
}

/// The simulator's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimAnswer {
    /// A transient error (this was request number `requests`).
    Transient {
        /// Requests so far for the key.
        requests: u32,
    },
    /// Accepted with this message id (the same id for every repeat).
    Accepted {
        /// The simulator's message id.
        message_id: String,
    },
    /// Refused.
    Refused {
        /// Dead address or token.
        unreachable: bool,
        /// The error text.
        error: String,
    },
}

/// A receipt the simulator owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReceiptDue {
    /// The simulator message id.
    pub id: String,
    /// The attempt's key.
    pub idempotency_key: String,
    /// The hook of the integration it was sent through.
    pub hook_id: String,
    /// Delivered or failed.
    pub delivered: bool,
    /// When it is due.
    pub due_at: Millis,
}

/// A message in the simulator's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimMessage {
    /// Simulator message id (sorts by arrival).
    pub id: String,
    /// The notification.
    pub notification_id: String,
    /// The channel.
    pub channel: Channel,
    /// The route.
    pub route: String,
    /// Address or token.
    pub to: String,
    /// E-mail subject.
    pub subject: Option<String>,
    /// Push title.
    pub title: Option<String>,
    /// Body.
    pub body: String,
    /// The attempt's key.
    pub idempotency_key: String,
    /// How many times Herald asked to send it.
    pub requests: u32,
    /// The configured outcome.
    pub outcome: String,
    /// First request.
    pub received_at: Millis,
}

/// Filters of the outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxQuery {
    /// Only this notification.
    pub notification_id: Option<String>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// At most this many.
    pub limit: usize,
    /// Only ids after this one.
    pub after: Option<String>,
}
