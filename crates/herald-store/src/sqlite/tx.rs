//! SQLite's implementation of the cascade primitives, on the writer
//! thread's connection inside the batch transaction. Every statement is
//! prepared once and kept (`prepare_cached`); each call runs a statement
//! or two in-process, so per-row statements cost microseconds and need no
//! multi-row batching. The futures are ready at once.

use super::cache::Cache;
use super::codec::{int, to_json};
use super::compact::{attempt_no, uuid_value, HexText, UuidText};
use super::docs;
use super::error::Db;
use super::notification_rows::schedule_json;
use super::row::{enum_of, json_of};
use crate::cascade::{NewAttempt, Step};
use crate::claim;
use crate::primitives::{Answered, AttemptRef, CascadeTx, ClaimTaken, Loaded, RecipientOf};
use crate::{
    BookingLink, ClaimBudget, IncomingReceipt, NewNotification, Result, SendResult, StoreError,
};
use herald_core::{Channel, Millis, Rendered, Schedule, Status};
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;

/// The writer's connection, inside the batch's transaction, and what the
/// writer remembers of tenants and plan shapes.
pub(super) struct WriteTx<'c> {
    pub conn: &'c mut Connection,
    pub cache: &'c mut Cache,
    /// The row number of the notification this job last loaded: a
    /// decision reads and writes one notification several times, by row
    /// number instead of through the id's index each time. One job only
    /// (a prune in another job may free the number).
    pub last: Option<(String, i64)>,
}

impl WriteTx<'_> {
    /// A tenant's number, `None` for an unknown tenant.
    pub(super) fn tenant_no(&mut self, id: &str) -> Result<Option<i64>> {
        self.cache.tenant_no(self.conn, id)
    }

    /// The tenant id of a number.
    pub(super) fn tenant_id(&mut self, no: i64) -> Result<Arc<str>> {
        self.cache.tenant_id(self.conn, no)
    }
}

impl CascadeTx for WriteTx<'_> {
    async fn insert_notification(&mut self, n: &NewNotification, step: &Step) -> Result<bool> {
        self.insert_notification_row(n, step)
    }

    async fn notification_by_key(
        &mut self,
        tenant_id: &str,
        key: &str,
    ) -> Result<Option<(String, String)>> {
        let tenant_no = self.tenant_no(tenant_id)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, request_sha256 FROM notifications
                 WHERE tenant_no = ?1 AND idempotency_key = ?2",
            )
            .db()?;
        stmt.query_row(params![tenant_no, key], |r| {
            Ok((
                r.get::<_, UuidText>(0)?.0,
                r.get::<_, Option<HexText>>(1)?
                    .map(|h| h.0)
                    .unwrap_or_default(),
            ))
        })
        .optional()
        .db()
    }

    async fn release_expired_key(
        &mut self,
        tenant_id: &str,
        key: &str,
        before: Millis,
    ) -> Result<bool> {
        let tenant_no = self.tenant_no(tenant_id)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE notifications SET idempotency_key = NULL, request_sha256 = NULL
                 WHERE tenant_no = ?1 AND idempotency_key = ?2 AND created_at < ?3",
            )
            .db()?;
        Ok(stmt.execute(params![tenant_no, key, before]).db()? > 0)
    }

    async fn load_notification(&mut self, id: &str) -> Result<Option<Loaded>> {
        self.load_row(id)
    }

    async fn load_rendered(&mut self, id: &str) -> Result<Vec<Option<Rendered>>> {
        let text: Option<String> = match self.notification_no(id)? {
            Some(no) => self
                .conn
                .prepare_cached("SELECT rendered FROM notifications WHERE no = ?1")
                .db()?
                .query_row(params![no], |r| r.get(0))
                .optional()
                .db()?,
            None => None,
        };
        let text =
            text.ok_or_else(|| StoreError::Corrupt(format!("notification {id} has no texts")))?;
        docs::rendered_from(&text)
    }

    async fn write_step(&mut self, id: &str, step: &Step, now: Millis) -> Result<()> {
        let Some(no) = self.notification_no(id)? else {
            return Ok(());
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE notifications SET verdicts = ?2, status = ?3, wake_at = ?4,
                     updated_at = MAX(updated_at, ?5)
                 WHERE no = ?1",
            )
            .db()?;
        stmt.execute(params![
            no,
            docs::verdicts_doc(&step.verdicts)?,
            step.status.as_str(),
            step.wake_at,
            now
        ])
        .db()?;
        Ok(())
    }

    async fn insert_attempts(
        &mut self,
        notification_id: &str,
        tenant_id: &str,
        attempts: &[NewAttempt],
    ) -> Result<()> {
        self.insert_attempt_rows(notification_id, tenant_id, attempts)
    }

    async fn record_answer(&mut self, r: &SendResult) -> Result<Option<Answered>> {
        self.answer_row(r)
    }

    async fn recipient_of(&mut self, notification_id: &str) -> Result<Option<RecipientOf>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT t.id, n.audience, n.recipient_id, r.doc
                 FROM notifications n JOIN tenants t ON t.no = n.tenant_no
                     JOIN recipients r ON r.tenant_id = t.id
                     AND r.kind = n.audience AND r.id = n.recipient_id
                 WHERE n.id = ?1",
            )
            .db()?;
        let row: Option<(String, String, String, String)> = stmt
            .query_row(params![uuid_value(notification_id)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .db()?;
        row.map(|(tenant_id, kind, id, doc)| {
            Ok(RecipientOf {
                tenant_id,
                kind: enum_of(&kind)?,
                id,
                doc: json_of(&doc, "doc")?,
            })
        })
        .transpose()
    }

    async fn put_recipient_doc(&mut self, r: &RecipientOf, now: Millis) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE recipients SET doc = ?4, updated_at = ?5
                 WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3",
            )
            .db()?;
        stmt.execute(params![
            r.tenant_id,
            r.kind.as_str(),
            r.id,
            to_json(&r.doc)?,
            now
        ])
        .db()?;
        Ok(())
    }

    async fn attempt_by_message_id(
        &mut self,
        hook_id: &str,
        provider_message_id: &str,
    ) -> Result<Option<AttemptRef>> {
        self.attempt_by(
            "SELECT a.id, n.id, a.deadline
             FROM attempts a JOIN notifications n ON n.no = a.notification_no
             WHERE a.provider_message_id = ?1
                 AND a.via_hook = (SELECT no FROM hooks WHERE id = ?2) LIMIT 1",
            uuid_value(provider_message_id),
            hook_id,
        )
    }

    async fn attempt_by_key(
        &mut self,
        hook_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<AttemptRef>> {
        self.attempt_by(
            "SELECT a.id, n.id, a.deadline
             FROM attempts a JOIN notifications n ON n.no = a.notification_no
             WHERE a.idempotency_key = ?1
                 AND a.via_hook = (SELECT no FROM hooks WHERE id = ?2) LIMIT 1",
            uuid_value(idempotency_key),
            hook_id,
        )
    }

    async fn insert_receipt(
        &mut self,
        attempt_id: &str,
        r: &IncomingReceipt,
        late: bool,
    ) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO receipts (attempt_id, delivered, at, late, error)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )
            .db()?;
        let n = stmt
            .execute(params![
                attempt_no(attempt_id),
                r.delivered,
                r.at,
                late,
                r.error
            ])
            .db()?;
        Ok(n > 0)
    }

    async fn claim_due(
        &mut self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        budget: &ClaimBudget,
    ) -> Result<ClaimTaken> {
        // The writer thread is the only writer: what it scans stays due
        // until it marks it, so scanning and marking need no lock.
        let skip: Vec<&(String, Channel)> = budget.saturated().collect();
        let rows = self.claim_candidates(now, claim::scan_for(limit), &skip)?;
        let (ids, overdue) = claim::pick(rows, now, budget, limit);
        let claimed = if ids.is_empty() {
            Vec::new()
        } else {
            self.mark_claimed(&ids, now, lease_until)?
        };
        Ok(ClaimTaken { claimed, overdue })
    }

    async fn due_notifications(&mut self, now: Millis, limit: usize) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM notifications
                 WHERE wake_at <= ?1 AND status IN ('pending', 'scheduled')
                 ORDER BY wake_at LIMIT ?2",
            )
            .db()?;
        let ids = stmt
            .query_map(params![now, int(limit)], |r| Ok(r.get::<_, UuidText>(0)?.0))
            .db()?
            .collect::<rusqlite::Result<Vec<String>>>()
            .db()?;
        Ok(ids)
    }

    async fn write_schedule(
        &mut self,
        id: &str,
        schedule: &Schedule,
        booking: Option<&BookingLink>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE notifications SET schedule = ?2,
                     booking_starts_at = COALESCE(?3, booking_starts_at)
                 WHERE id = ?1",
            )
            .db()?
            .execute(params![
                uuid_value(id),
                schedule_json(schedule)?,
                booking.and_then(|b| b.starts_at)
            ])
            .db()?;
        self.conn
            .prepare_cached(
                "UPDATE attempts SET not_after = ?2
                 WHERE notification_no = (SELECT no FROM notifications WHERE id = ?1)
                     AND status = 'queued'",
            )
            .db()?
            .execute(params![uuid_value(id), schedule.deliver_before])
            .db()?;
        Ok(())
    }

    async fn cancel_queued_attempts(&mut self, notification_id: &str) -> Result<usize> {
        self.conn
            .prepare_cached(
                "UPDATE attempts SET status = 'cancelled'
                 WHERE notification_no = (SELECT no FROM notifications WHERE id = ?1)
                     AND status = 'queued'",
            )
            .db()?
            .execute(params![uuid_value(notification_id)])
            .db()
    }

    async fn expire_attempts(&mut self, ids: &[String]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE attempts SET status = 'expired'
                 WHERE id = ?1 AND status IN ('queued', 'sending')",
            )
            .db()?;
        for id in ids {
            stmt.execute(params![attempt_no(id)]).db()?;
        }
        Ok(())
    }

    async fn booking_notifications(
        &mut self,
        tenant_id: &str,
        booking_id: &str,
    ) -> Result<Vec<(String, Status)>> {
        let tenant_no = self.tenant_no(tenant_id)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, status FROM notifications
                 WHERE tenant_no = ?1 AND booking_id = ?2 ORDER BY id",
            )
            .db()?;
        let rows = stmt
            .query_map(params![tenant_no, booking_id], |r| {
                Ok((r.get::<_, UuidText>(0)?.0, r.get::<_, String>(1)?))
            })
            .db()?
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        rows.into_iter()
            .map(|(id, status)| Ok((id, enum_of(&status)?)))
            .collect()
    }
}
