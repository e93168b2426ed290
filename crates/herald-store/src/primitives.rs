//! The transactional primitives a backend implements so that the cascade
//! (`crate::flow`) runs on it: small reads and writes in domain terms, all
//! inside one transaction the backend opened. They hold no rule of the
//! cascade: which attempt an answer applies to, when to decide, what a
//! decision writes, which keys are over their budget all live in `flow`,
//! written once for every backend.
//!
//! The methods are async so that a backend over a network (PostgreSQL
//! through sqlx) implements them directly; SQLite's writer thread answers
//! them synchronously, so its futures are ready at once (see
//! `crate::ready`).

use crate::cascade::{NewAttempt, Step};
use crate::{BookingLink, ClaimBudget, IncomingReceipt, NewNotification, Result, SendResult};
use herald_core::{Millis, Rendered, Schedule, Status};
use std::future::Future;

pub use crate::primitive_types::*;

/// One transaction's primitives. Each is one statement or a few; every
/// one sees the writes made before it in the same transaction.
pub trait CascadeTx: Send {
    /// Inserts a notification with its first decision. `Ok(false)` when
    /// the tenant already has one with its idempotency key (nothing is
    /// written); `StoreError::Conflict` when its id is taken.
    fn insert_notification(
        &mut self,
        n: &NewNotification,
        step: &Step,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The id and request hash of the tenant's notification with this
    /// idempotency key.
    fn notification_by_key(
        &mut self,
        tenant_id: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>>> + Send;

    /// Takes the idempotency key off the tenant's notification that holds
    /// it, if that notification was created before `before` (the key has
    /// expired); the notification stays. Whether a key was released.
    fn release_expired_key(
        &mut self,
        tenant_id: &str,
        key: &str,
        before: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// A notification's tenant, plan and attempts with their receipts.
    fn load_notification(
        &mut self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Loaded>>> + Send;

    /// A notification's rendered texts, one per plan channel.
    fn load_rendered(
        &mut self,
        id: &str,
    ) -> impl Future<Output = Result<Vec<Option<Rendered>>>> + Send;

    /// Stores a decision's verdicts, status and wake time (`updated_at`
    /// never goes back).
    fn write_step(
        &mut self,
        id: &str,
        step: &Step,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Inserts `queued` attempts, ignoring any that already exist for the
    /// same notification, channel, route and address.
    fn insert_attempts(
        &mut self,
        notification_id: &str,
        tenant_id: &str,
        attempts: &[NewAttempt],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies a provider's answer to its attempt if the attempt is still
    /// open (`queued` or `sending`): a retry queues it again at
    /// `next_try_at`, anything else makes it final. `None` when the attempt
    /// is unknown or already final, except that an acceptance still gives
    /// its cost and message id to an attempt that a receipt closed as
    /// accepted before them (the receipt beat the answer).
    fn record_answer(
        &mut self,
        r: &SendResult,
    ) -> impl Future<Output = Result<Option<Answered>>> + Send;

    /// The recipient a notification is for, with its document.
    fn recipient_of(
        &mut self,
        notification_id: &str,
    ) -> impl Future<Output = Result<Option<RecipientOf>>> + Send;

    /// Replaces a recipient's document (after a device token was removed).
    fn put_recipient_doc(
        &mut self,
        r: &RecipientOf,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The attempt sent through `hook_id` that the provider calls
    /// `provider_message_id`.
    fn attempt_by_message_id(
        &mut self,
        hook_id: &str,
        provider_message_id: &str,
    ) -> impl Future<Output = Result<Option<AttemptRef>>> + Send;

    /// The attempt sent through `hook_id` with this idempotency key.
    fn attempt_by_key(
        &mut self,
        hook_id: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<Option<AttemptRef>>> + Send;

    /// Stores a receipt of an attempt; `Ok(false)` when the attempt already
    /// has a receipt of that kind (delivered or failed).
    fn insert_receipt(
        &mut self,
        attempt_id: &str,
        r: &IncomingReceipt,
        late: bool,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Claims due attempts (`queued` with `next_try_at <= now`, or
    /// `sending` with `lease_until <= now`) in due order, as
    /// `crate::claim::pick` chooses among the first
    /// `crate::claim::scan_for(limit)` of them (keys at their budget not
    /// scanned): at most `limit`, no key more than `budget` leaves it, none
    /// overdue. Each claimed is marked `sending` with a lease until
    /// `lease_until`, its request counted, its first `sent_at` kept and its
    /// hook fixed (the tenant's integration for the channel, else the
    /// operator's), and comes back with its notification's owner. The
    /// overdue among the scanned come back as they are (locked by this
    /// transaction where the backend locks rows), for `flow` to close.
    fn claim_due(
        &mut self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        budget: &ClaimBudget,
    ) -> impl Future<Output = Result<ClaimTaken>> + Send;

    /// Pending notifications whose wake time is at or before `now`,
    /// earliest first.
    fn due_notifications(
        &mut self,
        now: Millis,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// Stores a notification's schedule and booking start, and copies the
    /// deadline to its attempts not yet sent.
    fn write_schedule(
        &mut self,
        id: &str,
        schedule: &Schedule,
        booking: Option<&BookingLink>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Marks a notification's `queued` attempts `cancelled` (claimed ones
    /// are already on their way); answers how many.
    fn cancel_queued_attempts(
        &mut self,
        notification_id: &str,
    ) -> impl Future<Output = Result<usize>> + Send;

    /// Marks these attempts `expired` (their deadline came before they
    /// were claimed).
    fn expire_attempts(&mut self, ids: &[String]) -> impl Future<Output = Result<()>> + Send;

    // Batch forms, provided: each runs its one-row primitive per item,
    // which costs nothing extra in-process (SQLite). A backend across a
    // network (PostgreSQL) overrides them with one statement per batch, so
    // a dispatcher round of N answers costs a few round trips, not 6 N.

    /// `load_notification` for several, in one go; those not found are
    /// left out.
    fn load_notifications(
        &mut self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, Loaded)>>> + Send {
        async move {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(l) = self.load_notification(id).await? {
                    out.push((id.clone(), l));
                }
            }
            Ok(out)
        }
    }

    /// `load_rendered` for several, in the order asked.
    fn load_rendered_many(
        &mut self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Vec<Option<Rendered>>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push(self.load_rendered(id).await?);
            }
            Ok(out)
        }
    }

    /// `write_step` for several notifications.
    fn write_steps(
        &mut self,
        steps: &[(String, Step, Millis)],
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            for (id, step, now) in steps {
                self.write_step(id, step, *now).await?;
            }
            Ok(())
        }
    }

    /// `insert_attempts` for several notifications: (notification, tenant,
    /// its new attempts).
    fn insert_attempts_many(
        &mut self,
        batch: &[(String, String, Vec<NewAttempt>)],
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            for (notification_id, tenant_id, attempts) in batch {
                self.insert_attempts(notification_id, tenant_id, attempts)
                    .await?;
            }
            Ok(())
        }
    }

    /// `insert_notification` for several, each with its first decision:
    /// one answer per notification, in order, as if inserted one after the
    /// other (of two with one idempotency key only the first is written).
    fn insert_notifications(
        &mut self,
        rows: &[(&NewNotification, &Step)],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send {
        async move {
            let mut out = Vec::with_capacity(rows.len());
            for (n, step) in rows {
                out.push(self.insert_notification(n, step).await?);
            }
            Ok(out)
        }
    }

    /// The attempt of each receipt, in order: by the provider's message id
    /// within the receipt's hook, else by the attempt's key.
    fn attempts_of_receipts(
        &mut self,
        receipts: &[IncomingReceipt],
    ) -> impl Future<Output = Result<Vec<Option<AttemptRef>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(receipts.len());
            for r in receipts {
                let mut found = None;
                if let Some(pm) = &r.provider_message_id {
                    found = self.attempt_by_message_id(&r.hook_id, pm).await?;
                }
                if found.is_none() {
                    if let Some(key) = &r.idempotency_key {
                        found = self.attempt_by_key(&r.hook_id, key).await?;
                    }
                }
                out.push(found);
            }
            Ok(out)
        }
    }

    /// `insert_receipt` for several (attempt, receipt, late), as if one
    /// after the other: one answer each, in order.
    fn insert_receipts(
        &mut self,
        rows: &[(&str, &IncomingReceipt, bool)],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send {
        async move {
            let mut out = Vec::with_capacity(rows.len());
            for (attempt_id, r, late) in rows {
                out.push(self.insert_receipt(attempt_id, r, *late).await?);
            }
            Ok(out)
        }
    }

    /// Closes attempts that receipts prove were taken (`record_answers`
    /// of accepted answers, each at its receipt's time). A backend with
    /// row locks need not wait for an attempt whose lease still runs at
    /// the receipt's time: its holder is the round recording the
    /// attempt's own answer. It must wait for one whose lease has lapsed,
    /// since a round's claim may hold that one without taking it, and an
    /// attempt left `sending` would be sent again after its outcome.
    fn close_by_receipts(
        &mut self,
        closes: &[&SendResult],
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            self.record_answers(closes).await?;
            Ok(())
        }
    }

    /// `record_answer` for several answers, each of a different attempt;
    /// one result per answer, in order.
    fn record_answers(
        &mut self,
        results: &[&SendResult],
    ) -> impl Future<Output = Result<Vec<Option<Answered>>>> + Send {
        async move {
            let mut out = Vec::with_capacity(results.len());
            for r in results {
                out.push(self.record_answer(r).await?);
            }
            Ok(out)
        }
    }

    /// The tenant's notifications of a booking with their status, oldest
    /// first.
    fn booking_notifications(
        &mut self,
        tenant_id: &str,
        booking_id: &str,
    ) -> impl Future<Output = Result<Vec<(String, Status)>>> + Send;
}
