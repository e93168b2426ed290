//! Scheduled sends, deadlines, cancels and booking moves (API.md
//! "Bookings, schedules, deadlines, quiet hours"), the same on every
//! backend.

use super::*;
use herald_core::{Outcome, Schedule, Status};
use herald_store::{AttemptStatus, BookingCancelled, BookingLink, ClaimBudget};

const HOUR: i64 = 3_600_000;

fn claim_all() -> ClaimBudget {
    ClaimBudget::unbounded()
}

fn booked(tenant: &str, booking: &str, starts_at: i64, before: i64) -> NewNotification {
    let mut n = notification(tenant, plan(vec![email()]), T0);
    n.schedule = Schedule {
        send_at: Some(starts_at - before),
        deliver_before: Some(starts_at),
        ..Schedule::default()
    };
    n.booking = Some(BookingLink {
        id: booking.into(),
        starts_at: Some(starts_at),
        send_before_start_ms: Some(before),
        deadline_from_booking: true,
    });
    n
}

/// A scheduled notification has no attempt and nothing to claim before
/// its time; the store wakes it then (`next_due_at` says when) and it
/// starts; the GET carries its schedule and booking.
pub async fn check_scheduled_notification_waits_for_its_time(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let start = T0 + 48 * HOUR;
    let id = accept(store, booked(&tenant, "bk-1", start, 24 * HOUR)).await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Scheduled);
    assert!(rec.attempts.is_empty());
    assert_eq!(rec.schedule.send_at, Some(T0 + 24 * HOUR));
    assert_eq!(rec.booking.as_ref().map(|b| b.id.as_str()), Some("bk-1"));
    assert_eq!(store.next_due_at().await.unwrap(), Some(T0 + 24 * HOUR));
    assert_eq!(store.wake_due(T0 + HOUR, 10).await.unwrap(), 0);
    assert!(store
        .claim_attempts(T0 + HOUR, 10, 30_000, &claim_all())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.wake_due(T0 + 24 * HOUR, 10).await.unwrap(), 1);
    let claimed = store
        .claim_attempts(T0 + 24 * HOUR, 10, 30_000, &claim_all())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].deliver_before, Some(start));
    assert_eq!(get(store, &tenant, &id).await.status, Status::Pending);
}

/// A cancel before the claim: the queued attempt is never claimed, the
/// channel ends `cancelled`; cancelling again changes nothing; another
/// tenant's id is unknown.
pub async fn check_cancel_stops_queued_attempts(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let other = new_tenant(store).await;
    let id = accept(store, notification(&tenant, plan(vec![email()]), T0)).await;
    assert!(!store
        .cancel_notification(&other, &id, T0 + 1)
        .await
        .unwrap());
    assert!(store
        .cancel_notification(&tenant, &id, T0 + 1)
        .await
        .unwrap());
    assert!(store
        .claim_attempts(T0 + 2, 10, 30_000, &claim_all())
        .await
        .unwrap()
        .is_empty());
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Cancelled);
    assert_eq!(rec.verdicts[0].outcome, Outcome::Cancelled);
    assert_eq!(rec.attempts[0].status, AttemptStatus::Cancelled);
    assert_eq!(rec.schedule.cancelled_at, Some(T0 + 1));
    assert!(store
        .cancel_notification(&tenant, &id, T0 + 5)
        .await
        .unwrap());
    let again = get(store, &tenant, &id).await;
    assert_eq!(again.schedule.cancelled_at, Some(T0 + 1));
    assert_eq!(again.status, Status::Cancelled);
}

/// An attempt due at or after its notification's deadline is not claimed:
/// it ends `expired`, and so does the notification.
pub async fn check_claim_expires_past_the_deadline(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let mut n = notification(&tenant, plan(vec![email()]), T0);
    n.schedule.deliver_before = Some(T0 + 1_000);
    let id = accept(store, n).await;
    assert!(store
        .claim_attempts(T0 + 1_000, 10, 30_000, &claim_all())
        .await
        .unwrap()
        .is_empty());
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.attempts[0].status, AttemptStatus::Expired);
    assert_eq!(rec.verdicts[0].outcome, Outcome::Expired);
    assert_eq!(rec.status, Status::Expired);
}

/// A booking cancel cancels what is still to come and counts what was
/// already sent; a move recomputes the relative send time and the
/// default deadline; an unknown booking is `None`.
pub async fn check_booking_cancel_and_move(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let start = T0 + 48 * HOUR;
    let later = accept(store, booked(&tenant, "bk-2", start, 24 * HOUR)).await;
    let mut now_n = notification(&tenant, plan(vec![email()]), T0);
    now_n.booking = Some(BookingLink {
        id: "bk-2".into(),
        starts_at: Some(start),
        send_before_start_ms: None,
        deadline_from_booking: false,
    });
    let sent = accept(store, now_n).await;
    let claimed = store
        .claim_attempts(T0, 10, 30_000, &claim_all())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    answer(store, &claimed[0].id, T0 + 10, accepted("pm-1")).await;
    assert_eq!(get(store, &tenant, &sent).await.status, Status::Delivered);
    // Moved a day later: the reminder goes a day later, its deadline too.
    assert_eq!(
        store
            .reschedule_booking(&tenant, "bk-2", start + 24 * HOUR, T0 + 20)
            .await
            .unwrap(),
        Some(1)
    );
    let moved = get(store, &tenant, &later).await;
    assert_eq!(moved.schedule.send_at, Some(T0 + 48 * HOUR));
    assert_eq!(moved.schedule.deliver_before, Some(start + 24 * HOUR));
    assert_eq!(
        moved.booking.and_then(|b| b.starts_at),
        Some(start + 24 * HOUR)
    );
    assert_eq!(moved.wake_at, Some(T0 + 48 * HOUR));
    assert_eq!(
        store
            .cancel_booking(&tenant, "bk-2", T0 + 30)
            .await
            .unwrap(),
        Some(BookingCancelled {
            cancelled: 1,
            already_sent: 1
        })
    );
    let rec = get(store, &tenant, &later).await;
    assert_eq!(rec.status, Status::Cancelled);
    assert_eq!(rec.wake_at, None);
    assert_eq!(store.wake_due(T0 + 48 * HOUR, 10).await.unwrap(), 0);
    assert_eq!(
        store.cancel_booking(&tenant, "nope", T0).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .reschedule_booking(&tenant, "nope", T0, T0)
            .await
            .unwrap(),
        None
    );
    // Another tenant does not see the booking.
    let other = new_tenant(store).await;
    assert_eq!(
        store.cancel_booking(&other, "bk-2", T0).await.unwrap(),
        None
    );
}

/// The tenant's time zone round-trips.
pub async fn check_tenant_timezone(store: &dyn Store) {
    let tenant = bare_tenant(store).await;
    assert_eq!(store.tenant_timezone(&tenant).await.unwrap(), None);
    store
        .set_tenant_timezone(&tenant, Some("Europe/Berlin"))
        .await
        .unwrap();
    assert_eq!(
        store.tenant_timezone(&tenant).await.unwrap().as_deref(),
        Some("Europe/Berlin")
    );
}
