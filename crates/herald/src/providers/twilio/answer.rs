//! Twilio's answers: a create-message reply classified by its status and
//! error code (https://www.twilio.com/docs/api/errors), and status-callback
//! codes named for the log.

use crate::providers::{retry_after_ms, SendReply};
use serde::Deserialize;

/// How much of Twilio's text is kept in an error.
const MAX_DETAIL: usize = 200;

/// Error codes that say the number cannot get SMS: 21211 invalid `To`
/// (https://www.twilio.com/docs/api/errors/21211), 21614 not a mobile
/// number (…/21614), 21610 the recipient replied STOP (…/21610), 21612
/// the `To` is not reachable from this sender (…/21612).
pub const RECIPIENT_CODES: &[u64] = &[21211, 21614, 21610, 21612];
/// Error codes that say the number is not on WhatsApp: 63003 "Channel could
/// not find To address" (https://www.twilio.com/docs/api/errors/63003) and
/// 63024 "Invalid message recipient" (…/63024). On the whatsapp route they
/// make the route unreachable, so the sms route is tried.
pub const NOT_ON_WHATSAPP_CODES: &[u64] = &[63003, 63024];
/// Twilio's "Too Many Requests" (https://www.twilio.com/docs/api/errors/20429).
pub const TOO_MANY_REQUESTS: u64 = 20429;

/// The Message resource, as far as Herald reads it.
#[derive(Deserialize)]
struct Created {
    #[serde(default)]
    sid: String,
}

/// Twilio's error body.
#[derive(Deserialize, Default)]
struct TwilioError {
    #[serde(default)]
    code: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// Text from Twilio (or whatever answered instead), on one line and short.
pub(super) fn clip(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_DETAIL)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > MAX_DETAIL {
        out.push('…');
    }
    out
}

/// Classifies Twilio's answer to a create-message request.
pub fn classify(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    route: &str,
) -> SendReply {
    if status.is_success() {
        // A 2xx without a sid is not Twilio (a base_url pointing
        // elsewhere): counting it as sent would lose the message silently.
        return match serde_json::from_slice::<Created>(body) {
            Ok(c) if !c.sid.is_empty() => SendReply::Accepted {
                message_id: Some(c.sid),
            },
            _ => SendReply::Permanent {
                error: format!("Twilio answered {status} without the message's sid"),
            },
        };
    }
    let err = serde_json::from_slice::<TwilioError>(body).unwrap_or_default();
    let mut error = format!("Twilio {}", status.as_u16());
    if let Some(code) = err.code {
        error.push_str(&format!(" error {code}"));
    }
    match err.message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => error.push_str(&format!(": {}", clip(m))),
        None if err.code.is_none() => {
            let text = String::from_utf8_lossy(body);
            if !text.trim().is_empty() {
                error.push_str(&format!(": {}", clip(text.trim())));
            }
        }
        None => {}
    }
    let code = err.code.unwrap_or(0);
    if RECIPIENT_CODES.contains(&code)
        || (route == "whatsapp" && NOT_ON_WHATSAPP_CODES.contains(&code))
    {
        return SendReply::RecipientInvalid { error };
    }
    if status == http::StatusCode::TOO_MANY_REQUESTS || code == TOO_MANY_REQUESTS {
        return SendReply::Throttled {
            error,
            retry_after_ms: retry_after_ms(headers),
        };
    }
    if status.is_server_error() {
        return SendReply::Transient {
            error,
            retry_after_ms: retry_after_ms(headers),
        };
    }
    SendReply::Permanent { error }
}

/// A few status-callback error codes, named for people reading the log
/// (https://www.twilio.com/docs/api/errors).
pub(super) fn describe_code(code: &str) -> &'static str {
    match code {
        "30001" => "queue overflow",
        "30002" => "account suspended",
        "30003" => "unreachable destination handset",
        "30004" => "message blocked",
        "30005" => "unknown destination handset",
        "30006" => "landline or unreachable carrier",
        "30007" => "message filtered by the carrier",
        "30008" => "unknown error",
        "63003" => "the number is not on WhatsApp",
        "63016" => "outside the WhatsApp session window, a template is needed",
        "63024" => "invalid WhatsApp recipient",
        _ => "",
    }
}
