//! Attempts as rows on the writer's connection: a notification's attempts
//! with their receipts, new attempts, and answers.

use super::codec::int;
use super::compact::{attempt_id, attempt_no, hex_value, uuid_value, UuidText};
use super::error::Db;
use super::row::{attempt_status, enum_of};
use super::tx::WriteTx;
use crate::answer::answer_cols;
use crate::cascade::NewAttempt;
use crate::primitives::{Answered, AttemptRef};
use crate::{AttemptRecord, ReceiptRecord, Result, SendResult, StoreError};
use herald_core::{Channel, Millis};
use rusqlite::{params, OptionalExtension};

const ATTEMPTS_OF: &str = "SELECT a.id, a.channel_idx, a.channel, a.route, a.to_addr,
        a.idempotency_key, a.provider_message_id, a.status, a.error, a.unreachable,
        a.requests, a.created_at, a.deadline, a.sent_at, a.answered_at, a.cost_micros,
        r.delivered, r.at, r.late, r.error
    FROM attempts a LEFT JOIN receipts r ON r.attempt_id = a.id
    WHERE a.notification_no = ?1
    ORDER BY a.created_at, a.id, r.at, r.delivered DESC";

impl WriteTx<'_> {
    /// Every attempt of a notification, oldest first, with its receipts.
    pub(super) fn attempts_of(&self, notification_no: i64) -> Result<Vec<AttemptRecord>> {
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

    /// The attempt `sql` finds by `value` and a hook.
    pub(super) fn attempt_by(
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

    /// `CascadeTx::insert_attempts`.
    pub(super) fn insert_attempt_rows(
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

    /// `CascadeTx::record_answer`.
    pub(super) fn answer_row(&mut self, r: &SendResult) -> Result<Option<Answered>> {
        let (status, pm, error, unreachable, next, cost) = answer_cols(&r.outcome);
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
}

/// A channel column's value.
pub(super) fn channel_of(s: &str) -> Result<Channel> {
    Channel::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown channel {s:?}")))
}
