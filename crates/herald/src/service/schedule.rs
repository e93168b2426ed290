//! Appointment-aware delivery at the service's edge (API.md "Bookings,
//! schedules, deadlines, quiet hours"): a trigger's booking, send time and
//! deadline parsed and checked into the notification's `Schedule`, the
//! type's quiet hours resolved in the recipient's time zone, and the
//! cancels, reschedules and the tenant's time zone.

use super::{check_id, App};
use crate::error::{invalid, Result, ServiceError};
use herald_core::recipient::parse_timezone;
use herald_core::{Millis, Recipient, Schedule, TypeConfig};
use herald_store::{BookingCancelled, BookingLink, Tenant};
use serde::{Deserialize, Serialize};

/// The appointment a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingInput {
    /// The booking's id (the tenant's own).
    pub id: String,
    /// When it starts (RFC 3339); the default deadline, and what
    /// `send_before_start` counts back from.
    #[serde(default)]
    pub starts_at: Option<String>,
}

/// The schedule fields of a trigger, as given.
#[derive(Debug, Clone, Copy)]
pub struct Timing<'a> {
    /// `booking`.
    pub booking: Option<&'a BookingInput>,
    /// `send_at`.
    pub send_at: Option<&'a str>,
    /// `send_before_start`.
    pub send_before_start: Option<&'a str>,
    /// `deliver_before`.
    pub deliver_before: Option<&'a str>,
}

/// Parses an RFC 3339 time into epoch milliseconds; 422 naming `field`.
pub fn parse_time(field: &str, s: &str) -> Result<Millis> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            invalid(
                field,
                "invalid_time",
                format!("{field} must be an RFC 3339 time such as 2026-12-03T09:00:00+01:00"),
            )
        })
}

/// Parses a duration such as `24h`, `90m`, `1h30m`, `2d` or `45s` into
/// milliseconds (at most 366 days); 422 naming `field`.
pub fn parse_duration(field: &str, s: &str) -> Result<Millis> {
    let bad = || {
        invalid(
            field,
            "invalid_duration",
            format!("{field} must be a duration such as 24h, 90m or 1h30m, not {s:?}"),
        )
    };
    let mut total: Millis = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: Millis = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => return Err(bad()),
        };
        let n: Millis = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total <= 0 || total > 366 * 86_400_000 {
        return Err(bad());
    }
    Ok(total)
}

/// A trigger's schedule and booking link at `now`, checked: the deadline
/// defaults to the booking's start, a relative send time needs that start,
/// and a deadline earlier than the send time is refused.
pub fn schedule_of(t: Timing<'_>, now: Millis) -> Result<(Schedule, Option<BookingLink>)> {
    let starts_at = match t.booking.and_then(|b| b.starts_at.as_deref()) {
        Some(s) => Some(parse_time("booking.starts_at", s)?),
        None => None,
    };
    if let Some(b) = t.booking {
        check_id("booking.id", &b.id)?;
    }
    let before = match t.send_before_start {
        Some(d) => Some(parse_duration("send_before_start", d)?),
        None => None,
    };
    let send_at = match (t.send_at, before, starts_at) {
        (Some(_), Some(_), _) => {
            return Err(invalid(
                "send_before_start",
                "one_send_time",
                "give send_at or send_before_start, not both",
            ))
        }
        (Some(s), None, _) => Some(parse_time("send_at", s)?),
        (None, Some(b), Some(start)) => Some(start.saturating_sub(b)),
        (None, Some(_), None) => {
            return Err(invalid(
                "send_before_start",
                "needs_booking_start",
                "send_before_start needs booking.starts_at to count back from",
            ))
        }
        (None, None, _) => None,
    };
    let given_deadline = match t.deliver_before {
        Some(s) => Some(parse_time("deliver_before", s)?),
        None => None,
    };
    if let Some(d) = given_deadline {
        let send = send_at.unwrap_or(now).max(now);
        if d < send {
            return Err(invalid(
                "deliver_before",
                "deadline_before_send_time",
                "deliver_before is earlier than the send time: nothing could ever be sent",
            ));
        }
    }
    let deliver_before = given_deadline.or(starts_at);
    let booking = t.booking.map(|b| BookingLink {
        id: b.id.clone(),
        starts_at,
        send_before_start_ms: before,
        deadline_from_booking: given_deadline.is_none() && starts_at.is_some(),
    });
    Ok((
        Schedule {
            send_at,
            deliver_before,
            cancelled_at: None,
            quiet: None,
        },
        booking,
    ))
}

impl App {
    /// The type's quiet hours for this recipient: in their time zone, else
    /// the tenant's, else UTC; none for a critical type.
    pub async fn quiet_hours_for(
        &self,
        tenant: &Tenant,
        config: &TypeConfig,
        recipient: &Recipient,
    ) -> Result<Option<herald_core::QuietHours>> {
        let Some(q) = config.quiet_hours.as_ref().filter(|_| !config.critical) else {
            return Ok(None);
        };
        let tz = match &recipient.timezone {
            Some(tz) => tz.clone(),
            None => self
                .store
                .tenant_timezone(&tenant.id)
                .await?
                .unwrap_or_else(|| "UTC".into()),
        };
        Ok(q.resolve(&tz))
    }

    /// Cancels one notification (idempotent); 404 when the tenant has none.
    pub async fn cancel_notification(&self, tenant: &Tenant, id: &str) -> Result<()> {
        if self
            .store
            .cancel_notification(&tenant.id, id, self.now())
            .await?
        {
            self.metrics.cancelled(1);
            self.work.notify_one();
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("notification {id:?}")))
        }
    }

    /// Cancels every scheduled or pending notification of a booking; 404
    /// when the booking has none.
    pub async fn cancel_booking(
        &self,
        tenant: &Tenant,
        booking_id: &str,
    ) -> Result<BookingCancelled> {
        let done = self
            .store
            .cancel_booking(&tenant.id, booking_id, self.now())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("booking {booking_id:?}")))?;
        self.metrics.cancelled(done.cancelled);
        self.work.notify_one();
        Ok(done)
    }

    /// Moves a booking's start; 404 when the booking has no notifications.
    pub async fn reschedule_booking(
        &self,
        tenant: &Tenant,
        booking_id: &str,
        starts_at: &str,
    ) -> Result<usize> {
        let at = parse_time("starts_at", starts_at)?;
        let moved = self
            .store
            .reschedule_booking(&tenant.id, booking_id, at, self.now())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("booking {booking_id:?}")))?;
        self.work.notify_one();
        Ok(moved)
    }

    /// The tenant's time zone, if set.
    pub async fn tenant_timezone(&self, tenant: &Tenant) -> Result<Option<String>> {
        Ok(self.store.tenant_timezone(&tenant.id).await?)
    }

    /// Sets the tenant's time zone (an IANA name; 422 `timezone` else), or
    /// clears it with `None`.
    pub async fn set_tenant_timezone(&self, tenant: &Tenant, tz: Option<&str>) -> Result<()> {
        if let Some(tz) = tz {
            if parse_timezone(tz).is_none() {
                return Err(invalid(
                    "timezone",
                    "invalid_timezone",
                    format!("timezone must be an IANA name such as Europe/Berlin, not {tz:?}"),
                ));
            }
        }
        Ok(self.store.set_tenant_timezone(&tenant.id, tz).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        parse_time("t", s).expect("a time")
    }

    fn field_of(e: ServiceError) -> String {
        match e {
            ServiceError::Invalid(f) => f.field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("f", "24h").unwrap(), 86_400_000);
        assert_eq!(parse_duration("f", "90m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("f", "1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("f", "2d").unwrap(), 172_800_000);
        for bad in ["", "24", "h", "-1h", "1x", "0m", "400d"] {
            assert!(parse_duration("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_relative_send_time_counts_back_from_the_booking_and_the_deadline_is_its_start() {
        let b = BookingInput {
            id: "bk-1".into(),
            starts_at: Some("2026-12-03T10:00:00Z".into()),
        };
        let t = Timing {
            booking: Some(&b),
            send_at: None,
            send_before_start: Some("24h"),
            deliver_before: None,
        };
        let (s, link) = schedule_of(t, at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(s.send_at, Some(at("2026-12-02T10:00:00Z")));
        assert_eq!(s.deliver_before, Some(at("2026-12-03T10:00:00Z")));
        let link = link.unwrap();
        assert!(link.deadline_from_booking);
        assert_eq!(link.send_before_start_ms, Some(86_400_000));
    }

    #[test]
    fn bad_timing_names_its_field() {
        let now = at("2026-12-01T00:00:00Z");
        let none = Timing {
            booking: None,
            send_at: None,
            send_before_start: None,
            deliver_before: None,
        };
        let e = schedule_of(
            Timing {
                send_before_start: Some("24h"),
                ..none
            },
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "send_before_start");
        let e = schedule_of(
            Timing {
                send_at: Some("2026-12-02T10:00:00Z"),
                deliver_before: Some("2026-12-02T09:00:00Z"),
                ..none
            },
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "deliver_before");
        let e = schedule_of(
            Timing {
                send_at: Some("tomorrow"),
                ..none
            },
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "send_at");
    }
}
