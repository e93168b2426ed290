//! Notification rows on PostgreSQL: a group commit's accepts go in as one
//! `INSERT … SELECT FROM UNNEST`, one array per column; the schedule and
//! booking columns are read and written here.

use super::codec::{col, to_json};
use super::error::{from_sqlx, is_unique_violation};
use super::tx::PgTx;
use crate::cascade::Step;
use crate::{BookingLink, NewNotification, Result, StoreError, FINISHED};
use herald_core::{Millis, Plan, Schedule};
use sqlx::postgres::PgRow;
use std::collections::HashSet;

/// The columns of a batch of new notifications, one array each.
struct NotificationCols<'a> {
    id: Vec<&'a str>,
    tenant: Vec<&'a str>,
    type_key: Vec<&'a str>,
    audience: Vec<&'static str>,
    recipient: Vec<&'a str>,
    data: Vec<String>,
    key: Vec<Option<&'a str>>,
    sha: Vec<&'a str>,
    status: Vec<&'static str>,
    finished: Vec<bool>,
    plan: Vec<i64>,
    reach: Vec<String>,
    rendered: Vec<String>,
    verdicts: Vec<String>,
    wake_at: Vec<Option<Millis>>,
    created: Vec<Millis>,
    schedule: Vec<Option<String>>,
    booking_id: Vec<Option<&'a str>>,
    starts_at: Vec<Option<Millis>>,
    before_ms: Vec<Option<i64>>,
    from_booking: Vec<bool>,
}

impl<'a> NotificationCols<'a> {
    fn with_capacity(n: usize) -> Self {
        NotificationCols {
            id: Vec::with_capacity(n),
            tenant: Vec::with_capacity(n),
            type_key: Vec::with_capacity(n),
            audience: Vec::with_capacity(n),
            recipient: Vec::with_capacity(n),
            data: Vec::with_capacity(n),
            key: Vec::with_capacity(n),
            sha: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            finished: Vec::with_capacity(n),
            plan: Vec::with_capacity(n),
            reach: Vec::with_capacity(n),
            rendered: Vec::with_capacity(n),
            verdicts: Vec::with_capacity(n),
            wake_at: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            schedule: Vec::with_capacity(n),
            booking_id: Vec::with_capacity(n),
            starts_at: Vec::with_capacity(n),
            before_ms: Vec::with_capacity(n),
            from_booking: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, n: &'a NewNotification, step: &Step, plan_id: i64) -> Result<()> {
        let b = n.booking.as_ref();
        self.id.push(&n.id);
        self.tenant.push(&n.tenant_id);
        self.type_key.push(&n.type_key);
        self.audience.push(n.audience.as_str());
        self.recipient.push(&n.recipient_id);
        self.data.push(to_json(&n.data)?);
        self.key.push(n.idempotency_key.as_deref());
        self.sha.push(&n.request_sha256);
        self.status.push(step.status.as_str());
        self.finished.push(FINISHED.contains(&step.status.as_str()));
        self.plan.push(plan_id);
        self.reach.push(crate::reach::reach_doc(&n.plan)?);
        self.rendered.push(to_json(&n.rendered)?);
        self.verdicts.push(to_json(&step.verdicts)?);
        self.wake_at.push(step.wake_at);
        self.created.push(n.created_at);
        self.schedule.push(schedule_json(&n.schedule)?);
        self.booking_id.push(b.map(|b| b.id.as_str()));
        self.starts_at.push(b.and_then(|b| b.starts_at));
        self.before_ms.push(b.and_then(|b| b.send_before_start_ms));
        self.from_booking
            .push(b.is_some_and(|b| b.deadline_from_booking));
        Ok(())
    }
}

impl PgTx {
    /// `CascadeTx::insert_notifications` in one statement: those whose
    /// idempotency key the tenant already has (or an earlier row of the
    /// batch took) are left out, and `RETURNING` says which went in.
    pub(super) async fn notifications_many(
        &mut self,
        rows: &[(&NewNotification, &Step)],
    ) -> Result<Vec<bool>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let n = rows.len();
        // Plan rows are shapes: the addresses go on each notification.
        let shapes: Vec<Plan> = rows
            .iter()
            .map(|(nn, _)| crate::reach::shape_of(&nn.plan))
            .collect();
        let shapes: Vec<&Plan> = shapes.iter().collect();
        let plan_ids = self.plans.ids_of(&self.pool, &shapes).await?;
        let mut c = NotificationCols::with_capacity(n);
        for ((nn, step), plan_id) in rows.iter().zip(plan_ids) {
            c.push(nn, step, plan_id)?;
        }
        let done = sqlx::query(
            "INSERT INTO notifications (id, tenant_id, type_key, audience, recipient_id,
                 data, idempotency_key, request_sha256, status, plan_id, rendered, verdicts,
                 wake_at, created_at, updated_at, schedule, booking_id, booking_starts_at,
                 send_before_start_ms, deadline_from_booking, finished_at, reach)
             SELECT id, tid, type_key, audience, rid, data, key, sha, status, plan, rendered,
                 verdicts, wake_at, created, created, schedule, booking_id, starts_at,
                 before_ms, from_booking,
                 CASE WHEN finished THEN created END, reach
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[],
                 $12::text[], $13::bigint[], $14::bigint[], $15::text[], $16::text[],
                 $17::bigint[], $18::bigint[], $19::bool[], $20::bool[], $21::text[])
                 WITH ORDINALITY AS u(id, tid, type_key, audience, rid, data, key, sha, status,
                     plan, rendered, verdicts, wake_at, created, schedule, booking_id,
                     starts_at, before_ms, from_booking, finished, reach, ord)
             ORDER BY ord
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
             RETURNING id",
        )
        .bind(c.id)
        .bind(c.tenant)
        .bind(c.type_key)
        .bind(c.audience)
        .bind(c.recipient)
        .bind(c.data)
        .bind(c.key)
        .bind(c.sha)
        .bind(c.status)
        .bind(c.plan)
        .bind(c.rendered)
        .bind(c.verdicts)
        .bind(c.wake_at)
        .bind(c.created)
        .bind(c.schedule)
        .bind(c.booking_id)
        .bind(c.starts_at)
        .bind(c.before_ms)
        .bind(c.from_booking)
        .bind(c.finished)
        .bind(c.reach)
        .fetch_all(&mut *self.tx)
        .await;
        let returned = match done {
            Ok(r) => r,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "a notification with this id already exists".into(),
                ))
            }
            Err(e) => return Err(from_sqlx(e)),
        };
        let mut went_in: HashSet<String> = HashSet::with_capacity(returned.len());
        for r in &returned {
            went_in.insert(col(r, "id")?);
        }
        Ok(rows
            .iter()
            .map(|(nn, _)| went_in.contains(&nn.id))
            .collect())
    }
}

/// The schedule column: NULL for the default (send now, no deadline).
pub(super) fn schedule_json(s: &Schedule) -> Result<Option<String>> {
    if *s == Schedule::default() {
        Ok(None)
    } else {
        to_json(s).map(Some)
    }
}

/// A notification row's schedule.
pub(super) fn schedule_of(r: &PgRow) -> Result<Schedule> {
    match col::<Option<String>>(r, "schedule")? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("column schedule: {e}"))),
        None => Ok(Schedule::default()),
    }
}

/// A notification row's booking.
pub(super) fn booking_of(r: &PgRow) -> Result<Option<BookingLink>> {
    let Some(id) = col::<Option<String>>(r, "booking_id")? else {
        return Ok(None);
    };
    Ok(Some(BookingLink {
        id,
        starts_at: col(r, "booking_starts_at")?,
        send_before_start_ms: col(r, "send_before_start_ms")?,
        deadline_from_booking: col(r, "deadline_from_booking")?,
    }))
}
