//! When a notification may send: its send time, its deadline, the quiet
//! hours of its type, and whether it was cancelled (API.md "Bookings,
//! schedules, deadlines, quiet hours"). Plain data kept beside the plan
//! (a reschedule or a cancel rewrites it), and the pure time arithmetic
//! the cascade decision needs: no clock, the time is always an argument.

use crate::channel::{Channel, Millis};
use chrono::{DateTime, Duration, LocalResult, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What quiet hours do to a channel that would start inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", rename_all = "snake_case")]
pub enum QuietMode {
    /// Wait until the quiet hours end (expired if that is past the deadline).
    Defer,
    /// Do not send on that channel: it is unreachable, the cascade moves on.
    Skip,
}

crate::channel::string_enum!(QuietMode);

/// Quiet hours resolved for one recipient: the window in their time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start of the window, minutes after local midnight.
    pub from_min: u16,
    /// End of the window, minutes after local midnight; before `from_min`
    /// when the window spans midnight (21:00–08:00).
    pub until_min: u16,
    /// The IANA time zone the window is in (`Europe/Berlin`).
    pub tz: String,
    /// The channels it applies to.
    pub channels: Vec<Channel>,
    /// Defer or skip.
    pub mode: QuietMode,
}

/// When a notification may send. The default is "now, with no deadline".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Nothing starts before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<Millis>,
    /// No attempt starts at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_before: Option<Millis>,
    /// Cancelled at this time: nothing more starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<Millis>,
    /// The type's quiet hours for this recipient (none for a critical type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<QuietHours>,
}

/// When a channel is planned to start, and why then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStart {
    /// The time; `None` when it will not start.
    pub at: Option<Millis>,
    /// Why then (or why never); `None` for "at once".
    pub why: Option<String>,
}

/// Whether a channel may start an attempt now, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gate {
    /// It may.
    Open,
    /// Not yet: look again at `until`.
    Wait { until: Millis, why: String },
    /// The notification was cancelled.
    Cancelled(String),
    /// The deadline passed (or quiet hours end after it).
    Expired(String),
    /// Quiet hours in `skip` mode: the channel does not send.
    Quiet(String),
}

impl Schedule {
    /// Whether an attempt on `channel` may start at `now`.
    pub(crate) fn gate(&self, channel: Channel, now: Millis) -> Gate {
        if self.cancelled_at.is_some() {
            return Gate::Cancelled("cancelled before it was sent".into());
        }
        if let Some(at) = self.send_at.filter(|at| now < *at) {
            return Gate::Wait {
                until: at,
                why: format!("scheduled for {}", rfc3339(at)),
            };
        }
        if self.deliver_before.is_some_and(|d| now >= d) {
            return Gate::Expired("not sent: the deadline passed".into());
        }
        let Some(q) = self
            .quiet
            .as_ref()
            .filter(|q| q.channels.contains(&channel))
        else {
            return Gate::Open;
        };
        let Some(end) = quiet_until(q, now) else {
            return Gate::Open;
        };
        let until = format!("{} {}", hhmm(q.until_min), q.tz);
        match q.mode {
            QuietMode::Skip => Gate::Quiet(format!("quiet hours until {until}")),
            QuietMode::Defer if self.deliver_before.is_some_and(|d| end >= d) => Gate::Expired(
                format!("not sent: quiet hours end at {until}, after the deadline"),
            ),
            QuietMode::Defer => Gate::Wait {
                until: end,
                why: format!("waits for quiet hours to end at {until}"),
            },
        }
    }

    /// When an attempt on `channel` would start, at the earliest from
    /// `now`, and why then (`None` for "at once"); no time when it never
    /// will (cancelled, past the deadline, skipped for quiet hours), with
    /// the reason.
    pub fn planned_start(&self, channel: Channel, now: Millis) -> PlannedStart {
        let mut at = now;
        let mut why = None;
        // A send time, then the quiet hours it falls into: two waits at most.
        for _ in 0..4 {
            match self.gate(channel, at) {
                Gate::Open => break,
                Gate::Wait { until, why: w } => {
                    at = until;
                    why = Some(w);
                }
                Gate::Cancelled(w) | Gate::Expired(w) | Gate::Quiet(w) => {
                    return PlannedStart {
                        at: None,
                        why: Some(w),
                    }
                }
            }
        }
        PlannedStart { at: Some(at), why }
    }

    /// Whether the notification waits for its send time (nothing may start).
    pub(crate) fn is_before_send_at(&self, now: Millis) -> bool {
        self.cancelled_at.is_none() && self.send_at.is_some_and(|at| now < at)
    }
}

fn hhmm(min: u16) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

fn rfc3339(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| at.to_string())
}

/// Parses `HH:MM` (24-hour) into minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let t = NaiveTime::parse_from_str(s, "%H:%M").ok()?;
    let min = chrono::Timelike::hour(&t) * 60 + chrono::Timelike::minute(&t);
    u16::try_from(min).ok()
}

/// If `now` falls inside the quiet window, when the window ends (the next
/// local `until_min` after `now`, in UTC milliseconds); else `None`. An
/// unknown zone counts as UTC. A local end time that does not exist on a
/// day clocks go forward is the first instant after the gap.
pub fn quiet_until(q: &QuietHours, now: Millis) -> Option<Millis> {
    if q.from_min == q.until_min {
        return None;
    }
    let tz = chrono_tz::Tz::from_str(&q.tz).unwrap_or(chrono_tz::UTC);
    let local = DateTime::<Utc>::from_timestamp_millis(now)?.with_timezone(&tz);
    let minute = {
        use chrono::Timelike;
        u16::try_from(local.hour() * 60 + local.minute()).ok()?
    };
    let inside = if q.from_min < q.until_min {
        (q.from_min..q.until_min).contains(&minute)
    } else {
        minute >= q.from_min || minute < q.until_min
    };
    if !inside {
        return None;
    }
    let mut day = local.date_naive();
    if minute >= q.until_min {
        day = day.succ_opt()?;
    }
    let end = day.and_time(NaiveTime::from_hms_opt(
        u32::from(q.until_min / 60),
        u32::from(q.until_min % 60),
        0,
    )?);
    let at = match tz.from_local_datetime(&end) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(first, _) => first,
        // In a spring-forward gap: the local time after the gap.
        LocalResult::None => tz
            .from_local_datetime(&(end + Duration::hours(1)))
            .earliest()?,
    };
    Some(at.with_timezone(&Utc).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .timestamp_millis()
    }

    fn quiet(from: &str, until: &str, tz: &str, mode: QuietMode) -> QuietHours {
        QuietHours {
            from_min: parse_hhmm(from).expect("from"),
            until_min: parse_hhmm(until).expect("until"),
            tz: tz.into(),
            channels: vec![Channel::Sms],
            mode,
        }
    }

    #[test]
    fn a_window_over_midnight_ends_the_next_morning_local_time() {
        let q = quiet("21:00", "08:00", "Europe/Berlin", QuietMode::Defer);
        // 23:30 in Berlin (UTC+1 in December) is inside; it ends 08:00 local.
        assert_eq!(
            quiet_until(&q, at("2026-12-02T22:30:00Z")),
            Some(at("2026-12-03T07:00:00Z"))
        );
        // 03:00 local, after midnight: ends the same morning.
        assert_eq!(
            quiet_until(&q, at("2026-12-03T02:00:00Z")),
            Some(at("2026-12-03T07:00:00Z"))
        );
        // 08:00 local is outside (the window is half-open), 20:59 too.
        assert_eq!(quiet_until(&q, at("2026-12-03T07:00:00Z")), None);
        assert_eq!(quiet_until(&q, at("2026-12-02T19:59:00Z")), None);
        assert_eq!(
            quiet_until(&q, at("2026-12-02T20:00:00Z")),
            Some(at("2026-12-03T07:00:00Z"))
        );
    }

    #[test]
    fn a_window_within_a_day_and_zones_and_clock_changes() {
        let q = quiet("12:00", "14:00", "America/New_York", QuietMode::Skip);
        assert_eq!(
            quiet_until(&q, at("2026-07-01T16:30:00Z")),
            Some(at("2026-07-01T18:00:00Z"))
        );
        assert_eq!(quiet_until(&q, at("2026-07-01T18:00:00Z")), None);
        // Berlin moves to summer time at 02:00 on 2026-03-29: a window
        // ending at 02:30 ends at the first instant after the gap.
        let q = quiet("01:00", "02:30", "Europe/Berlin", QuietMode::Defer);
        assert_eq!(
            quiet_until(&q, at("2026-03-29T00:15:00Z")),
            Some(at("2026-03-29T01:30:00Z"))
        );
        // An unknown zone is UTC; an empty window is never quiet.
        let q = quiet("00:00", "06:00", "Mars/Olympus", QuietMode::Defer);
        assert_eq!(
            quiet_until(&q, at("2026-12-02T01:00:00Z")),
            Some(at("2026-12-02T06:00:00Z"))
        );
        let q = quiet("06:00", "06:00", "UTC", QuietMode::Defer);
        assert_eq!(quiet_until(&q, at("2026-12-02T06:00:00Z")), None);
    }

    #[test]
    fn the_gate_in_its_order_cancel_schedule_deadline_quiet() {
        let night = at("2026-12-02T23:00:00Z");
        let s = Schedule {
            send_at: Some(night + 1_000),
            deliver_before: Some(night + 10_000),
            cancelled_at: Some(night),
            quiet: Some(quiet("21:00", "08:00", "UTC", QuietMode::Defer)),
        };
        assert!(matches!(s.gate(Channel::Sms, night), Gate::Cancelled(_)));
        let s = Schedule {
            cancelled_at: None,
            ..s
        };
        assert_eq!(
            s.gate(Channel::Sms, night),
            Gate::Wait {
                until: night + 1_000,
                why: "scheduled for 2026-12-02T23:00:01Z".into()
            }
        );
        assert!(matches!(
            s.gate(Channel::Sms, night + 10_000),
            Gate::Expired(_)
        ));
        // Quiet until 08:00, after the deadline: expired now.
        match s.gate(Channel::Sms, night + 2_000) {
            Gate::Expired(why) => assert!(why.contains("08:00 UTC"), "{why}"),
            other => panic!("{other:?}"),
        }
        // No deadline: wait for 08:00. Not a listed channel: open.
        let s = Schedule {
            deliver_before: None,
            ..s
        };
        assert_eq!(
            s.gate(Channel::Sms, night + 2_000),
            Gate::Wait {
                until: at("2026-12-03T08:00:00Z"),
                why: "waits for quiet hours to end at 08:00 UTC".into()
            }
        );
        assert_eq!(s.gate(Channel::Email, night + 2_000), Gate::Open);
        let skip = Schedule {
            quiet: Some(quiet("21:00", "08:00", "UTC", QuietMode::Skip)),
            ..s
        };
        assert_eq!(
            skip.gate(Channel::Sms, night + 2_000),
            Gate::Quiet("quiet hours until 08:00 UTC".into())
        );
    }

    #[test]
    fn the_planned_start_follows_the_send_time_into_quiet_hours() {
        let q = quiet("21:00", "08:00", "Europe/Berlin", QuietMode::Defer);
        let now = at("2026-12-02T12:00:00Z");
        let s = Schedule {
            send_at: Some(at("2026-12-02T21:00:00Z")),
            quiet: Some(q),
            ..Schedule::default()
        };
        // 22:00 in Berlin is inside the window: it waits until 08:00 local.
        assert_eq!(
            s.planned_start(Channel::Sms, now),
            PlannedStart {
                at: Some(at("2026-12-03T07:00:00Z")),
                why: Some("waits for quiet hours to end at 08:00 Europe/Berlin".into()),
            }
        );
        // E-mail is not listed: it starts at the send time.
        assert_eq!(
            s.planned_start(Channel::Email, now).at,
            Some(at("2026-12-02T21:00:00Z"))
        );
        // A deadline before the window ends: it never starts.
        let s = Schedule {
            deliver_before: Some(at("2026-12-03T06:00:00Z")),
            ..s
        };
        let p = s.planned_start(Channel::Sms, now);
        assert_eq!(p.at, None);
        assert!(p.why.unwrap().contains("after the deadline"));
        // No schedule: at once, no reason needed.
        assert_eq!(
            Schedule::default().planned_start(Channel::Sms, now),
            PlannedStart {
                at: Some(now),
                why: None
            }
        );
    }

    #[test]
    fn hhmm_parses_24_hour_times_only() {
        assert_eq!(parse_hhmm("00:00"), Some(0));
        assert_eq!(parse_hhmm("21:30"), Some(1290));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        for bad in ["24:00", "9pm", "21:60", "", "21"] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
    }
}
