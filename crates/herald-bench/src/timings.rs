//! Latencies read from a finished notification's own timestamps (the
//! store's, as `GET /v1/notifications/{id}` shows them), so the load
//! process's clock and its HTTP round trips are not in them.

use chrono::DateTime;
use serde_json::Value;

/// What one finished notification took, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// From its creation (the trigger) to its last change (the final status).
    pub trigger_to_final_ms: f64,
    /// From the first channel's recorded failure to the fallback's send;
    /// `None` without a fallback.
    pub fallback_to_sent_ms: Option<f64>,
    /// From the first channel's recorded failure to the fallback attempt's
    /// creation; `None` without a fallback.
    pub fallback_to_created_ms: Option<f64>,
}

/// Epoch milliseconds of an RFC 3339 field.
fn millis(v: &Value, field: &str) -> Result<f64, String> {
    let text = v[field].as_str().ok_or_else(|| format!("no {field}"))?;
    let t = DateTime::parse_from_rfc3339(text).map_err(|e| format!("{field} {text:?}: {e}"))?;
    Ok(t.timestamp_millis() as f64)
}

/// The first attempt of channel number `i`.
fn first_attempt(n: &Value, i: usize) -> Option<&Value> {
    n["channels"].get(i)?["attempts"].get(0)
}

/// The timings of a notification view; an error says what was missing
/// (a notification not yet final, a fallback without its attempt).
pub fn of_view(n: &Value) -> Result<Timings, String> {
    let status = n["status"].as_str().unwrap_or("");
    if status == "pending" || status == "scheduled" {
        return Err(format!("still {status}"));
    }
    let trigger_to_final_ms = millis(n, "updated_at")? - millis(n, "created_at")?;
    let channels = n["channels"].as_array().map_or(0, Vec::len);
    let (fallback_to_sent_ms, fallback_to_created_ms) = if channels >= 2 {
        let first = first_attempt(n, 0).ok_or("no attempt on the first channel")?;
        let fallback = first_attempt(n, 1).ok_or("no attempt on the fallback channel")?;
        // The failure is recorded when the provider's refusal is answered;
        // a failure by receipt would be the receipt's time.
        let failed_at = match millis(first, "answered_at") {
            Ok(t) => t,
            Err(_) => first["receipts"]
                .get(0)
                .ok_or("the first channel's failure has no time")
                .and_then(|r| millis(r, "at").map_err(|_| "a receipt without its time"))?,
        };
        (
            Some(millis(fallback, "sent_at")? - failed_at),
            Some(millis(fallback, "created_at")? - failed_at),
        )
    } else {
        (None, None)
    };
    Ok(Timings {
        trigger_to_final_ms,
        fallback_to_sent_ms,
        fallback_to_created_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_two_step_notification_gives_its_fallback_reaction_and_its_total() {
        let n = json!({
            "status": "delivered",
            "created_at": "2026-12-02T10:00:00.000Z",
            "updated_at": "2026-12-02T10:00:00.041Z",
            "channels": [
                {"channel": "email", "attempts": [{"created_at": "2026-12-02T10:00:00.002Z",
                    "sent_at": "2026-12-02T10:00:00.005Z", "answered_at": "2026-12-02T10:00:00.010Z"}]},
                {"channel": "sms", "attempts": [{"created_at": "2026-12-02T10:00:00.013Z",
                    "sent_at": "2026-12-02T10:00:00.022Z", "answered_at": "2026-12-02T10:00:00.030Z"}]}
            ]
        });
        let t = of_view(&n).expect("timings");
        assert_eq!(t.trigger_to_final_ms, 41.0);
        assert_eq!(t.fallback_to_sent_ms, Some(12.0));
        assert_eq!(t.fallback_to_created_ms, Some(3.0));
    }

    #[test]
    fn a_one_step_notification_has_no_fallback_and_a_pending_one_no_timings() {
        let n = json!({
            "status": "delivered",
            "created_at": "2026-12-02T10:00:00.000Z",
            "updated_at": "2026-12-02T10:00:01.500Z",
            "channels": [{"channel": "email", "attempts": []}]
        });
        let t = of_view(&n).expect("timings");
        assert_eq!(t.trigger_to_final_ms, 1500.0);
        assert_eq!(t.fallback_to_sent_ms, None);
        let pending = json!({"status": "pending", "created_at": "2026-12-02T10:00:00.000Z"});
        assert!(of_view(&pending).is_err());
    }
}
