//! Cancels and reschedules, written once for every backend over the
//! primitives of `CascadeTx`: each records the new schedule and decides
//! again inside the same transaction, so a cancel that answered is never
//! followed by a claim of an attempt it stopped, and a reschedule moves
//! every notification of a booking in one step.

use crate::flow::decide;
use crate::primitives::CascadeTx;
use crate::{BookingCancelled, Result};
use herald_core::{Millis, Status};

/// Whether a notification can still start something (not final).
fn is_open(status: Status) -> bool {
    matches!(status, Status::Scheduled | Status::Pending)
}

/// Cancels one of the tenant's notifications at `now`: channels not yet
/// sent end `cancelled`, queued attempts never go out, what was sent stays.
/// `Ok(false)` when the tenant has no such notification. Idempotent: a
/// cancelled or finished notification is left as it is.
pub async fn cancel<T: CascadeTx>(
    tx: &mut T,
    tenant_id: &str,
    id: &str,
    now: Millis,
) -> Result<bool> {
    let Some(loaded) = tx.load_notification(id).await? else {
        return Ok(false);
    };
    if loaded.tenant_id != tenant_id {
        return Ok(false);
    }
    if loaded.schedule.cancelled_at.is_some() || !is_open(loaded.status) {
        return Ok(true);
    }
    let mut schedule = loaded.schedule;
    schedule.cancelled_at = Some(now);
    tx.write_schedule(id, &schedule, loaded.booking.as_ref())
        .await?;
    tx.cancel_queued_attempts(id).await?;
    decide(tx, id, now).await?;
    Ok(true)
}

/// Cancels every scheduled or pending notification of a booking. `None`
/// when the booking has no notifications.
pub async fn cancel_booking<T: CascadeTx>(
    tx: &mut T,
    tenant_id: &str,
    booking_id: &str,
    now: Millis,
) -> Result<Option<BookingCancelled>> {
    let list = tx.booking_notifications(tenant_id, booking_id).await?;
    if list.is_empty() {
        return Ok(None);
    }
    let mut done = BookingCancelled {
        cancelled: 0,
        already_sent: 0,
    };
    for (id, status) in list {
        if is_open(status) {
            cancel(tx, tenant_id, &id, now).await?;
            done.cancelled += 1;
        } else if matches!(status, Status::Delivered | Status::Failed) {
            done.already_sent += 1;
        }
    }
    Ok(Some(done))
}

/// Moves a booking to `starts_at`: every notification of it that has not
/// finished gets its relative send time (if it has not started yet) and
/// its default deadline derived again from the new start. `None` when the
/// booking has no notifications; else how many were moved.
pub async fn reschedule_booking<T: CascadeTx>(
    tx: &mut T,
    tenant_id: &str,
    booking_id: &str,
    starts_at: Millis,
    now: Millis,
) -> Result<Option<usize>> {
    let list = tx.booking_notifications(tenant_id, booking_id).await?;
    if list.is_empty() {
        return Ok(None);
    }
    let mut moved = 0;
    for (id, status) in list {
        if !is_open(status) {
            continue;
        }
        let Some(loaded) = tx.load_notification(&id).await? else {
            continue;
        };
        if loaded.schedule.cancelled_at.is_some() {
            continue;
        }
        let Some(mut booking) = loaded.booking else {
            continue;
        };
        let mut schedule = loaded.schedule;
        booking.starts_at = Some(starts_at);
        if let (Some(before), Status::Scheduled) = (booking.send_before_start_ms, status) {
            schedule.send_at = Some(starts_at.saturating_sub(before));
        }
        if booking.deadline_from_booking {
            schedule.deliver_before = Some(starts_at);
        }
        tx.write_schedule(&id, &schedule, Some(&booking)).await?;
        decide(tx, &id, now).await?;
        moved += 1;
    }
    Ok(Some(moved))
}
