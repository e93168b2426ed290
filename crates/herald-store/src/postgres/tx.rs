//! PostgreSQL's implementation of the cascade primitives, inside one
//! transaction of the pool (READ COMMITTED). sqlx prepares each statement
//! once per connection and keeps it. Many nodes run these at once, so:
//! - a decision locks its notification first (`load_notification` takes
//!   `FOR NO KEY UPDATE`): two nodes moving one cascade (a receipt here, a
//!   send answer there) decide one after the other, the second on every
//!   fact the first committed;
//! - the claim and the wake take their rows with `SKIP LOCKED`, so nodes
//!   share due work instead of queueing behind each other, and the claim's
//!   `UPDATE` re-checks that each row is still due;
//! - uniqueness (idempotency keys, one attempt per channel, route and
//!   address, one receipt per kind) rests on unique indexes with
//!   `ON CONFLICT DO NOTHING`, which wait for a concurrent insert of the
//!   same key to commit and then do nothing.
//!
//! `NO KEY UPDATE` rather than `UPDATE` locks: they do not block the
//! foreign-key checks of concurrent inserts (an attempt of the
//! notification, a receipt of the attempt).

use super::codec::{col, col_enum, col_json};
use super::codec::{int, to_json};
use super::error::Db;
use super::notifications::schedule_json;
use crate::cascade::{NewAttempt, Step};
use crate::primitives::{Answered, AttemptRef, CascadeTx, ClaimTaken, Loaded, RecipientOf};
use crate::{
    BookingLink, ClaimBudget, IncomingReceipt, NewNotification, Result, SendResult, StoreError,
};
use herald_core::{Millis, Rendered, Schedule, Status};
use sqlx::postgres::Postgres;

/// One transaction on the pool.
pub(super) struct PgTx {
    /// The open transaction.
    pub tx: sqlx::Transaction<'static, Postgres>,
    /// The pool, for what must not wait for this transaction (plans).
    pub pool: sqlx::PgPool,
    /// The node's plans.
    pub plans: std::sync::Arc<super::plans::Plans>,
}

impl PgTx {
    async fn attempt_by(
        &mut self,
        sql: &str,
        value: &str,
        hook: &str,
    ) -> Result<Option<AttemptRef>> {
        let row = sqlx::query(sql)
            .bind(value)
            .bind(hook)
            .fetch_optional(&mut *self.tx)
            .await
            .db()?;
        row.map(|r| {
            Ok(AttemptRef {
                id: col(&r, "id")?,
                notification_id: col(&r, "notification_id")?,
                deadline: col(&r, "deadline")?,
            })
        })
        .transpose()
    }
}

impl CascadeTx for PgTx {
    async fn insert_notification(&mut self, n: &NewNotification, step: &Step) -> Result<bool> {
        Ok(self
            .notifications_many(&[(n, step)])
            .await?
            .pop()
            .unwrap_or(false))
    }

    async fn insert_notifications(
        &mut self,
        rows: &[(&NewNotification, &Step)],
    ) -> Result<Vec<bool>> {
        self.notifications_many(rows).await
    }

    async fn notification_by_key(
        &mut self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT id, request_sha256 FROM notifications
             WHERE tenant_id = $1 AND idempotency_key = $2",
        )
        .bind(tenant_id)
        .bind(key)
        .fetch_optional(&mut *self.tx)
        .await
        .db()?;
        row.map(|r| Ok((col(&r, "id")?, col(&r, "request_sha256")?)))
            .transpose()
    }

    async fn release_expired_key(
        &mut self,
        tenant_id: &str,
        key: &str,
        before: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE notifications SET idempotency_key = NULL
             WHERE tenant_id = $1 AND idempotency_key = $2 AND created_at < $3",
        )
        .bind(tenant_id)
        .bind(key)
        .bind(before)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(done.rows_affected() > 0)
    }

    async fn load_notification(&mut self, id: &str) -> Result<Option<Loaded>> {
        let mut found = self.load_many(&[id.to_string()]).await?;
        Ok(found.pop().map(|(_, l)| l))
    }

    async fn load_rendered(&mut self, id: &str) -> Result<Vec<Option<Rendered>>> {
        let mut texts = self.rendered_many(&[id.to_string()]).await?;
        texts
            .pop()
            .ok_or_else(|| StoreError::Corrupt(format!("notification {id} has no texts")))
    }

    async fn write_step(&mut self, id: &str, step: &Step, now: Millis) -> Result<()> {
        self.steps_many(&[(id.to_string(), step.clone(), now)])
            .await
    }

    async fn insert_attempts(
        &mut self,
        notification_id: &str,
        tenant_id: &str,
        attempts: &[NewAttempt],
    ) -> Result<()> {
        let one = (
            notification_id.to_string(),
            tenant_id.to_string(),
            attempts.to_vec(),
        );
        self.attempts_many(std::slice::from_ref(&one)).await
    }

    async fn record_answer(&mut self, r: &SendResult) -> Result<Option<Answered>> {
        Ok(self.answers_many(&[r]).await?.pop().flatten())
    }

    async fn recipient_of(&mut self, notification_id: &str) -> Result<Option<RecipientOf>> {
        // Locked: two nodes removing two dead tokens of one person must
        // not each write back a document missing only their own.
        let row = sqlx::query(
            "SELECT n.tenant_id, n.audience, n.recipient_id, r.doc
             FROM notifications n JOIN recipients r ON r.tenant_id = n.tenant_id
                 AND r.kind = n.audience AND r.id = n.recipient_id
             WHERE n.id = $1
             FOR NO KEY UPDATE OF r",
        )
        .bind(notification_id)
        .fetch_optional(&mut *self.tx)
        .await
        .db()?;
        row.map(|r| {
            Ok(RecipientOf {
                tenant_id: col(&r, "tenant_id")?,
                kind: col_enum(&r, "audience")?,
                id: col(&r, "recipient_id")?,
                doc: col_json(&r, "doc")?,
            })
        })
        .transpose()
    }

    async fn put_recipient_doc(&mut self, r: &RecipientOf, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE recipients SET doc = $4, updated_at = $5
             WHERE tenant_id = $1 AND kind = $2 AND id = $3",
        )
        .bind(&r.tenant_id)
        .bind(r.kind.as_str())
        .bind(&r.id)
        .bind(to_json(&r.doc)?)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    async fn attempt_by_message_id(
        &mut self,
        hook_id: &str,
        provider_message_id: &str,
    ) -> Result<Option<AttemptRef>> {
        self.attempt_by(
            "SELECT id, notification_id, deadline FROM attempts
             WHERE provider_message_id = $1 AND via_hook = $2 LIMIT 1",
            provider_message_id,
            hook_id,
        )
        .await
    }

    async fn attempt_by_key(
        &mut self,
        hook_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<AttemptRef>> {
        self.attempt_by(
            "SELECT id, notification_id, deadline FROM attempts
             WHERE idempotency_key = $1 AND via_hook = $2 LIMIT 1",
            idempotency_key,
            hook_id,
        )
        .await
    }

    async fn insert_receipt(
        &mut self,
        attempt_id: &str,
        r: &IncomingReceipt,
        late: bool,
    ) -> Result<bool> {
        Ok(self
            .receipts_many(&[(attempt_id, r, late)])
            .await?
            .pop()
            .unwrap_or(false))
    }

    async fn attempts_of_receipts(
        &mut self,
        receipts: &[IncomingReceipt],
    ) -> Result<Vec<Option<AttemptRef>>> {
        self.receipt_attempts_many(receipts).await
    }

    async fn insert_receipts(
        &mut self,
        rows: &[(&str, &IncomingReceipt, bool)],
    ) -> Result<Vec<bool>> {
        self.receipts_many(rows).await
    }

    async fn claim_due(
        &mut self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        budget: &ClaimBudget,
    ) -> Result<ClaimTaken> {
        self.claim_in_one(now, limit, lease_until, budget).await
    }

    async fn due_notifications(&mut self, now: Millis, limit: usize) -> Result<Vec<String>> {
        // Each due wake-up is fired by one node: the others skip it.
        let rows = sqlx::query(
            "SELECT id FROM notifications
             WHERE wake_at <= $1 AND status IN ('pending', 'scheduled')
             ORDER BY wake_at LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(int(limit))
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        rows.iter().map(|r| col(r, "id")).collect()
    }

    async fn write_schedule(
        &mut self,
        id: &str,
        schedule: &Schedule,
        booking: Option<&BookingLink>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE notifications SET schedule = $2,
                 booking_starts_at = COALESCE($3, booking_starts_at)
             WHERE id = $1",
        )
        .bind(id)
        .bind(schedule_json(schedule)?)
        .bind(booking.and_then(|b| b.starts_at))
        .execute(&mut *self.tx)
        .await
        .db()?;
        sqlx::query(
            "UPDATE attempts SET not_after = $2 WHERE notification_id = $1 AND status = 'queued'",
        )
        .bind(id)
        .bind(schedule.deliver_before)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    async fn cancel_queued_attempts(&mut self, notification_id: &str) -> Result<usize> {
        // Waits for a claim that locked one of them; READ COMMITTED then
        // sees it `sending` and leaves it (it was claimed before the cancel).
        let done = sqlx::query(
            "UPDATE attempts SET status = 'cancelled'
             WHERE notification_id = $1 AND status = 'queued'",
        )
        .bind(notification_id)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn expire_attempts(&mut self, ids: &[String]) -> Result<()> {
        sqlx::query(
            "UPDATE attempts SET status = 'expired'
             WHERE id = ANY($1) AND status IN ('queued', 'sending')",
        )
        .bind(ids)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    async fn load_notifications(&mut self, ids: &[String]) -> Result<Vec<(String, Loaded)>> {
        self.load_many(ids).await
    }

    async fn load_rendered_many(&mut self, ids: &[String]) -> Result<Vec<Vec<Option<Rendered>>>> {
        self.rendered_many(ids).await
    }

    async fn write_steps(&mut self, steps: &[(String, Step, Millis)]) -> Result<()> {
        self.steps_many(steps).await
    }

    async fn insert_attempts_many(
        &mut self,
        batch: &[(String, String, Vec<NewAttempt>)],
    ) -> Result<()> {
        self.attempts_many(batch).await
    }

    async fn record_answers(&mut self, results: &[&SendResult]) -> Result<Vec<Option<Answered>>> {
        self.answers_many(results).await
    }

    async fn close_by_receipts(&mut self, closes: &[&SendResult]) -> Result<()> {
        self.receipt_closes(closes).await
    }

    async fn booking_notifications(
        &mut self,
        tenant_id: &str,
        booking_id: &str,
    ) -> Result<Vec<(String, Status)>> {
        let rows = sqlx::query(
            "SELECT id, status FROM notifications
             WHERE tenant_id = $1 AND booking_id = $2 ORDER BY id",
        )
        .bind(tenant_id)
        .bind(booking_id)
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        rows.iter()
            .map(|r| Ok((col(r, "id")?, col_enum(r, "status")?)))
            .collect()
    }
}
