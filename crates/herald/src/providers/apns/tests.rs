//! The pure parts: classification, the `apns-id`, the token cache and the
//! settings' checks. The wire itself is tested against an HTTP/2 peer in
//! `tests/api/providers/apns.rs`.

use super::reply::{classify, Answer};
use super::request::{apns_id, is_device_token, payload};
use super::token::{TokenSigner, RENEW_AFTER_S};
use super::{ApnsClient, ApnsSettings, PRODUCTION_URL, SANDBOX_URL};
use crate::providers::{tls::Roots, SendReply};
use herald_core::{FieldError, Rendered};
use http::{HeaderMap, HeaderValue, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// A P-256 PKCS#8 PEM key made for this test run, as Apple's `.p8` is.
fn test_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        rcgen::KeyPair::generate()
            .expect("a P-256 key")
            .serialize_pem()
    })
}

fn settings(extra: Value) -> Value {
    let mut s = json!({
        "key_p8": test_key(),
        "key_id": "ABC123DEFG",
        "team_id": "DEF123GHIJ",
        "topic": "com.example.salon",
    });
    if let (Some(s), Some(extra)) = (s.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    s
}

fn configure(s: &Value) -> Result<ApnsClient, FieldError> {
    let parsed: ApnsSettings = crate::providers::parse_settings(s, &["key_p8"])?;
    ApnsClient::new(&parsed, &Roots::none())
}

fn field_of(s: Value) -> String {
    match configure(&s) {
        Ok(c) => panic!("{s} was taken: {c:?}"),
        Err(e) => e.field,
    }
}

fn reason_body(reason: &str) -> Vec<u8> {
    json!({"reason": reason, "timestamp": 1_700_000_000_000u64})
        .to_string()
        .into_bytes()
}

fn kind(status: u16, reason: Option<&str>) -> &'static str {
    let body = reason.map(reason_body).unwrap_or_default();
    let status = StatusCode::from_u16(status).expect("a status");
    match classify(status, &HeaderMap::new(), &body, "id") {
        Answer::Reply(r) => r.detailed_kind(),
        Answer::ExpiredToken(_) => "expired_token",
    }
}

#[test]
fn answers_are_classified_as_apples_table_says() {
    assert_eq!(kind(200, None), "accepted");
    assert_eq!(kind(410, Some("Unregistered")), "recipient_invalid");
    assert_eq!(kind(410, Some("ExpiredToken")), "recipient_invalid");
    assert_eq!(kind(400, Some("BadDeviceToken")), "recipient_invalid");
    assert_eq!(
        kind(400, Some("DeviceTokenNotForTopic")),
        "recipient_invalid"
    );
    assert_eq!(kind(429, Some("TooManyRequests")), "throttled");
    assert_eq!(kind(429, Some("TooManyProviderTokenUpdates")), "transient");
    assert_eq!(kind(500, Some("InternalServerError")), "transient");
    assert_eq!(kind(503, Some("ServiceUnavailable")), "transient");
    assert_eq!(kind(502, None), "transient");
    assert_eq!(kind(403, Some("ExpiredProviderToken")), "expired_token");
    assert_eq!(kind(403, Some("InvalidProviderToken")), "permanent");
    assert_eq!(kind(400, Some("BadTopic")), "permanent");
    assert_eq!(kind(400, Some("PayloadEmpty")), "permanent");
    assert_eq!(kind(413, Some("PayloadTooLarge")), "permanent");
    assert_eq!(kind(404, None), "permanent");
}

#[test]
fn errors_carry_status_and_reason_and_retry_after() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("7"));
    let r = classify(
        StatusCode::TOO_MANY_REQUESTS,
        &h,
        &reason_body("TooManyRequests"),
        "id",
    );
    assert_eq!(
        r,
        Answer::Reply(SendReply::Throttled {
            error: "APNs answered 429 TooManyRequests".into(),
            retry_after_ms: Some(7_000),
        })
    );
    // A body that is not Apple's JSON is not quoted.
    let r = classify(StatusCode::BAD_GATEWAY, &h, b"<html>proxy</html>", "id");
    assert!(
        matches!(r, Answer::Reply(SendReply::Transient { ref error, .. }) if error == "APNs answered 502"),
        "{r:?}"
    );
}

#[test]
fn the_message_id_is_apples_echo_or_ours() {
    let mut h = HeaderMap::new();
    let ours = "0f3a0c52-6e4b-4a1e-9b8e-1d2c3b4a5f60";
    let r = classify(StatusCode::OK, &h, b"", ours);
    assert_eq!(
        r,
        Answer::Reply(SendReply::Accepted {
            message_id: Some(ours.into())
        })
    );
    h.insert("apns-id", HeaderValue::from_static("ECHOED-ID"));
    let r = classify(StatusCode::OK, &h, b"", ours);
    assert_eq!(
        r,
        Answer::Reply(SendReply::Accepted {
            message_id: Some("ECHOED-ID".into())
        })
    );
}

#[test]
fn apns_id_is_a_uuid_fixed_by_the_idempotency_key() {
    let a = apns_id("att-1:key");
    assert_eq!(a, apns_id("att-1:key"));
    assert_ne!(a, apns_id("att-2:key"));
    let text = a.to_string();
    assert_eq!(text.len(), 36);
    assert!(uuid::Uuid::parse_str(&text).is_ok());
}

#[test]
fn only_hex_device_tokens_go_into_the_path() {
    assert!(is_device_token("a1b2c3d4e5f60718293a4b5c6d7e8f90"));
    assert!(!is_device_token(""));
    assert!(!is_device_token("../../3/device/x"));
    assert!(!is_device_token("abc?x=1"));
    assert!(!is_device_token(&"a".repeat(201)));
}

#[test]
fn the_payload_is_an_alert_with_title_and_body() {
    let content = Rendered {
        subject: None,
        title: Some("Salon One".into()),
        body: "See you at 10:00".into(),
    };
    let p: Value = serde_json::from_slice(&payload(&content, "n-1")).expect("JSON");
    assert_eq!(
        p,
        json!({"aps": {"alert": {"title": "Salon One", "body": "See you at 10:00"}}, "notification_id": "n-1"})
    );
}

#[test]
fn the_token_is_kept_for_50_minutes_then_renewed() {
    let key = SecretString::from(test_key());
    let t0 = 1_700_000_000;
    let signer = TokenSigner::new(&key, "ABC123DEFG", "DEF123GHIJ", t0).expect("a signer");
    let first = signer.current(t0).expect("a token");
    assert_eq!(
        first,
        signer.current(t0 + RENEW_AFTER_S - 1).expect("a token")
    );
    let second = signer.current(t0 + RENEW_AFTER_S).expect("a token");
    assert_ne!(first, second);
    assert_eq!(
        second,
        signer.current(t0 + RENEW_AFTER_S + 60).expect("a token")
    );
    // A renewal asked for with a token already replaced keeps the new one.
    assert_eq!(
        signer
            .renew(&first, t0 + RENEW_AFTER_S + 61)
            .expect("a token"),
        second
    );
    let third = signer
        .renew(&second, t0 + RENEW_AFTER_S + 62)
        .expect("a token");
    assert_ne!(third, second);
}

#[test]
fn settings_errors_name_their_field() {
    assert_eq!(
        field_of(settings(json!({"key_p8": "not a key"}))),
        "settings.key_p8"
    );
    let other_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        field_of(settings(json!({"key_p8": other_pem}))),
        "settings.key_p8"
    );
    assert_eq!(
        field_of(settings(json!({"key_id": "short"}))),
        "settings.key_id"
    );
    assert_eq!(
        field_of(settings(json!({"team_id": "TOO-LONG-ID1"}))),
        "settings.team_id"
    );
    assert_eq!(
        field_of(settings(json!({"topic": "bad topic"}))),
        "settings.topic"
    );
    assert_eq!(
        field_of(settings(json!({"environment": "staging"}))),
        "settings.environment"
    );
    assert_eq!(
        field_of(settings(json!({"base_url": "http://x.example"}))),
        "settings.base_url"
    );
    assert_eq!(
        field_of(settings(json!({"timeout_ms": 0}))),
        "settings.timeout_ms"
    );
    assert_eq!(
        field_of(settings(json!({"colour": "red"}))),
        "settings.colour"
    );
    let mut missing = settings(json!({}));
    if let Some(o) = missing.as_object_mut() {
        o.remove("topic");
    }
    assert_eq!(field_of(missing), "settings.topic");
}

#[test]
fn a_bad_key_is_not_quoted_back() {
    let secret = "-----BEGIN PRIVATE KEY-----\nU0VDUkVUU0VDUkVU\n-----END PRIVATE KEY-----\n";
    let err = configure(&settings(json!({"key_p8": secret}))).expect_err("refused");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("U0VDUkVUU0VDUkVU"), "{text}");
}

#[test]
fn environments_choose_apples_gateways() {
    let prod = configure(&settings(json!({}))).expect("configured");
    assert!(format!("{prod:?}").contains(PRODUCTION_URL));
    let sandbox = configure(&settings(json!({"environment": "sandbox"}))).expect("configured");
    assert!(format!("{sandbox:?}").contains(SANDBOX_URL));
    let local =
        configure(&settings(json!({"base_url": "https://127.0.0.1:9/"}))).expect("configured");
    assert!(format!("{local:?}").contains("https://127.0.0.1:9/3/device/"));
}

#[test]
fn debug_output_never_shows_the_key() {
    let s: ApnsSettings =
        crate::providers::parse_settings(&settings(json!({})), &["key_p8"]).expect("parsed");
    let client = ApnsClient::new(&s, &Roots::none()).expect("configured");
    let body_line = test_key().lines().nth(1).expect("a PEM body line");
    for text in [
        format!("{s:?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
    ] {
        assert!(!text.contains(body_line), "{text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
}
