//! SQLite's claim in two halves on the writer thread: the due candidates,
//! then the chosen marked `sending` (`crate::claim::pick` chooses
//! between them; see `CascadeTx::claim_due`). The writer is the only
//! writer, so nothing changes between the two.

use super::attempt_rows::channel_of;
use super::codec::int;
use super::compact::{attempt_id, attempt_no, HexText, UuidText};
use super::docs;
use super::error::Db;
use super::row::enum_of;
use super::tx::WriteTx;
use crate::primitives::Candidate;
use crate::{ClaimedAttempt, Result, StoreError};
use herald_core::{Channel, Millis};
use rusqlite::{params, params_from_iter, OptionalExtension};

/// The two halves of a claim, between which `claim::pick` chooses.
impl WriteTx<'_> {
    /// Due attempts in due order, at most `scan`, leaving out the keys in
    /// `skip`.
    pub(super) fn claim_candidates(
        &mut self,
        now: Millis,
        scan: usize,
        skip: &[&(String, Channel)],
    ) -> Result<Vec<Candidate>> {
        // One arm per status, each bounded by its own partial index; the
        // keys at their bound are left out in SQL, so a long backlog of one
        // key does not fill the scan.
        let mut not = String::new();
        for i in 0..skip.len() {
            let t = 3 + 2 * i;
            not.push_str(&format!(
                " AND NOT (tenant_no = ?{t} AND channel = ?{})",
                t + 1
            ));
        }
        let sql = format!(
            "SELECT c.id, c.tenant_no, c.channel,
                 (SELECT n.id FROM notifications n WHERE n.no = c.notification_no), c.not_after,
                 c.deadline
             FROM (
                 SELECT * FROM (SELECT id, tenant_no, channel, notification_no, not_after,
                     deadline, next_try_at AS due FROM attempts
                     WHERE status = 'queued' AND next_try_at <= ?1{not}
                     ORDER BY next_try_at LIMIT ?2)
                 UNION ALL
                 SELECT * FROM (SELECT id, tenant_no, channel, notification_no, not_after,
                     deadline, lease_until AS due FROM attempts
                     WHERE status = 'sending' AND lease_until <= ?1{not}
                     ORDER BY lease_until LIMIT ?2)) c
             ORDER BY c.due LIMIT ?2"
        );
        let mut values: Vec<rusqlite::types::Value> = vec![now.into(), int(scan).into()];
        for (tenant, channel) in skip {
            // An unknown tenant has no attempts to leave out.
            values.push(self.tenant_no(tenant)?.unwrap_or(-1).into());
            values.push(channel.as_str().to_string().into());
        }
        type Row = (i64, i64, String, UuidText, Option<Millis>, Millis);
        let rows: Vec<Row> = {
            let mut stmt = self.conn.prepare_cached(&sql).db()?;
            let rows = stmt
                .query_map(params_from_iter(values), |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .db()?;
            rows.collect::<rusqlite::Result<_>>().db()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, tenant_no, channel, notification_id, not_after, window_ends) in rows {
            out.push(Candidate {
                id: attempt_id(id),
                tenant_id: self.tenant_id(tenant_no)?.to_string(),
                channel: channel_of(&channel)?,
                notification_id: notification_id.0,
                not_after,
                window_ends,
            });
        }
        Ok(out)
    }

    /// Marks attempts `sending` (see `CascadeTx::claim_due`).
    pub(super) fn mark_claimed(
        &mut self,
        ids: &[String],
        now: Millis,
        lease_until: Millis,
    ) -> Result<Vec<ClaimedAttempt>> {
        /// What the claim's UPDATE returns of one attempt.
        struct Marked {
            notification_no: i64,
            tenant_no: i64,
            channel: String,
            route: String,
            to: String,
            idempotency_key: UuidText,
            channel_idx: i64,
            requests: i64,
            created_at: Millis,
            deadline: Millis,
            via_hook: Option<HexText>,
            fallback: bool,
            not_after: Option<Millis>,
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let marked = self
                .conn
                .prepare_cached(
                    "UPDATE attempts SET status = 'sending', lease_until = ?2,
                         requests = requests + 1, sent_at = COALESCE(sent_at, ?3),
                         via_hook = (SELECT k.no FROM hooks k WHERE k.id =
                             (SELECT CASE WHEN length(h) > 0 AND length(h) % 2 = 0
                                 AND h NOT GLOB '*[^0-9a-f]*' THEN unhex(h) ELSE h END
                             FROM (SELECT COALESCE(
                             (SELECT i.hook_id FROM integrations i
                              WHERE i.tenant_id = (SELECT t.id FROM tenants t
                                                   WHERE t.no = attempts.tenant_no)
                                  AND i.channel = attempts.channel),
                             (SELECT o.hook_id FROM operator_integrations o
                              WHERE o.channel = attempts.channel)) AS h)))
                     WHERE id = ?1
                     RETURNING notification_no, tenant_no, channel, route, to_addr,
                         idempotency_key, channel_idx, requests, created_at, deadline,
                         (SELECT k.id FROM hooks k WHERE k.no = via_hook),
                         created_at > (SELECT MIN(b.created_at) FROM attempts b
                                       WHERE b.notification_no = attempts.notification_no),
                         not_after",
                )
                .db()?
                .query_row(params![attempt_no(id), lease_until, now], |r| {
                    Ok(Marked {
                        notification_no: r.get(0)?,
                        tenant_no: r.get(1)?,
                        channel: r.get(2)?,
                        route: r.get(3)?,
                        to: r.get(4)?,
                        idempotency_key: r.get(5)?,
                        channel_idx: r.get(6)?,
                        requests: r.get(7)?,
                        created_at: r.get(8)?,
                        deadline: r.get(9)?,
                        via_hook: r.get(10)?,
                        fallback: r.get(11)?,
                        not_after: r.get(12)?,
                    })
                })
                .optional()
                .db()?;
            let Some(m) = marked else {
                continue;
            };
            let head: Option<(UuidText, String, String, String)> = self
                .conn
                .prepare_cached(
                    "SELECT id, rendered, audience, recipient_id FROM notifications WHERE no = ?1",
                )
                .db()?
                .query_row(params![m.notification_no], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
                .db()?;
            let Some((notification_id, rendered, audience, recipient_id)) = head else {
                return Err(StoreError::Corrupt(format!(
                    "attempt {id} of an unknown notification"
                )));
            };
            out.push(ClaimedAttempt {
                id: id.clone(),
                notification_id: notification_id.0,
                tenant_id: self.tenant_id(m.tenant_no)?.to_string(),
                audience: enum_of(&audience)?,
                recipient_id,
                channel: channel_of(&m.channel)?,
                route: m.route,
                to: m.to,
                idempotency_key: m.idempotency_key.0,
                content: docs::text_from(&rendered, m.channel_idx)?,
                requests: u32::try_from(m.requests)
                    .map_err(|_| StoreError::Corrupt(format!("requests {}", m.requests)))?,
                created_at: m.created_at,
                deadline: m.deadline,
                via_hook: m.via_hook.map(|h| h.0),
                fallback: m.fallback,
                deliver_before: m.not_after,
            });
        }
        Ok(out)
    }
}
