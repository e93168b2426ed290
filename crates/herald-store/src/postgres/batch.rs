//! The batch forms of the cascade primitives on PostgreSQL: one statement
//! per batch (arrays bound as parameters, `UNNEST`ed in SQL) where the
//! provided forms would run one statement per row. A dispatcher round of N
//! answers then costs a handful of round trips, each a network hop and a
//! parse-bind-execute on the server, instead of about six per answer.

use super::attempts::push_attempt_row;
use super::codec::{col, col_channel, col_enum, col_json, int, to_json};
use super::error::Db;
use super::notifications::{booking_of, schedule_of};
use super::tx::PgTx;
use crate::answer::answer_cols;
use crate::cascade::{NewAttempt, Step};
use crate::primitives::{Answered, Loaded};
use crate::{AttemptRecord, Result, SendResult, StoreError, FINISHED};
use herald_core::{Millis, Rendered};
use std::collections::HashMap;

/// The attempts of several notifications with their receipts, grouped by
/// notification (see `attempts::ATTEMPTS_OF` for why the receipts are a lateral
/// lookup).
const ATTEMPTS_OF_MANY: &str = "SELECT a.notification_id, a.id, a.channel_idx, a.channel,
        a.route, a.to_addr, a.idempotency_key, a.provider_message_id, a.status, a.error,
        a.unreachable, a.requests, a.created_at, a.deadline, a.sent_at, a.answered_at,
        a.cost_micros,
        r.delivered AS r_delivered, r.at AS r_at, r.late AS r_late, r.error AS r_error
    FROM attempts a
    LEFT JOIN LATERAL (
        SELECT x.delivered, x.at, x.late, x.error FROM receipts x
        WHERE x.attempt_id = a.id OFFSET 0
    ) r ON true
    WHERE a.notification_id = ANY($1)
    ORDER BY a.notification_id, a.created_at, a.id, r.at, r.delivered DESC";

/// The answers of a batch (`answers_many`), each applied where the attempt
/// still waits for it; `$also` narrows the rows further.
macro_rules! answers_sql {
    ($also:literal) => {
        concat!(
            "UPDATE attempts a SET status = u.status,
                 answered_at = CASE u.status WHEN 'queued' THEN a.answered_at ELSE u.at END,
                 lease_until = NULL,
                 provider_message_id = COALESCE(u.pm, a.provider_message_id),
                 error = CASE u.status WHEN 'accepted' THEN NULL ELSE COALESCE(u.error, a.error) END,
                 unreachable = CASE u.status WHEN 'refused' THEN u.unreachable ELSE a.unreachable END,
                 next_try_at = COALESCE(u.next, a.next_try_at),
                 cost_micros = COALESCE(u.cost, a.cost_micros)
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                 $6::bool[], $7::bigint[], $8::bigint[])
                 AS u(id, status, at, pm, error, unreachable, next, cost)
             WHERE a.id = u.id AND (a.status IN ('queued', 'sending')
                 OR (a.status = 'accepted' AND u.status = 'accepted'
                     AND ((u.cost IS NOT NULL AND a.cost_micros IS NULL)
                         OR (u.pm IS NOT NULL AND a.provider_message_id IS NULL))))",
            $also,
            " RETURNING a.id, a.notification_id, a.channel, a.to_addr"
        )
    };
}

const ANSWERS: &str = answers_sql!("");

/// `ANSWERS` for receipts' closes, in one pass: a row another transaction
/// holds is skipped (its holder is the round recording its answer) unless
/// no sender will answer it, being queued or sending with a lease lapsed
/// by the receipt's time (a round's claim may hold it without taking it).
/// Those are waited for, and the condition is checked again on the row
/// the holder leaves, so an attempt it claimed again (a fresh lease) is
/// left to its sender.
const ANSWERS_BY_RECEIPTS: &str = answers_sql!(
    " AND (a.id IN (SELECT x.id FROM attempts x WHERE x.id = ANY($1)
              FOR NO KEY UPDATE SKIP LOCKED)
          OR a.status = 'queued' OR (a.status = 'sending' AND a.lease_until <= u.at))"
);

impl PgTx {
    /// `CascadeTx::load_notifications` in two statements.
    pub(super) async fn load_many(&mut self, ids: &[String]) -> Result<Vec<(String, Loaded)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Locked in id order, the same order on every node, so two rounds
        // deciding overlapping notifications wait instead of deadlocking.
        let heads = sqlx::query(
            "SELECT id, tenant_id, plan_id, reach, status, schedule, booking_id,
                 booking_starts_at, send_before_start_ms, deadline_from_booking
             FROM notifications WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
        )
        .bind(ids)
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        // Planned for each batch (not prepared once): a plan cached while
        // the table was small would scan it whole once it is not.
        let rows = sqlx::query(ATTEMPTS_OF_MANY)
            .persistent(false)
            .bind(ids)
            .fetch_all(&mut *self.tx)
            .await
            .db()?;
        let mut plan_ids = Vec::with_capacity(heads.len());
        for h in &heads {
            plan_ids.push(col::<i64>(h, "plan_id")?);
        }
        let plans = self.plans.by_id(&mut self.tx, &plan_ids).await?;
        let mut attempts: HashMap<String, Vec<AttemptRecord>> = HashMap::new();
        for r in &rows {
            let nid: String = col(r, "notification_id")?;
            push_attempt_row(attempts.entry(nid).or_default(), r)?;
        }
        heads
            .iter()
            .zip(plan_ids)
            .map(|(h, plan_id)| {
                let id: String = col(h, "id")?;
                let shape = plans
                    .get(&plan_id)
                    .ok_or_else(|| StoreError::Corrupt(format!("no plan number {plan_id}")))?;
                let reach: Option<&str> = col(h, "reach")?;
                let loaded = Loaded {
                    tenant_id: col(h, "tenant_id")?,
                    plan: crate::reach::plan_from(shape, reach)?,
                    attempts: attempts.remove(&id).unwrap_or_default(),
                    status: col_enum(h, "status")?,
                    schedule: schedule_of(h)?,
                    booking: booking_of(h)?,
                };
                Ok((id, loaded))
            })
            .collect()
    }

    /// `CascadeTx::load_rendered_many` in one statement.
    pub(super) async fn rendered_many(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<Vec<Option<Rendered>>>> {
        let rows = sqlx::query("SELECT id, rendered FROM notifications WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut *self.tx)
            .await
            .db()?;
        let mut by_id: HashMap<String, Vec<Option<Rendered>>> = HashMap::with_capacity(rows.len());
        for r in &rows {
            by_id.insert(col(r, "id")?, col_json(r, "rendered")?);
        }
        ids.iter()
            .map(|id| {
                by_id
                    .remove(id)
                    .ok_or_else(|| StoreError::Corrupt(format!("notification {id} has no texts")))
            })
            .collect()
    }

    /// `CascadeTx::write_steps` in one statement.
    pub(super) async fn steps_many(&mut self, steps: &[(String, Step, Millis)]) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = steps.iter().map(|s| s.0.as_str()).collect();
        let verdicts = steps
            .iter()
            .map(|s| to_json(&s.1.verdicts))
            .collect::<Result<Vec<String>>>()?;
        let status: Vec<&str> = steps.iter().map(|s| s.1.status.as_str()).collect();
        let wake: Vec<Option<Millis>> = steps.iter().map(|s| s.1.wake_at).collect();
        let now: Vec<Millis> = steps.iter().map(|s| s.2).collect();
        let finished: Vec<bool> = status.iter().map(|s| FINISHED.contains(s)).collect();
        sqlx::query(
            "UPDATE notifications n SET verdicts = u.verdicts, status = u.status,
                 wake_at = u.wake_at, updated_at = GREATEST(n.updated_at, u.now),
                 finished_at = CASE WHEN u.finished THEN GREATEST(n.updated_at, u.now) END
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                 $6::bool[])
                 AS u(id, verdicts, status, wake_at, now, finished)
             WHERE n.id = u.id",
        )
        .bind(ids)
        .bind(verdicts)
        .bind(status)
        .bind(wake)
        .bind(now)
        .bind(finished)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    /// `CascadeTx::insert_attempts_many` in one statement.
    pub(super) async fn attempts_many(
        &mut self,
        batch: &[(String, String, Vec<NewAttempt>)],
    ) -> Result<()> {
        let rows: Vec<(&str, &str, &NewAttempt)> = batch
            .iter()
            .flat_map(|(n, t, v)| v.iter().map(move |a| (n.as_str(), t.as_str(), a)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let notification: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let tenant: Vec<&str> = rows.iter().map(|r| r.1).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.2.id.as_str()).collect();
        let idx: Vec<i64> = rows.iter().map(|r| int(r.2.channel_idx)).collect();
        let channels: Vec<&str> = rows.iter().map(|r| r.2.channel.as_str()).collect();
        let routes: Vec<&str> = rows.iter().map(|r| r.2.route.as_str()).collect();
        let tos: Vec<&str> = rows.iter().map(|r| r.2.to.as_str()).collect();
        let keys: Vec<&str> = rows.iter().map(|r| r.2.idempotency_key.as_str()).collect();
        let created: Vec<Millis> = rows.iter().map(|r| r.2.created_at).collect();
        let deadlines: Vec<Millis> = rows.iter().map(|r| r.2.deadline).collect();
        let next: Vec<Millis> = rows.iter().map(|r| r.2.next_try_at).collect();
        let not_after: Vec<Option<Millis>> = rows.iter().map(|r| r.2.not_after).collect();
        sqlx::query(
            "INSERT INTO attempts (id, notification_id, tenant_id, channel_idx, channel, route,
                 to_addr, idempotency_key, status, requests, created_at, deadline, next_try_at,
                 not_after)
             SELECT id, nid, tid, idx, channel, route, to_addr, key, 'queued', 0, created,
                 deadline, next, not_after
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                 $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[],
                 $12::bigint[])
                 AS a(nid, tid, id, idx, channel, route, to_addr, key, created, deadline, next,
                      not_after)
             ON CONFLICT DO NOTHING",
        )
        .bind(notification)
        .bind(tenant)
        .bind(ids)
        .bind(idx)
        .bind(channels)
        .bind(routes)
        .bind(tos)
        .bind(keys)
        .bind(created)
        .bind(deadlines)
        .bind(next)
        .bind(not_after)
        .execute(&mut *self.tx)
        .await
        .db()?;
        Ok(())
    }

    /// `CascadeTx::record_answers` in one statement (the rules of
    /// `record_answer`, row by row).
    pub(super) async fn answers_many(
        &mut self,
        results: &[&SendResult],
    ) -> Result<Vec<Option<Answered>>> {
        self.answers_with(ANSWERS, results).await
    }

    /// `CascadeTx::close_by_receipts` in one statement (`ANSWERS_BY_RECEIPTS`).
    pub(super) async fn receipt_closes(&mut self, closes: &[&SendResult]) -> Result<()> {
        self.answers_with(ANSWERS_BY_RECEIPTS, closes).await?;
        Ok(())
    }

    /// Runs one of the `answers_sql!` statements over `results`.
    async fn answers_with(
        &mut self,
        sql: &'static str,
        results: &[&SendResult],
    ) -> Result<Vec<Option<Answered>>> {
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let n = results.len();
        let (mut ids, mut status, mut at, mut pm, mut error, mut unreachable, mut next, mut cost) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for r in results {
            let (s, p, e, u, t, c) = answer_cols(&r.outcome);
            ids.push(r.attempt_id.as_str());
            status.push(s);
            at.push(r.at);
            pm.push(p);
            error.push(e);
            unreachable.push(u);
            next.push(t);
            cost.push(c);
        }
        let rows = sqlx::query(sql)
            .bind(ids)
            .bind(status)
            .bind(at)
            .bind(pm)
            .bind(error)
            .bind(unreachable)
            .bind(next)
            .bind(cost)
            .fetch_all(&mut *self.tx)
            .await
            .db()?;
        let mut by_id: HashMap<String, Answered> = HashMap::with_capacity(rows.len());
        for r in &rows {
            by_id.insert(
                col(r, "id")?,
                Answered {
                    notification_id: col(r, "notification_id")?,
                    channel: col_channel(r, "channel")?,
                    to: col(r, "to_addr")?,
                },
            );
        }
        Ok(results
            .iter()
            .map(|r| by_id.remove(&r.attempt_id))
            .collect())
    }
}
