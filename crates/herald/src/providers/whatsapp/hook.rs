//! Meta's webhooks, as the Cloud API sends them ("Graph API > Webhooks >
//! Getting started": verification requests and event notifications;
//! "WhatsApp Cloud API > Webhooks > messages": the `statuses` objects).
//!
//! - Verification: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`;
//!   the endpoint answers the challenge when the token is its own.
//! - Notifications: `POST` with `X-Hub-Signature-256: sha256=<hex
//!   HMAC-SHA256(app secret, raw body)>`, a body of
//!   `{"object": "whatsapp_business_account", "entry": [{"changes":
//!   [{"field": "messages", "value": {"statuses": [{"id", "status",
//!   "errors": [{"code", "title"}]}]}}]}]}`.

use super::reply::{clip, reason_for};
use crate::providers::{HookError, HookReceipt, HookReply};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The longest challenge echoed back (Meta's are short integers).
const MAX_CHALLENGE: usize = 256;

/// Constant-time equality of two secrets of any length (compared as
/// digests, so neither the content nor the length leaks through timing).
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The GET handshake: answers the challenge, or refuses.
pub fn handshake(query: &str, verify_token: &[u8]) -> Result<HookReply, HookError> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "hub.mode" => mode = Some(v.into_owned()),
            "hub.verify_token" => token = Some(v.into_owned()),
            "hub.challenge" => challenge = Some(v.into_owned()),
            _ => {}
        }
    }
    let token = token.ok_or_else(|| HookError::Unauthorized("no hub.verify_token".into()))?;
    if !same_secret(token.as_bytes(), verify_token) {
        return Err(HookError::Unauthorized(
            "hub.verify_token is not this integration's verify_token".into(),
        ));
    }
    if mode.as_deref() != Some("subscribe") {
        return Err(HookError::BadRequest("hub.mode must be subscribe".into()));
    }
    match challenge {
        Some(c)
            if !c.is_empty() && c.len() <= MAX_CHALLENGE && !c.chars().any(char::is_control) =>
        {
            Ok(HookReply {
                receipts: Vec::new(),
                body: Some(c),
            })
        }
        _ => Err(HookError::BadRequest(format!(
            "hub.challenge must be 1 to {MAX_CHALLENGE} printable characters"
        ))),
    }
}

/// Checks `X-Hub-Signature-256` over the raw body (constant time).
pub fn verify_signature(
    app_secret: &[u8],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), HookError> {
    let header =
        header.ok_or_else(|| HookError::Unauthorized(format!("no {SIGNATURE_HEADER} header")))?;
    let sig = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| {
            HookError::Unauthorized(format!(
                "{SIGNATURE_HEADER} is not sha256=<hex HMAC-SHA256>"
            ))
        })?;
    let mut m = match Hmac::<Sha256>::new_from_slice(app_secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    m.update(body);
    m.verify_slice(&sig).map_err(|_| {
        HookError::Unauthorized(format!(
            "{SIGNATURE_HEADER} does not match the body signed with the app secret"
        ))
    })
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    value: Option<Value>,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Reads a verified notification's statuses as receipts.
pub fn receipts(body: &[u8]) -> Result<HookReply, HookError> {
    let n: Notification = serde_json::from_slice(body).map_err(|e| {
        HookError::BadRequest(format!(
            "not a WhatsApp webhook notification: {}",
            crate::json::strip_position(&e.to_string())
        ))
    })?;
    let mut out = Vec::new();
    for status in n
        .entry
        .into_iter()
        .flat_map(|e| e.changes)
        .filter_map(|c| c.value)
        .flat_map(|v| v.statuses)
    {
        if status.id.is_empty() {
            continue;
        }
        let delivered = match status.status.as_str() {
            "delivered" | "read" => true,
            "failed" => false,
            // `sent` (handed to WhatsApp), `deleted`, `warning`: no outcome.
            _ => continue,
        };
        let error = (!delivered).then(|| failure(&status.errors));
        out.push(HookReceipt {
            message_id: status.id,
            delivered,
            error,
        });
    }
    Ok(HookReply {
        receipts: out,
        body: None,
    })
}

fn failure(errors: &[StatusError]) -> String {
    let Some(e) = errors.first() else {
        return "WhatsApp reported the message failed".into();
    };
    let mut s = "WhatsApp reported the message failed".to_string();
    if let Some(c) = e.code {
        s.push_str(&format!(" (code {c})"));
    }
    if let Some(t) = e
        .title
        .as_deref()
        .or(e.message.as_deref())
        .filter(|t| !t.is_empty())
    {
        s.push_str(&format!(": {}", clip(t)));
    }
    if let Some(why) = e.code.and_then(reason_for) {
        s.push_str(&format!(": {why}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // HMAC-SHA256("secret", "test"), as Meta's docs compute it
        // (0329a06b…0914, a known test vector).
        let h = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914";
        assert_eq!(verify_signature(b"secret", Some(h), b"test"), Ok(()));
        assert!(verify_signature(b"secret", Some(h), b"tesT").is_err());
        assert!(verify_signature(b"other", Some(h), b"test").is_err());
        assert!(verify_signature(b"secret", None, b"test").is_err());
        assert!(verify_signature(b"secret", Some("sha1=00"), b"test").is_err());
        assert!(verify_signature(b"secret", Some("sha256=zz"), b"test").is_err());
    }

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }

    #[test]
    fn statuses_become_receipts() {
        let body = br#"{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "statuses": [
                {"id": "wamid.A", "status": "sent", "timestamp": "1", "recipient_id": "1"},
                {"id": "wamid.A", "status": "delivered", "timestamp": "2", "recipient_id": "1"},
                {"id": "wamid.B", "status": "read", "timestamp": "2", "recipient_id": "1"},
                {"id": "wamid.C", "status": "failed", "timestamp": "3", "recipient_id": "1",
                 "errors": [{"code": 131026, "title": "Message undeliverable"}]}
            ]}}]}]}"#;
        let r = receipts(body).expect("parses");
        assert_eq!(r.receipts.len(), 3);
        assert!(r.receipts[0].delivered && r.receipts[1].delivered);
        assert_eq!(r.receipts[2].message_id, "wamid.C");
        let e = r.receipts[2].error.clone().unwrap_or_default();
        assert!(
            e.contains("131026") && e.contains("not a WhatsApp user"),
            "{e}"
        );
        // Incoming messages carry no statuses.
        let msg = br#"{"entry": [{"changes": [{"value": {"messages": [{"from": "1", "id": "wamid.X", "type": "text"}]}}]}]}"#;
        assert!(receipts(msg).expect("parses").receipts.is_empty());
    }
}
