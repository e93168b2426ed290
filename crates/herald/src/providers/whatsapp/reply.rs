//! Classifies the Cloud API's answers to `POST /{phone_number_id}/messages`.
//!
//! Meta's "Cloud API > Support > Error codes" page: errors are
//! `{"error": {"message", "type", "code", "error_data": {"details"},
//! "error_subcode", "fbtrace_id"}}`, and handling should go by `code`, not
//! by the HTTP status or the (deprecated) subcode.

use crate::providers::{retry_after_ms, SendReply};
use serde::Deserialize;

/// How much of Meta's message is kept.
const MAX_DETAIL: usize = 200;

/// The recipient cannot be reached on WhatsApp: 131026 "Message
/// undeliverable" (not a WhatsApp user, old app, terms not accepted),
/// 131021 "Recipient cannot be sender", 131030 "Recipient phone number not
/// in allowed list" (a test number's allow list). The route is unreachable
/// for this recipient; another route may reach them.
pub const RECIPIENT_CODES: &[i64] = &[131026, 131021, 131030];

/// Throttling: 130429 "Rate limit hit" (throughput), 131048 "Spam rate
/// limit hit", 131056 "(Business Account, Consumer Account) pair rate
/// limit hit", 80007 "Rate limit issues" (WABA), 4 "API Too Many Calls".
pub const THROTTLE_CODES: &[i64] = &[130429, 131048, 131056, 80007, 4];

/// Meta's side is down or overloaded: 1 "API Unknown", 2 "API Service",
/// 131000 "Something went wrong", 131016 "Service unavailable".
pub const SERVER_CODES: &[i64] = &[1, 2, 131000, 131016];

/// The description for a failed status's code, for receipts.
pub fn reason_for(code: i64) -> Option<&'static str> {
    match code {
        131026 => Some("not a WhatsApp user (or cannot receive this message)"),
        131021 => Some("the recipient is the sender"),
        131030 => Some("the recipient is not in the test number's allowed list"),
        131047 => Some("more than 24 hours since the user last replied: send a template"),
        131049 => Some("Meta chose not to deliver it (per-user marketing limit)"),
        131050 => Some("the user stopped marketing messages"),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Accepted {
    #[serde(default)]
    messages: Vec<AcceptedMessage>,
}

#[derive(Deserialize)]
struct AcceptedMessage {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

/// Meta's text on one line, clipped.
pub fn clip(text: &str) -> String {
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

/// Classifies an answer. `scrub` removes anything secret (the access
/// token) from Meta's text before it is kept.
pub fn classify(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &[u8],
    scrub: &dyn Fn(String) -> String,
) -> SendReply {
    if status.is_success() {
        let id = serde_json::from_slice::<Accepted>(body)
            .ok()
            .and_then(|a| a.messages.into_iter().next())
            .and_then(|m| m.id)
            .filter(|id| !id.is_empty());
        return SendReply::Accepted { message_id: id };
    }
    let parsed = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let code = parsed.as_ref().and_then(|e| e.code);
    let mut error = format!("WhatsApp answered {status}");
    if let Some(e) = &parsed {
        if let Some(c) = e.code {
            error.push_str(&format!(" (code {c})"));
        }
        if let Some(m) = e.message.as_deref().filter(|m| !m.is_empty()) {
            error.push_str(&format!(": {}", clip(m)));
        }
        if let Some(d) = e
            .error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .filter(|d| !d.is_empty())
        {
            error.push_str(&format!(" ({})", clip(d)));
        }
    } else {
        let text = String::from_utf8_lossy(body);
        if !text.trim().is_empty() {
            error.push_str(&format!(": {}", clip(&text)));
        }
    }
    if let Some(why) = code.and_then(reason_for) {
        error.push_str(&format!(": {why}"));
    }
    let error = scrub(error);
    let code_in = |set: &[i64]| code.is_some_and(|c| set.contains(&c));
    if code_in(RECIPIENT_CODES) {
        SendReply::RecipientInvalid { error }
    } else if code_in(THROTTLE_CODES) || status.as_u16() == 429 {
        SendReply::Throttled {
            error,
            retry_after_ms: retry_after_ms(headers),
        }
    } else if code_in(SERVER_CODES) || status.is_server_error() {
        SendReply::Transient {
            error,
            retry_after_ms: retry_after_ms(headers),
        }
    } else {
        // 190 (access token expired), 100 (invalid parameter), 132xxx
        // (template problems), 10/200 (permissions), other 4xx.
        SendReply::Permanent { error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16, body: &str) -> &'static str {
        let status = http::StatusCode::from_u16(status).expect("a status");
        classify(status, &http::HeaderMap::new(), body.as_bytes(), &|s| s).detailed_kind()
    }

    fn err(code: i64) -> String {
        format!(
            r#"{{"error": {{"message": "(#{code}) x", "type": "OAuthException", "code": {code}, "fbtrace_id": "A"}}}}"#
        )
    }

    #[test]
    fn codes_map_to_the_cascade_kinds() {
        assert_eq!(
            kind(200, r#"{"messages": [{"id": "wamid.1"}]}"#),
            "accepted"
        );
        for (status, code, want) in [
            (400, 131026, "recipient_invalid"),
            (400, 131021, "recipient_invalid"),
            (400, 130429, "throttled"),
            (400, 131048, "throttled"),
            (400, 131056, "throttled"),
            (400, 80007, "throttled"),
            (400, 4, "throttled"),
            (500, 1, "transient"),
            (503, 2, "transient"),
            (500, 131000, "transient"),
            (401, 190, "permanent"),
            (400, 100, "permanent"),
            (403, 10, "permanent"),
        ] {
            assert_eq!(kind(status, &err(code)), want, "{status} {code}");
        }
        assert_eq!(kind(429, ""), "throttled");
        assert_eq!(kind(502, "<html>bad gateway</html>"), "transient");
        assert_eq!(kind(404, "not found"), "permanent");
    }

    #[test]
    fn the_message_id_is_metas_wamid() {
        let r = classify(
            http::StatusCode::OK,
            &http::HeaderMap::new(),
            br#"{"messaging_product": "whatsapp", "contacts": [{"input": "15550001111", "wa_id": "15550001111"}], "messages": [{"id": "wamid.HBgL"}]}"#,
            &|s| s,
        );
        assert_eq!(
            r,
            SendReply::Accepted {
                message_id: Some("wamid.HBgL".into())
            }
        );
    }

    #[test]
    fn errors_carry_code_and_message_scrubbed() {
        let body = r#"{"error": {"message": "bad token EAAB123", "code": 190}}"#;
        let r = classify(
            http::StatusCode::UNAUTHORIZED,
            &http::HeaderMap::new(),
            body.as_bytes(),
            &|s| s.replace("EAAB123", "[redacted]"),
        );
        match r {
            SendReply::Permanent { error } => {
                assert!(error.contains("code 190"), "{error}");
                assert!(!error.contains("EAAB123"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}
