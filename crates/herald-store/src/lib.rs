//! Herald's durable store: one trait in domain terms (`Store`), implemented
//! on SQLite (the embedded default: one writer thread doing group commit)
//! and PostgreSQL (many nodes on one database). Every state change of a cascade goes
//! through here: the fact is recorded, `herald_core::decide` is run on the
//! notification's recorded facts inside the same transaction, and its
//! actions (new attempts, verdicts, status, wake time) are stored with it.
//!
//! # What a backend implements
//!
//! The cascade itself (accepting, recording send answers and receipts,
//! removing dead device tokens, waking due notifications, claiming due
//! attempts, and running `decide`; cancelling and moving bookings, in
//! `booking`) is written once, in `flow` and `booking`, over the
//! nineteen transactional primitives of [`CascadeTx`]. A backend opens a
//! transaction, hands it to `flow` and commits; it holds no rule of the
//! cascade. The primitives:
//!
//! 1. `insert_notification`: a notification with its first decision, unless
//!    its idempotency key is taken;
//! 2. `notification_by_key`: the notification with an idempotency key;
//! 3. `load_notification`: a notification's plan and facts (attempts with
//!    receipts);
//! 4. `load_rendered`: its rendered texts;
//! 5. `write_step`: a decision's verdicts, status and wake time;
//! 6. `insert_attempts`: new queued attempts, at most one per channel,
//!    route and address;
//! 7. `record_answer`: a provider's answer, if the attempt is still open;
//! 8. `recipient_of`: the recipient a notification is for;
//! 9. `put_recipient_doc`: a recipient's document, after a dead token went;
//! 10. `attempt_by_message_id`: an attempt by hook and provider message id;
//! 11. `attempt_by_key`: an attempt by hook and idempotency key;
//! 12. `insert_receipt`: a receipt, once per attempt and kind;
//! 13. `claim_due`: due attempts marked `sending` with their lease and
//!     hook, within the limit and each key's budget, in one statement
//!     where the backend can (PostgreSQL), and the overdue ones set apart;
//! 14. `due_notifications`: pending notifications whose wake time came;
//! 15. `release_expired_key`: an idempotency key older than the window
//!     taken off its notification, so the key is free again.
//! 16. `write_schedule`: a notification's schedule and booking start, and
//!     its deadline copied to its attempts not yet sent;
//! 17. `cancel_queued_attempts`: a notification's queued attempts marked
//!     `cancelled`;
//! 18. `expire_attempts`: attempts whose deadline came before their claim
//!     marked `expired`;
//! 19. `booking_notifications`: a booking's notifications with their status.
//!
//! Five more are provided, batch forms of the ones above:
//! `load_notifications`, `load_rendered_many`, `write_steps`,
//! `insert_attempts_many` and `record_answers`. `flow` decides for all the
//! notifications a round (or a batch of receipts) touched at once through
//! them; by default each runs its one-row primitive per item, which is
//! right in-process (SQLite), and a backend across a network overrides
//! them with one statement per batch (PostgreSQL, `postgres/batch.rs`).
//!
//! Beside them a backend implements the plain reads and writes of `Store`
//! (tenants, integrations, types, recipients, the log) and, only if it
//! wants the simulator, [`SimStore`].
//!
//! The primitives are async so a networked backend (PostgreSQL over sqlx)
//! implements them as they are; SQLite answers them synchronously on its
//! writer thread, so `flow`'s futures complete on their first poll.

mod answer;
mod batch;
pub mod booking;
pub mod cascade;
pub mod claim;
mod codec;
pub mod flow;
mod open;
pub mod postgres;
mod primitive_types;
pub mod primitives;
mod prune;
mod reach;
mod ready;
mod send_types;
mod setup_types;
mod sim_types;
pub mod sqlite;
pub mod transitions;
mod types;

pub use open::{is_postgres_url, migrate, open, open_with, Backend, OpenOptions};
pub use primitives::CascadeTx;
pub use prune::{PruneLimits, Pruned, FINISHED, FINISHED_SQL};
pub use send_types::*;
pub use setup_types::*;
pub use sim_types::*;
pub use types::*;

use async_trait::async_trait;
use herald_core::{Audience, Channel, Millis};
use std::sync::Arc;

/// What can go wrong in the store, in terms of no particular database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot take the write now (disk full, locked or busy
    /// past the timeout): nothing is wrong with the data; retry later.
    #[error("database unavailable, retry later: {0}")]
    Unavailable(String),
    /// The database failed otherwise (I/O, a broken constraint, SQL).
    #[error("database error: {0}")]
    Backend(String),
    /// Migrations failed on start.
    #[error("migration error: {0}")]
    Migrate(String),
    /// Stored data did not decode, or the database file is damaged.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database URL is not one Herald knows.
    #[error("unsupported database url: {0}")]
    BadUrl(String),
    /// The writer is gone (the process is shutting down).
    #[error("the store is shutting down")]
    Closed,
    /// A uniqueness rule was broken (e.g. a tenant name taken).
    #[error("conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether the same call may succeed later unchanged (the database was
    /// full, busy or shutting down), as opposed to a fault in the data.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Closed)
    }
}

/// Short for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the service needs from storage. Implementations run every
/// mutating call in a short transaction of its own (or a batch of them) and
/// never hold one across a provider call.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database answers.
    async fn ping(&self) -> Result<()>;

    /// Whether the latest writes went through: false while the database
    /// refuses them (disk full, locked by another process), until a write
    /// succeeds again. Reads may still work meanwhile.
    fn writable(&self) -> bool {
        true
    }

    /// Counters of the backend for `/metrics`: (name, help, value).
    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        Vec::new()
    }

    /// Called once when a node starts: takes back attempts that were in
    /// flight when the previous process died, so they go out again (with
    /// their keys) at once instead of after their lease. A backend shared
    /// by several nodes leaves this to the leases. Returns how many.
    async fn recover_after_restart(&self) -> Result<u64> {
        Ok(0)
    }

    /// Wakes `wake` whenever another node commits work that may be due at
    /// once (PostgreSQL: `LISTEN/NOTIFY`), so a dispatcher starts it without
    /// waiting for its sweep. A backend with one node per database has no
    /// other node to hear from: the default does nothing.
    async fn watch_wake(&self, wake: Arc<tokio::sync::Notify>) -> Result<()> {
        let _ = wake;
        Ok(())
    }

    /// Reads an operator setting (e.g. `admin_token_sha256`).
    async fn get_meta(&self, key: &str) -> Result<Option<String>>;
    /// Writes an operator setting.
    async fn set_meta(&self, key: &str, value: &str) -> Result<()>;

    /// Creates a tenant whose API key hashes to `api_key_sha256`.
    async fn create_tenant(&self, tenant: &Tenant, api_key_sha256: &str) -> Result<()>;
    /// Finds the tenant an API key belongs to.
    async fn tenant_by_key(&self, api_key_sha256: &str) -> Result<Option<Tenant>>;

    /// Creates or replaces a tenant's (or the operator's) integration for
    /// a channel. Its `hook_id` must be unique.
    async fn put_integration(&self, owner: Owner<'_>, integration: &Integration) -> Result<()>;
    /// A tenant's own (or the operator's) integration for a channel.
    async fn get_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
    ) -> Result<Option<Integration>>;
    /// A tenant's own (or the operator's) integrations, in channel order.
    async fn list_integrations(&self, owner: Owner<'_>) -> Result<Vec<Integration>>;
    /// Removes an integration; false when there was none.
    async fn delete_integration(&self, owner: Owner<'_>, channel: Channel) -> Result<bool>;
    /// The integration a receipt webhook belongs to.
    async fn integration_by_hook(&self, hook_id: &str) -> Result<Option<HookedIntegration>>;
    /// Every integration (tenants' and the operator's) of one provider.
    async fn integrations_of_provider(&self, provider: &str) -> Result<Vec<HookedIntegration>>;

    /// Creates or replaces a notification type.
    async fn put_type(&self, tenant_id: &str, t: &NotificationType) -> Result<()>;
    /// One notification type.
    async fn get_type(&self, tenant_id: &str, key: &str) -> Result<Option<NotificationType>>;
    /// All notification types, by key.
    async fn list_types(&self, tenant_id: &str) -> Result<Vec<NotificationType>>;

    /// Creates or replaces a client (`Audience::Client`) or staff member.
    async fn put_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
        r: &herald_core::Recipient,
    ) -> Result<()>;
    /// A client or staff member as stored now.
    async fn get_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<Option<herald_core::Recipient>>;

    /// Stores a notification and its first actions in one transaction, or
    /// finds the one with the same idempotency key.
    async fn accept_notification(&self, n: NewNotification) -> Result<Accepted>;
    /// A notification with its attempts and receipts.
    async fn get_notification(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRecord>>;
    /// The log, newest first.
    async fn list_notifications(
        &self,
        tenant_id: &str,
        q: &ListQuery,
    ) -> Result<Vec<NotificationSummary>>;

    /// Claims up to `limit` attempts that are due to be sent (queued and
    /// due, or `sending` with a lapsed lease), marks them `sending` with a
    /// lease until `now + lease_ms`, and counts the request.
    /// Keys (tenant, channel) over their budget are skipped, and no key
    /// gets more than it has left. Each attempt is claimed with the hook of
    /// the integration it goes out through (the tenant's own, else the
    /// operator's).
    async fn claim_attempts(
        &self,
        now: Millis,
        limit: usize,
        lease_ms: Millis,
        budget: &ClaimBudget,
    ) -> Result<Vec<ClaimedAttempt>>;
    /// Records providers' answers and moves each cascade on.
    async fn record_send_results(&self, results: Vec<SendResult>) -> Result<()>;
    /// Records a receipt (idempotently) and moves the cascade on.
    async fn record_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch>;
    /// Records several receipts as `record_receipt` would one after the
    /// other; one answer per receipt, in order. The backends override it to
    /// take the batch in one transaction (trying each alone if the batch
    /// fails, so one bad receipt does not hold back the rest).
    async fn record_receipts(&self, rs: Vec<IncomingReceipt>) -> Vec<Result<ReceiptMatch>> {
        let mut out = Vec::with_capacity(rs.len());
        for r in rs {
            out.push(self.record_receipt(r).await);
        }
        out
    }
    /// Runs the decision for pending notifications whose wake time has come.
    /// Returns how many were looked at.
    async fn wake_due(&self, now: Millis, limit: usize) -> Result<usize>;
    /// The earliest time anything is due: a queued attempt, a lapsed lease,
    /// a notification's wake time.
    async fn next_due_at(&self) -> Result<Option<Millis>>;

    /// One round of the dispatcher in one call: records the answers of the
    /// previous round, wakes due notifications (`wake_limit`), claims the
    /// next attempts, and says when anything is next due. Each part fails
    /// on its own. A backend that can should run it as one transaction
    /// (one hand-off to its writer instead of three or four).
    async fn dispatch_round(&self, round: Round) -> Result<RoundDone> {
        let recorded = self.record_send_results(round.results).await;
        let woken = match round.wake_limit {
            Some(limit) => self.wake_due(round.now, limit).await,
            None => Ok(0),
        };
        let claimed = self
            .claim_attempts(round.now, round.limit, round.lease_ms, &round.budget)
            .await;
        let next_due_at = self.next_due_at().await;
        Ok(RoundDone {
            recorded,
            woken,
            claimed,
            next_due_at,
        })
    }

    /// Removes a notification type; false when there was none. What was
    /// already triggered keeps its own plan and stays in the log.
    async fn delete_type(&self, tenant_id: &str, key: &str) -> Result<bool>;
    /// Removes a client or staff member; false when there was none.
    async fn delete_recipient(&self, tenant_id: &str, kind: Audience, id: &str) -> Result<bool>;
    /// Clients or staff by id, `q` (case-insensitive) matching the id,
    /// name, e-mail or phone; ids strictly after `after`, at most `limit`.
    async fn list_recipients(
        &self,
        tenant_id: &str,
        kind: Audience,
        q: &RecipientQuery,
    ) -> Result<Vec<(String, herald_core::Recipient)>>;

    /// Cancels one of the tenant's notifications at `now` (idempotent; see
    /// `booking::cancel`); false when it has none with this id.
    async fn cancel_notification(&self, tenant_id: &str, id: &str, now: Millis) -> Result<bool>;
    /// Cancels every scheduled or pending notification of a booking in one
    /// transaction; `None` when the booking has no notifications.
    async fn cancel_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        now: Millis,
    ) -> Result<Option<BookingCancelled>>;
    /// Moves a booking's start and, in one transaction, every notification
    /// of it not yet finished; `None` when it has no notifications.
    async fn reschedule_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        starts_at: Millis,
        now: Millis,
    ) -> Result<Option<usize>>;
    /// The tenant's time zone (IANA), if set.
    async fn tenant_timezone(&self, tenant_id: &str) -> Result<Option<String>>;
    /// Sets (or with `None` clears) the tenant's time zone.
    async fn set_tenant_timezone(&self, tenant_id: &str, timezone: Option<&str>) -> Result<()>;
    /// Retention, one small batch: removes up to `limits.batch` finished
    /// notifications (a status of `FINISHED`) last updated more than the
    /// retention before `now`, with their attempts and receipts, and takes
    /// up to `limits.batch` idempotency keys older than their window off
    /// their notifications. Never touches an unfinished notification.
    /// `Pruned::more` says a batch was full: call again. Safe to run on
    /// several nodes at once.
    async fn prune(&self, now: Millis, limits: PruneLimits) -> Result<Pruned>;
}

/// The simulator's durable state: its outbox (one message per idempotency
/// key, requests counted) and the receipts it owes. Separate from `Store`
/// so that a backend implements it only if it wants the simulator.
#[async_trait]
pub trait SimStore: Send + Sync + 'static {
    /// The simulator's side of a send: stores the message once per
    /// idempotency key, counts the request and answers (see `SimSend`).
    async fn sim_send(&self, s: SimSend) -> Result<SimAnswer>;
    /// Receipts the simulator owes whose time has come.
    async fn sim_due_receipts(&self, now: Millis, limit: usize) -> Result<Vec<SimReceiptDue>>;
    /// Marks simulator receipts as handed over.
    async fn sim_mark_sent(&self, ids: &[String]) -> Result<()>;
    /// The earliest simulator receipt still owed.
    async fn sim_next_receipt_at(&self) -> Result<Option<Millis>>;
    /// The tenant's simulator outbox, oldest first.
    async fn sim_outbox(&self, tenant_id: &str, q: &OutboxQuery) -> Result<Vec<SimMessage>>;
    /// Retention of the outbox: removes up to `limit` messages received
    /// before `before`, except those whose receipt is still owed. Fills
    /// `Pruned::sim_messages` and `more`.
    async fn sim_prune(&self, before: Millis, limit: usize) -> Result<Pruned>;
}

/// Filters of a client or staff listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientQuery {
    /// Text matched against id, name, e-mail and phone.
    pub q: Option<String>,
    /// At most this many.
    pub limit: usize,
    /// Only ids strictly after this one.
    pub after: Option<String>,
}
