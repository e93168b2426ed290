//! The claim on PostgreSQL, in one statement (see `claim_in_one`).

use super::codec::{col, col_channel, col_enum, col_json, col_u32, col_usize, int};
use super::error::Db;
use super::tx::PgTx;
use crate::claim;
use crate::primitives::{Candidate, ClaimTaken};
use crate::{ClaimBudget, ClaimedAttempt, Result, StoreError};
use herald_core::{Millis, Rendered};

impl PgTx {
    /// `CascadeTx::claim_due` in one statement.
    pub(super) async fn claim_in_one(
        &mut self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
        budget: &ClaimBudget,
    ) -> Result<ClaimTaken> {
        // One statement: the scan locks its rows and skips what another
        // node has locked (one arm per status, each on its own partial
        // index; queued rows key by key, only keys with sends left, each
        // read no further than four times what it has left, the keys found
        // by skipping through `attempts_queued_by_key`), `crate::claim::pick`'s
        // rules choose among them (no overdue row, at most `limit`, no key
        // past its budget: its row number within the key against what the
        // key has left), and the UPDATE marks the chosen `sending` and
        // returns them. The overdue come back too, still locked, for `flow`
        // to close in this transaction; the rest stay locked only until
        // this short transaction ends.
        let mut tenants = Vec::with_capacity(budget.in_flight.len());
        let mut channels = Vec::with_capacity(budget.in_flight.len());
        let mut used = Vec::with_capacity(budget.in_flight.len());
        for ((tenant, channel), n) in &budget.in_flight {
            tenants.push(tenant.as_str());
            channels.push(channel.as_str());
            used.push(int(*n));
        }
        let rows = sqlx::query(
            "WITH RECURSIVE used AS (SELECT * FROM UNNEST($3::text[], $4::text[], $5::bigint[])
                 AS k(t, c, n)),
             keys AS (
                 (SELECT tenant_id AS t, channel AS c FROM attempts WHERE status = 'queued'
                  ORDER BY tenant_id, channel LIMIT 1)
                 UNION ALL
                 SELECT nx.t, nx.c FROM keys k CROSS JOIN LATERAL (
                     SELECT tenant_id AS t, channel AS c FROM attempts
                     WHERE status = 'queued' AND (tenant_id, channel) > (k.t, k.c)
                     ORDER BY tenant_id, channel LIMIT 1) nx),
             room AS (SELECT r.* FROM (SELECT k.t, k.c, $6 - COALESCE(
                         (SELECT u.n FROM used u WHERE u.t = k.t AND u.c = k.c), 0) AS room
                     FROM keys k) r WHERE r.room > 0),
             q AS (SELECT x.* FROM room r CROSS JOIN LATERAL (
                     SELECT id, tenant_id, channel, notification_id, not_after, deadline,
                         next_try_at AS due FROM attempts
                     WHERE status = 'queued' AND tenant_id = r.t AND channel = r.c
                       AND next_try_at <= $1
                     ORDER BY next_try_at LIMIT LEAST($2, LEAST(r.room, $2) * 4)
                     FOR NO KEY UPDATE SKIP LOCKED) x),
             s AS (SELECT id, tenant_id, channel, notification_id, not_after, deadline,
                 lease_until AS due FROM attempts
                 WHERE status = 'sending' AND lease_until <= $1
                   AND (tenant_id, channel) NOT IN (SELECT t, c FROM used WHERE n >= $6)
                 ORDER BY lease_until LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED),
             u AS (SELECT *, (not_after IS NOT NULL AND not_after <= $1) OR deadline <= $1
                     AS overdue
                 FROM (SELECT * FROM q UNION ALL SELECT * FROM s) x
                 ORDER BY due, id LIMIT $2),
             ok AS (SELECT u.id, u.due, row_number() OVER (
                         PARTITION BY u.tenant_id, u.channel ORDER BY u.due, u.id) AS rn,
                     $6 - COALESCE((SELECT k.n FROM used k
                                    WHERE k.t = u.tenant_id AND k.c = u.channel), 0) AS room
                 FROM u WHERE NOT u.overdue),
             pick AS (SELECT id FROM ok WHERE rn <= room ORDER BY due, id LIMIT $7),
             c AS (UPDATE attempts a SET status = 'sending', lease_until = $8,
                     requests = a.requests + 1, sent_at = COALESCE(a.sent_at, $1),
                     via_hook = COALESCE(
                         (SELECT i.hook_id FROM integrations i
                          WHERE i.tenant_id = a.tenant_id AND i.channel = a.channel),
                         (SELECT o.hook_id FROM operator_integrations o
                          WHERE o.channel = a.channel))
                 FROM notifications n
                 WHERE a.id IN (SELECT id FROM pick) AND n.id = a.notification_id
                 RETURNING a.id, a.notification_id, a.tenant_id, a.channel, a.route,
                     a.to_addr, a.idempotency_key, a.channel_idx, n.rendered, a.requests,
                     a.created_at, a.deadline, a.via_hook, n.audience, n.recipient_id,
                     a.created_at > (SELECT MIN(b.created_at) FROM attempts b
                                     WHERE b.notification_id = a.notification_id) AS fallback,
                     a.not_after)
             SELECT false AS overdue, c.* FROM c
             UNION ALL
             SELECT true, u.id, u.notification_id, u.tenant_id, u.channel, NULL, NULL, NULL,
                 NULL, NULL, NULL, NULL, u.deadline, NULL, NULL, NULL, NULL, u.not_after
             FROM u WHERE u.overdue",
        )
        .bind(now)
        .bind(int(claim::scan_for(limit)))
        .bind(tenants)
        .bind(channels)
        .bind(used)
        .bind(int(budget.per_key))
        .bind(int(limit))
        .bind(lease_until)
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        let mut taken = ClaimTaken {
            claimed: Vec::with_capacity(rows.len()),
            overdue: Vec::new(),
        };
        for r in &rows {
            if col(r, "overdue")? {
                taken.overdue.push(Candidate {
                    id: col(r, "id")?,
                    tenant_id: col(r, "tenant_id")?,
                    channel: col_channel(r, "channel")?,
                    notification_id: col(r, "notification_id")?,
                    not_after: col(r, "not_after")?,
                    window_ends: col(r, "deadline")?,
                });
                continue;
            }
            taken.claimed.push(ClaimedAttempt {
                id: col(r, "id")?,
                notification_id: col(r, "notification_id")?,
                tenant_id: col(r, "tenant_id")?,
                audience: col_enum(r, "audience")?,
                recipient_id: col(r, "recipient_id")?,
                channel: col_channel(r, "channel")?,
                route: col(r, "route")?,
                to: col(r, "to_addr")?,
                idempotency_key: col(r, "idempotency_key")?,
                content: text_of(r)?,
                requests: col_u32(r, "requests")?,
                created_at: col(r, "created_at")?,
                deadline: col(r, "deadline")?,
                fallback: col(r, "fallback")?,
                deliver_before: col(r, "not_after")?,
                via_hook: col(r, "via_hook")?,
            });
        }
        Ok(taken)
    }
}

/// A claimed attempt's text: its channel's in the notification's texts.
fn text_of(r: &sqlx::postgres::PgRow) -> Result<Rendered> {
    let idx = col_usize(r, "channel_idx")?;
    let mut texts: Vec<Option<Rendered>> = col_json(r, "rendered")?;
    texts
        .get_mut(idx)
        .and_then(Option::take)
        .ok_or_else(|| StoreError::Corrupt(format!("no rendered text for channel {idx}")))
}
