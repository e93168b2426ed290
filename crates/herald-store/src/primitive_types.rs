//! What the cascade primitives (`crate::primitives`) read and return: a
//! notification loaded for a decision, an attempt found by a receipt, an
//! answer recorded, a claim's candidates and takings, a recipient.

use crate::{AttemptRecord, BookingLink, ClaimedAttempt};
use herald_core::{Audience, Channel, Millis, Plan, Recipient, Schedule, Status};

/// What `load_notification` returns: the facts `decide` runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The owning tenant.
    pub tenant_id: String,
    /// The plan fixed at acceptance.
    pub plan: Plan,
    /// Every attempt, oldest first, with its receipts.
    pub attempts: Vec<AttemptRecord>,
    /// Its status as last decided.
    pub status: Status,
    /// When it may send.
    pub schedule: Schedule,
    /// The appointment it is about.
    pub booking: Option<BookingLink>,
}

/// An attempt a receipt may be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRef {
    /// The attempt.
    pub id: String,
    /// Its notification.
    pub notification_id: String,
    /// The end of its window.
    pub deadline: Millis,
}

/// An attempt whose answer was just recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// Its notification.
    pub notification_id: String,
    /// Its channel.
    pub channel: Channel,
    /// The address or device token it went to.
    pub to: String,
}

/// A due attempt, as the claim's first pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The attempt.
    pub id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its channel.
    pub channel: Channel,
    /// Its notification.
    pub notification_id: String,
    /// Its notification's deadline.
    pub not_after: Option<Millis>,
    /// The end of its channel's window (its `deadline`).
    pub window_ends: Millis,
}

/// What `claim_due` took.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimTaken {
    /// The attempts now `sending` under the new lease, in any order.
    pub claimed: Vec<ClaimedAttempt>,
    /// Due attempts past their deadline or window, left as they were.
    pub overdue: Vec<Candidate>,
}

/// The owner of a notification's recipient, and the recipient's document.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientOf {
    /// The tenant.
    pub tenant_id: String,
    /// Client or staff.
    pub kind: Audience,
    /// The recipient's id.
    pub id: String,
    /// The document as stored now.
    pub doc: Recipient,
}
