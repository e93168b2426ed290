//! What one notification request carries besides its headers: the
//! `apns-id`, the device token in the path, and the JSON payload.
//!
//! Apple: https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns

use herald_core::Rendered;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Apple's tokens are at most 100 bytes, sent as hex.
const MAX_TOKEN_HEX: usize = 200;

/// The `apns-id` of an attempt: a UUID made from the first 16 bytes of
/// SHA-256 of its idempotency key, so that every retry of the attempt (and a
/// repeat after a crash) carries the same id. Shaped as a version-4 UUID,
/// the form Apple's examples use; the bytes are as unpredictable as one.
pub fn apns_id(idempotency_key: &str) -> Uuid {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Whether a device token can be an APNs token at all. It goes into the
/// request path, so anything but hex is refused before it is sent (APNs
/// would answer `BadDeviceToken` to it anyway).
pub fn is_device_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_HEX
        && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `aps.alert`: what the device shows.
#[derive(Serialize)]
struct Alert<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    body: &'a str,
}

#[derive(Serialize)]
struct Aps<'a> {
    alert: Alert<'a>,
}

/// The payload: Apple's `aps` dictionary, and Herald's notification id as
/// a custom key for the app.
#[derive(Serialize)]
struct Payload<'a> {
    aps: Aps<'a>,
    notification_id: &'a str,
}

/// The JSON body of a request.
pub fn payload(content: &Rendered, notification_id: &str) -> Vec<u8> {
    let p = Payload {
        aps: Aps {
            alert: Alert {
                title: content.title.as_deref(),
                body: &content.body,
            },
        },
        notification_id,
    };
    // Only strings, so serialising cannot fail.
    serde_json::to_vec(&p).unwrap_or_default()
}
