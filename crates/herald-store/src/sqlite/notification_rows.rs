//! Notification rows on the writer's connection: a new notification, one
//! loaded for a decision, and the row number a job reads and writes it by.

use super::codec::to_json;
use super::compact::{hex_value, uuid_value};
use super::docs;
use super::error::Db;
use super::row::{enum_of, json_of};
use super::tx::WriteTx;
use crate::cascade::Step;
use crate::primitives::Loaded;
use crate::{BookingLink, NewNotification, Result, StoreError};
use herald_core::{Millis, Schedule};
use rusqlite::{params, OptionalExtension};

impl WriteTx<'_> {
    /// A notification's row number, `None` for an unknown id.
    pub(super) fn notification_no(&mut self, id: &str) -> Result<Option<i64>> {
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

    /// `CascadeTx::insert_notification`.
    pub(super) fn insert_notification_row(
        &mut self,
        n: &NewNotification,
        step: &Step,
    ) -> Result<bool> {
        // An unknown tenant is NULL, which the NOT NULL column refuses.
        let tenant_no = self.tenant_no(&n.tenant_id)?;
        let plan_no = self
            .cache
            .plan_no(self.conn, &crate::reach::shape_of(&n.plan))?;
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
            crate::reach::reach_doc(&n.plan)?,
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

    /// `CascadeTx::load_notification`.
    pub(super) fn load_row(&mut self, id: &str) -> Result<Option<Loaded>> {
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
            plan: crate::reach::plan_from(&shape, reach.as_deref())?,
            attempts: self.attempts_of(no)?,
            status: enum_of(&status)?,
            schedule: match schedule {
                Some(text) => json_of(&text, "schedule")?,
                None => Schedule::default(),
            },
            booking: booking.map(booking_of),
        }))
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
pub(super) fn schedule_json(s: &Schedule) -> Result<Option<String>> {
    if *s == Schedule::default() {
        Ok(None)
    } else {
        to_json(s).map(Some)
    }
}
