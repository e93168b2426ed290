//! Integrations and notification types: what is stored, what is shown, and
//! the ordering rules of SPEC.md.

use crate::helpers::{assert_error, seed_type, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_are_stored_and_listed_with_defaults() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;

    let (status, body) = app.get("/v1/integrations/email", &key).await;
    assert_error(
        "no email integration yet",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );

    app.simulator(&key, "email", json!({"latency_ms": 5})).await;
    app.integration(
        &key,
        "sms",
        json!({"provider": "simulator", "settings": {"routes": ["whatsapp", "sms"]}, "window_s": 120}),
    )
    .await;

    let (status, email) = app.get("/v1/integrations/email", &key).await;
    assert_eq!(status, StatusCode::OK, "{email}");
    assert_eq!(email["provider"], "simulator", "{email}");
    assert_eq!(
        email["confirm"], "accepted",
        "e-mail defaults to accepted: {email}"
    );
    assert_eq!(email["settings"]["latency_ms"], 5, "{email}");

    let (status, sms) = app.get("/v1/integrations/sms", &key).await;
    assert_eq!(status, StatusCode::OK, "{sms}");
    assert_eq!(sms["confirm"], "receipt", "SMS defaults to receipt: {sms}");
    assert_eq!(sms["window_s"], 120, "{sms}");
    assert_eq!(
        sms["settings"]["routes"],
        json!(["whatsapp", "sms"]),
        "{sms}"
    );

    let (status, list) = app.get("/v1/integrations", &key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list.to_string().contains("\"sms\"") && list.to_string().contains("\"email\""),
        "{list}"
    );

    // Replacing an integration replaces it.
    app.integration(
        &key,
        "email",
        json!({"provider": "simulator", "settings": {}, "confirm": "receipt", "window_s": 30}),
    )
    .await;
    let (_, email) = app.get("/v1/integrations/email", &key).await;
    assert_eq!(email["confirm"], "receipt", "{email}");
    assert_eq!(email["window_s"], 30, "{email}");

    let (status, body) = app.get("/v1/integrations/fax", &key).await;
    assert_error(
        "unknown channel",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_settings_are_checked() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let cases = [
        (
            "email",
            json!({"provider": "simulator", "settings": {"latency_ms": 70000}}),
            "settings.latency_ms",
        ),
        (
            "sms",
            json!({"provider": "simulator", "settings": {"receipt_ms": 60001}}),
            "settings.receipt_ms",
        ),
        (
            "email",
            json!({"provider": "simulator", "settings": {"colour": "red"}}),
            "settings.colour",
        ),
        (
            "sms",
            json!({"provider": "simulator", "window_s": 0}),
            "window_s",
        ),
        (
            "sms",
            json!({"provider": "simulator", "window_s": 259201}),
            "window_s",
        ),
        ("email", json!({"provider": "carrier-pigeon"}), "provider"),
        (
            "email",
            json!({"provider": "simulator", "confirm": "maybe"}),
            "confirm",
        ),
    ];
    for (channel, body, field) in cases {
        let (status, resp) = app
            .put(&format!("/v1/integrations/{channel}"), &key, &body)
            .await;
        assert_error(
            &format!("PUT {channel} {body}"),
            status,
            &resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
        );
    }
    let (status, resp) = app.get("/v1/integrations", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !resp.to_string().contains("simulator"),
        "nothing was stored: {resp}"
    );

    // The bounds themselves are allowed.
    app.integration(
        &key,
        "sms",
        json!({"provider": "simulator", "settings": {"latency_ms": 0, "receipt_ms": 60000}, "window_s": 259200}),
    )
    .await;
    app.integration(
        &key,
        "email",
        json!({"provider": "simulator", "window_s": 1}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_round_trip_with_defaults() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.put_type(&key, "appointment_reminder", seed_type())
        .await;

    let (status, t) = app
        .get("/v1/notification-types/appointment_reminder", &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["audience"], "client", "{t}");
    assert_eq!(
        t["channels"],
        seed_type()["channels"],
        "channel order kept: {t}"
    );
    assert_eq!(t["fallback_when"], "none_delivered", "default: {t}");
    assert_eq!(t["default_locale"], "en", "default: {t}");
    assert_eq!(
        t["templates"]["sms"]["en"]["body"], "{{ client_name }}: appointment at {{ time }}",
        "{t}"
    );

    let (status, list) = app.get("/v1/notification-types", &key).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.to_string().contains("appointment_reminder"), "{list}");

    let (status, body) = app.get("/v1/notification-types/nope", &key).await;
    assert_error("unknown type", status, &body, StatusCode::NOT_FOUND, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_rules_are_enforced_and_named() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let ch = |c: &str, s: &str| json!({"channel": c, "scenario": s});
    let cases = vec![
        (
            "fallback on email",
            json!({"audience": "client", "channels": [ch("email", "fallback"), ch("sms", "always")]}),
            Some("channels[0].scenario"),
        ),
        (
            "fallback on aunio",
            json!({"audience": "client", "channels": [ch("email", "always"), ch("aunio", "fallback")]}),
            Some("channels[1].scenario"),
        ),
        (
            "aunio on a staff type",
            json!({"audience": "staff", "channels": [ch("email", "always"), ch("aunio", "always")]}),
            Some("channels[1].channel"),
        ),
        (
            "admin_app on a client type",
            json!({"audience": "client", "channels": [ch("admin_app", "always")]}),
            Some("channels[0].channel"),
        ),
        (
            "email not first",
            json!({"audience": "client", "channels": [ch("sms", "always"), ch("email", "always")]}),
            None,
        ),
        (
            "push after a fallback channel",
            json!({"audience": "client", "channels": [ch("email", "always"), ch("branded_app", "fallback"), ch("aunio", "always")]}),
            None,
        ),
        (
            "fallback sms not last",
            json!({"audience": "client", "channels": [ch("email", "always"), ch("sms", "fallback"), ch("branded_app", "always")]}),
            None,
        ),
        (
            "a channel twice",
            json!({"audience": "client", "channels": [ch("email", "always"), ch("email", "off")]}),
            Some("channels[1].channel"),
        ),
        (
            "starts with a fallback",
            json!({"audience": "client", "channels": [ch("branded_app", "fallback"), ch("sms", "fallback")]}),
            Some("channels[0].scenario"),
        ),
        (
            "unknown scenario",
            json!({"audience": "client", "channels": [ch("email", "sometimes")]}),
            Some("channels[0].scenario"),
        ),
        (
            "unknown channel",
            json!({"audience": "client", "channels": [ch("fax", "always")]}),
            Some("channels[0].channel"),
        ),
        (
            "unknown audience",
            json!({"audience": "pets", "channels": [ch("email", "always")]}),
            Some("audience"),
        ),
        (
            "missing audience",
            json!({"channels": [ch("email", "always")]}),
            Some("audience"),
        ),
        (
            "template does not parse",
            json!({"audience": "client", "channels": [ch("email", "always")],
                   "templates": {"email": {"en": {"subject": "Hi {{ client_name ", "body": "x"}}}}),
            Some("templates.email.en.subject"),
        ),
        (
            "unknown fallback_when",
            json!({"audience": "client", "channels": [ch("email", "always")], "fallback_when": "sometimes"}),
            Some("fallback_when"),
        ),
        (
            "a subject on SMS",
            json!({"audience": "client", "channels": [ch("sms", "always")],
                   "templates": {"sms": {"en": {"subject": "Hi", "body": "x"}}}}),
            Some("templates.sms.en.subject"),
        ),
        (
            "a template for something that is not a channel",
            json!({"audience": "client", "channels": [ch("email", "always")],
                   "templates": {"fax": {"en": {"body": "x"}}}}),
            Some("templates.fax"),
        ),
        (
            "no channels",
            json!({"audience": "client", "channels": []}),
            Some("channels"),
        ),
    ];
    for (what, body, field) in cases {
        let (status, resp) = app.put("/v1/notification-types/t", &key, &body).await;
        assert_error(what, status, &resp, StatusCode::UNPROCESSABLE_ENTITY, field);
        if field.is_none() {
            let f = resp["error"]["field"].as_str().unwrap_or_default();
            assert!(
                f.starts_with("channels["),
                "{what}: the field names the channel: {resp}"
            );
        }
    }
    let (status, body) = app.get("/v1/notification-types/t", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored: {body}");

    // The article's full set, with `off` anywhere, is fine.
    app.put_type(
        &key,
        "t",
        json!({"audience": "client",
               "channels": [ch("email", "off"), ch("aunio", "always"), ch("branded_app", "fallback"), ch("sms", "fallback")]}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_longer_than_255_characters_are_refused() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let long = "t".repeat(256);
    let body =
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]});
    let (status, resp) = app
        .put(&format!("/v1/notification-types/{long}"), &key, &body)
        .await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::NOT_FOUND,
        "a 256-character type key: {status} {resp}"
    );
    assert_error("256-character type key", status, &resp, status, None);
    app.put_type(&key, &"t".repeat(255), body).await;
}
