//! APNs' answers, classified into what the cascade understands.
//!
//! Apple: https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
//! (200 success with an empty body; otherwise a JSON `{"reason", "timestamp"}`).

use crate::providers::{retry_after_ms, SendReply};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// The longest `reason` quoted in an error (Apple's are short words; a
/// relay's HTML error page is not).
const MAX_REASON: usize = 100;

/// An answer, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Final.
    Reply(SendReply),
    /// 403 `ExpiredProviderToken`: renew the token and try again.
    ExpiredToken(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    reason: Option<String>,
}

/// Apple's `reason` from an error body, when there is a readable one.
fn reason(body: &[u8]) -> Option<String> {
    let r = serde_json::from_slice::<ErrorBody>(body).ok()?.reason?;
    let r: String = r
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON)
        .collect();
    (!r.is_empty()).then_some(r)
}

/// Classifies one answer. `sent_id` is the `apns-id` Herald sent, the
/// message id when APNs does not echo one.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], sent_id: &str) -> Answer {
    let reason = reason(body);
    let error = match &reason {
        Some(r) => format!("APNs answered {} {r}", status.as_u16()),
        None => format!("APNs answered {}", status.as_u16()),
    };
    let reply = match (status.as_u16(), reason.as_deref()) {
        (200, _) => {
            let echoed = headers
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty());
            SendReply::Accepted {
                message_id: Some(echoed.unwrap_or(sent_id).to_string()),
            }
        }
        // The token is no longer active for the topic, or never was one.
        (410, _) | (400, Some("BadDeviceToken" | "DeviceTokenNotForTopic")) => {
            SendReply::RecipientInvalid { error }
        }
        (403, Some("ExpiredProviderToken")) => return Answer::ExpiredToken(error),
        // Apple's "slow down". 429 is also TooManyProviderTokenUpdates,
        // which is about the token, not the pace of sends.
        (429, Some("TooManyRequests")) => SendReply::Throttled {
            error,
            retry_after_ms: retry_after_ms(headers),
        },
        // 500/503 are Apple's own troubles, and other 5xx a relay's in
        // front of it.
        (429, _) | (500..=599, _) => SendReply::Transient {
            error,
            retry_after_ms: retry_after_ms(headers),
        },
        _ => SendReply::Permanent { error },
    };
    Answer::Reply(reply)
}
