//! FCM's answers to `messages:send`, classified.
//!
//! Success (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send)
//! is the sent message, `{"name": "projects/{id}/messages/{message id}"}`.
//! An error is Google's JSON error, `{"error": {"code", "message", "status",
//! "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
//! "errorCode"}]}}`, the codes listed at
//! https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode:
//! `UNREGISTERED` (404, the token is dead), `INVALID_ARGUMENT` (400),
//! `SENDER_ID_MISMATCH` (403), `QUOTA_EXCEEDED` (429), `UNAVAILABLE` (503),
//! `INTERNAL` (500), `THIRD_PARTY_AUTH_ERROR` (401: the APNs or web-push
//! credentials in the Firebase project, not Herald's token).

use super::token::clip;
use crate::providers::{retry_after_ms, SendReply};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// The `@type` of FCM's own error detail.
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// An answer, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Classified for the cascade.
    Reply(SendReply),
    /// FCM refused the access token (401 that is not a third-party auth
    /// error): worth one retry with a new token.
    Unauthenticated(String),
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: GoogleError,
}

#[derive(Deserialize, Default)]
struct GoogleError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// Kept loose: details of other `@type`s have other shapes.
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Sent {
    name: String,
}

impl GoogleError {
    /// The FCM `errorCode` of the first FCM detail, if any.
    fn error_code(&self) -> Option<&str> {
        self.details
            .iter()
            .find(|d| d.get("@type").and_then(|t| t.as_str()) == Some(FCM_ERROR_TYPE))
            .and_then(|d| d.get("errorCode"))
            .and_then(|c| c.as_str())
    }
}

/// Classifies one answer of `messages:send`.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Answer {
    if status.is_success() {
        // A 2xx without the message's name is not FCM (a base_url pointing
        // elsewhere): counting it as sent would lose the push silently.
        return Answer::Reply(match serde_json::from_slice::<Sent>(body) {
            Ok(sent) if !sent.name.is_empty() => SendReply::Accepted {
                message_id: Some(sent.name),
            },
            _ => SendReply::Permanent {
                error: format!("FCM answered {status} without the sent message's name"),
            },
        });
    }
    let err = serde_json::from_slice::<ErrorBody>(body)
        .unwrap_or_default()
        .error;
    let code = err.error_code();
    let gstatus = err.status.as_deref();
    let error = describe(status, gstatus, code, err.message.as_deref());
    let is = |name: &str| code == Some(name) || gstatus == Some(name);

    if is("UNREGISTERED") || is("NOT_FOUND") {
        return Answer::Reply(SendReply::RecipientInvalid { error });
    }
    if status == StatusCode::UNAUTHORIZED && !is("THIRD_PARTY_AUTH_ERROR") {
        return Answer::Unauthenticated(error);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || is("QUOTA_EXCEEDED") || is("RESOURCE_EXHAUSTED") {
        return Answer::Reply(SendReply::Throttled {
            error,
            retry_after_ms: retry_after_ms(headers),
        });
    }
    if status.is_server_error() || is("UNAVAILABLE") || is("INTERNAL") {
        return Answer::Reply(SendReply::Transient {
            error,
            retry_after_ms: retry_after_ms(headers),
        });
    }
    // Other 4xx (INVALID_ARGUMENT, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR,
    // PERMISSION_DENIED), and the 1xx/3xx FCM never sends.
    Answer::Reply(SendReply::Permanent { error })
}

/// `FCM 404 NOT_FOUND/UNREGISTERED: Requested entity was not found.`
fn describe(
    status: StatusCode,
    gstatus: Option<&str>,
    code: Option<&str>,
    message: Option<&str>,
) -> String {
    let mut s = format!("FCM {}", status.as_u16());
    match (gstatus, code) {
        (Some(g), Some(c)) if g != c => s.push_str(&format!(" {g}/{c}")),
        (Some(g), _) => s.push_str(&format!(" {g}")),
        (None, Some(c)) => s.push_str(&format!(" {c}")),
        (None, None) => {}
    }
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        s.push_str(": ");
        s.push_str(&clip(m));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: serde_json::Value) -> Answer {
        let status = StatusCode::from_u16(status).expect("a status");
        classify(status, &HeaderMap::new(), body.to_string().as_bytes())
    }

    fn fcm_error(code: u16, status: &str, error_code: &str) -> serde_json::Value {
        json!({"error": {"code": code, "message": "m", "status": status,
            "details": [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]}})
    }

    #[test]
    fn sent_message_name_is_the_message_id() {
        let a = answer(200, json!({"name": "projects/p/messages/1"}));
        assert_eq!(
            a,
            Answer::Reply(SendReply::Accepted {
                message_id: Some("projects/p/messages/1".into())
            })
        );
        assert!(matches!(
            answer(200, json!({})),
            Answer::Reply(SendReply::Permanent { .. })
        ));
    }

    #[test]
    fn error_codes_map_to_the_cascade_kinds() {
        let kind = |a: Answer| match a {
            Answer::Reply(r) => r.detailed_kind(),
            Answer::Unauthenticated(_) => "unauthenticated",
        };
        assert_eq!(
            kind(answer(404, fcm_error(404, "NOT_FOUND", "UNREGISTERED"))),
            "recipient_invalid"
        );
        assert_eq!(
            kind(answer(404, json!({"error": {"status": "NOT_FOUND"}}))),
            "recipient_invalid"
        );
        assert_eq!(
            kind(answer(
                400,
                fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
            )),
            "permanent"
        );
        assert_eq!(
            kind(answer(
                403,
                fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")
            )),
            "permanent"
        );
        assert_eq!(
            kind(answer(
                429,
                fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")
            )),
            "throttled"
        );
        assert_eq!(
            kind(answer(503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE"))),
            "transient"
        );
        assert_eq!(
            kind(answer(500, fcm_error(500, "INTERNAL", "INTERNAL"))),
            "transient"
        );
        assert_eq!(
            kind(answer(502, json!("<html>bad gateway</html>"))),
            "transient"
        );
        assert_eq!(
            kind(answer(
                401,
                fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")
            )),
            "permanent"
        );
        assert_eq!(
            kind(answer(401, json!({"error": {"status": "UNAUTHENTICATED"}}))),
            "unauthenticated"
        );
        // A 404 that is not Google's JSON (a wrong base_url) kills no token.
        assert_eq!(kind(answer(404, json!("not found"))), "permanent");
    }

    #[test]
    fn the_error_names_status_code_and_message() {
        let Answer::Reply(SendReply::RecipientInvalid { error }) =
            answer(404, fcm_error(404, "NOT_FOUND", "UNREGISTERED"))
        else {
            panic!("not recipient invalid");
        };
        assert_eq!(error, "FCM 404 NOT_FOUND/UNREGISTERED: m");
    }
}
