//! SQLite's implementation of the cascade primitives, on the writer
//! thread's connection inside the batch transaction. Every statement is
//! prepared once and kept (`prepare_cached`); each call runs a statement
//! or two in-process, so per-row statements cost microseconds and need no
//! multi-row batching. The futures are ready at once.

use super::cache::Cache;
use super::compact::{attempt_id, attempt_no, hex_value, uuid_value, HexText, UuidText};
use super::docs;
use super::error::Db;
use super::row::{attempt_status, enum_of, json_of};
use crate::cascade::{NewAttempt, Step};
use crate::claim;
use crate::primitives::{Answered, AttemptRef, CascadeTx, ClaimTaken, Loaded, RecipientOf};
use crate::{
    AttemptRecord, BookingLink, ClaimBudget, IncomingReceipt, NewNotification, ReceiptRecord,
    Result, SendOutcome, SendResult, StoreError,
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

pub(super) fn int(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("does not encode as JSON: {e}")))
}

const ATTEMPTS_OF: &str = "SELECT a.id, a.channel_idx, a.channel, a.route, a.to_addr,
        a.idempotency_key, a.provider_message_id, a.status, a.error, a.unreachable,
        a.requests, a.created_at, a.deadline, a.sent_at, a.answered_at, a.cost_micros,
        r.delivered, r.at, r.late, r.error
    FROM attempts a LEFT JOIN receipts r ON r.attempt_id = a.id
    WHERE a.notification_no = ?1
    ORDER BY a.created_at, a.id, r.at, r.delivered DESC";

impl WriteTx<'_> {
    fn attempts_of(&self, notification_no: i64) -> Result<Vec<AttemptRecord>> {
        let mut stmt = self.conn.prepare_cached(ATTEMPTS_OF).db()?;
        let mut rows = stmt.query(params![notification_no]).db()?;
        let mut out: Vec<AttemptRecord> = Vec::new();
        while let Some(r) = rows.next().db()? {
            let aid = attempt_id(r.get(0).db()?);
            if out.last().is_none_or(|a| a.id != aid) {
                let channel_idx: i64 = r.get(1).db()?;
                let requests: i64 = r.get(10).db()?;
                out.push(AttemptRecord {
                    id: aid,
                    channel_idx: usize::try_from(channel_idx)
                        .map_err(|_| StoreError::Corrupt(format!("channel_idx {channel_idx}")))?,
                    channel: enum_of(&r.get::<_, String>(2).db()?)?,
                    route: r.get(3).db()?,
                    to: r.get(4).db()?,
                    idempotency_key: r.get::<_, UuidText>(5).db()?.0,
                    provider_message_id: r.get::<_, Option<UuidText>>(6).db()?.map(|u| u.0),
                    status: attempt_status(&r.get::<_, String>(7).db()?)?,
                    error: r.get(8).db()?,
                    unreachable: r.get(9).db()?,
                    requests: u32::try_from(requests)
                        .map_err(|_| StoreError::Corrupt(format!("requests {requests}")))?,
                    created_at: r.get(11).db()?,
                    deadline: r.get(12).db()?,
                    sent_at: r.get(13).db()?,
                    answered_at: r.get(14).db()?,
                    cost_micros: r.get(15).db()?,
                    receipts: Vec::new(),
                });
            }
            let at: Option<Millis> = r.get(17).db()?;
            if let (Some(at), Some(a)) = (at, out.last_mut()) {
                a.receipts.push(ReceiptRecord {
                    delivered: r.get::<_, Option<bool>>(16).db()?.unwrap_or(false),
                    at,
                    late: r.get::<_, Option<bool>>(18).db()?.unwrap_or(false),
                    error: r.get(19).db()?,
                });
            }
        }
        Ok(out)
    }

    fn attempt_by(
        &self,
        sql: &str,
        value: rusqlite::types::Value,
        hook_id: &str,
    ) -> Result<Option<AttemptRef>> {
        let mut stmt = self.conn.prepare_cached(sql).db()?;
        stmt.query_row(params![value, hex_value(hook_id)], |r| {
            Ok(AttemptRef {
                id: attempt_id(r.get(0)?),
                notification_id: r.get::<_, UuidText>(1)?.0,
                deadline: r.get(2)?,
            })
        })
        .optional()
        .db()
    }

    /// A notification's row number, `None` for an unknown id.
    fn notification_no(&mut self, id: &str) -> Result<Option<i64>> {
        if let Some((last, no)) = &self.last {
            if last == id {
                return Ok(Some(*no));
            }
        }
        let no: Option<i64> = self
            .conn
            .prepare_cached("SELECT no FROM notifications WHERE id = ?1")
            .db()?
            .query_row(params![uuid_value(id)], |r| r.get(0))
            .optional()
            .db()?;
        if let Some(no) = no {
            self.last = Some((id.to_string(), no));
        }
        Ok(no)
    }

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
        // An unknown tenant is NULL, which the NOT NULL column refuses.
        let tenant_no = self.tenant_no(&n.tenant_id)?;
        let plan_no = self.cache.plan_no(self.conn, &docs::shape_of(&n.plan))?;
        // The request's digest only tells a repeat of a keyed request.
        let sha = n
            .idempotency_key
            .as_ref()
            .map(|_| hex_value(&n.request_sha256));
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO notifications (id, tenant_no, type_key, audience, recipient_id,
                     data, idempotency_key, request_sha256, status, plan_no, reach, rendered,
                     verdicts, wake_at, created_at, updated_at, schedule, booking_id,
                     booking_starts_at, send_before_start_ms, deadline_from_booking)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15,
                     ?16, ?17, ?18, ?19, ?20)
                 ON CONFLICT (tenant_no, idempotency_key) WHERE idempotency_key IS NOT NULL
                 DO NOTHING",
            )
            .db()?;
        let done = stmt.execute(params![
            uuid_value(&n.id),
            tenant_no,
            n.type_key,
            n.audience.as_str(),
            n.recipient_id,
            to_json(&n.data)?,
            n.idempotency_key,
            sha,
            step.status.as_str(),
            plan_no,
            docs::reach_doc(&n.plan)?,
            docs::rendered_doc(&n.rendered)?,
            docs::verdicts_doc(&step.verdicts)?,
            step.wake_at,
            n.created_at,
            schedule_json(&n.schedule)?,
            n.booking.as_ref().map(|b| &b.id),
            n.booking.as_ref().and_then(|b| b.starts_at),
            n.booking.as_ref().and_then(|b| b.send_before_start_ms),
            n.booking.as_ref().is_some_and(|b| b.deadline_from_booking),
        ]);
        match done {
            Ok(rows) => Ok(rows > 0),
            Err(e) if super::error::is_unique_violation(&e) => Err(StoreError::Conflict(
                "a notification with this id already exists".into(),
            )),
            Err(e) => Err(super::error::from_rusqlite(e)),
        }
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
        type Head = (
            (i64, i64),
            i64,
            Option<String>,
            String,
            Option<String>,
            Option<BookingCols>,
        );
        let head: Option<Head> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT tenant_no, plan_no, reach, status, schedule, booking_id,
                         booking_starts_at, send_before_start_ms, deadline_from_booking, no
                     FROM notifications WHERE id = ?1",
                )
                .db()?;
            stmt.query_row(params![uuid_value(id)], |r| {
                let booking = match r.get::<_, Option<String>>(5)? {
                    Some(b) => Some((b, r.get(6)?, r.get(7)?, r.get(8)?)),
                    None => None,
                };
                Ok((
                    (r.get(0)?, r.get(9)?),
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    booking,
                ))
            })
            .optional()
            .db()?
        };
        let Some(((tenant_no, no), plan_no, reach, status, schedule, booking)) = head else {
            return Ok(None);
        };
        self.last = Some((id.to_string(), no));
        let shape = self.cache.plan(self.conn, plan_no)?;
        Ok(Some(Loaded {
            tenant_id: self.tenant_id(tenant_no)?.to_string(),
            plan: docs::plan_from(&shape, reach.as_deref())?,
            attempts: self.attempts_of(no)?,
            status: enum_of(&status)?,
            schedule: match schedule {
                Some(text) => json_of(&text, "schedule")?,
                None => Schedule::default(),
            },
            booking: booking.map(booking_of),
        }))
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
        if attempts.is_empty() {
            return Ok(());
        }
        // The row references; the attempt's id is its new row number and
        // its text stays in the notification's `rendered`.
        let tenant = self.tenant_no(tenant_id)?;
        let (notification_no, tenant_no): (i64, i64) = self
            .conn
            .prepare_cached("SELECT no, tenant_no FROM notifications WHERE id = ?1")
            .db()?
            .query_row(params![uuid_value(notification_id)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .db()?
            .filter(|(_, t)| Some(*t) == tenant)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "attempts of unknown notification {notification_id}"
                ))
            })?;
        let mut stmt = self
            .conn
            .prepare_cached(
                // No attempt is ever created twice for one channel, route
                // and address of a notification: checked on the few
                // attempts of the notification (a unique index over these
                // texts would cost more bytes than the rows it guards).
                "INSERT OR IGNORE INTO attempts (notification_no, tenant_no, channel_idx,
                     channel, route, to_addr, idempotency_key, status, requests, created_at,
                     deadline, next_try_at, not_after)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?9, ?10, ?11
                 WHERE NOT EXISTS (SELECT 1 FROM attempts WHERE notification_no = ?1
                     AND channel_idx = ?3 AND route = ?5 AND to_addr = ?6)",
            )
            .db()?;
        for a in attempts {
            stmt.execute(params![
                notification_no,
                tenant_no,
                int(a.channel_idx),
                a.channel.as_str(),
                a.route,
                a.to,
                uuid_value(&a.idempotency_key),
                a.created_at,
                a.deadline,
                a.next_try_at,
                a.not_after,
            ])
            .db()?;
        }
        Ok(())
    }

    async fn record_answer(&mut self, r: &SendResult) -> Result<Option<Answered>> {
        let (status, pm, error, unreachable, next, cost) = match &r.outcome {
            SendOutcome::Accepted {
                provider_message_id,
                cost_micros,
            } => (
                "accepted",
                provider_message_id.as_deref(),
                None,
                false,
                None,
                *cost_micros,
            ),
            SendOutcome::Refused { error, unreachable } => (
                "refused",
                None,
                Some(error.as_str()),
                *unreachable,
                None,
                None,
            ),
            SendOutcome::Retry { error, next_try_at } => (
                "queued",
                None,
                Some(error.as_str()),
                false,
                Some(*next_try_at),
                None,
            ),
            SendOutcome::GaveUp { error } => {
                ("gave_up", None, Some(error.as_str()), false, None, None)
            }
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "UPDATE attempts SET status = ?2,
                     answered_at = CASE ?2 WHEN 'queued' THEN answered_at ELSE ?3 END,
                     lease_until = NULL,
                     provider_message_id = COALESCE(?4, provider_message_id),
                     error = CASE ?2 WHEN 'accepted' THEN NULL ELSE COALESCE(?5, error) END,
                     unreachable = CASE ?2 WHEN 'refused' THEN ?6 ELSE unreachable END,
                     next_try_at = COALESCE(?7, next_try_at),
                     cost_micros = COALESCE(?8, cost_micros)
                 WHERE id = ?1 AND (status IN ('queued', 'sending')
                     OR (status = 'accepted' AND ?2 = 'accepted'
                         AND ((?8 IS NOT NULL AND cost_micros IS NULL)
                             OR (?4 IS NOT NULL AND provider_message_id IS NULL))))
                 RETURNING (SELECT n.id FROM notifications n WHERE n.no = notification_no),
                     channel, to_addr",
            )
            .db()?;
        let row: Option<(UuidText, String, String)> = stmt
            .query_row(
                params![
                    attempt_no(&r.attempt_id),
                    status,
                    r.at,
                    pm.map(uuid_value),
                    error,
                    unreachable,
                    next,
                    cost
                ],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .db()?;
        row.map(|(notification_id, channel, to)| {
            Ok(Answered {
                notification_id: notification_id.0,
                channel: channel_of(&channel)?,
                to,
            })
        })
        .transpose()
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

/// A booking's columns: id, start, send-before-start, deadline from it.
type BookingCols = (String, Option<Millis>, Option<Millis>, bool);

fn booking_of(
    (id, starts_at, send_before_start_ms, deadline_from_booking): BookingCols,
) -> BookingLink {
    BookingLink {
        id,
        starts_at,
        send_before_start_ms,
        deadline_from_booking,
    }
}

/// The schedule column: NULL for the default (send now, no deadline).
fn schedule_json(s: &Schedule) -> Result<Option<String>> {
    if *s == Schedule::default() {
        Ok(None)
    } else {
        to_json(s).map(Some)
    }
}

pub(super) fn channel_of(s: &str) -> Result<Channel> {
    Channel::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown channel {s:?}")))
}
