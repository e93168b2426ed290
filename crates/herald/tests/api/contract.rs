//! Corners of the contract found by reading API.md and SPEC.md against the
//! running service: null settings, number ranges, cursors, keys used in
//! the wrong place, optional template variables, dead SMS numbers.

use crate::helpers::{assert_error, channel, spawn_app, ADMIN_TOKEN};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_follow_the_same_json_rules_as_bodies() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    // null counts as absent, and is not stored.
    let (status, body) = app
        .put(
            "/v1/integrations/sms",
            &key,
            &json!({"provider": "simulator", "settings": {"default": null, "routes": null, "latency_ms": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"], json!({}), "{body}");
    // A value of the wrong JSON type is a 400 naming it.
    for (settings, field) in [
        (json!({"latency_ms": "1"}), "settings.latency_ms"),
        (json!({"record": "no"}), "settings.record"),
        (json!({"outcomes": []}), "settings.outcomes"),
    ] {
        let (status, body) = app
            .put(
                "/v1/integrations/sms",
                &key,
                &json!({"provider": "simulator", "settings": settings}),
            )
            .await;
        assert_error(
            "wrong type",
            status,
            &body,
            StatusCode::BAD_REQUEST,
            Some(field),
        );
    }
    let (status, body) = app
        .put(
            "/v1/integrations/sms",
            &key,
            &json!({"provider": "simulator", "settings": "x"}),
        )
        .await;
    assert_error(
        "settings not an object",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        Some("settings"),
    );
    // A number that does not fit is outside the allowed set: 422.
    for body in [
        json!({"provider": "simulator", "window_s": 1e30}),
        json!({"provider": "simulator", "window_s": 1.5}),
    ] {
        let (status, resp) = app.put("/v1/integrations/sms", &key, &body).await;
        assert_error(
            "window_s",
            status,
            &resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("window_s"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_cursors_and_methods() {
    let app = spawn_app().await;
    let a = app.create_tenant("A").await.api_key;
    let b = app.create_tenant("B").await.api_key;
    // The operator token is not a tenant key: a key without the right.
    let (status, body) = app.get("/v1/integrations", ADMIN_TOKEN).await;
    assert_error(
        "admin token on a tenant call",
        status,
        &body,
        StatusCode::FORBIDDEN,
        None,
    );
    // A cursor from another tenant's log is a bad cursor.
    app.simulator(&a, "email", json!({})).await;
    app.put_type(
        &a,
        "t",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}),
    )
    .await;
    app.put_client(&a, "c", json!({"email": "c@example.com"}))
        .await;
    let id = app.trigger(&a, json!({"type": "t", "client": "c"})).await;
    let (status, body) = app.get(&format!("/v1/notifications?before={id}"), &b).await;
    assert_error(
        "foreign cursor",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("before"),
    );
    let (status, body) = app.get(&format!("/v1/notifications?before={id}"), &a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // GET on the preview path is a wrong method, not an unknown id.
    let (status, body) = app.get("/v1/notifications/preview", &a).await;
    assert_error(
        "GET preview",
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    );
    // Absent data and {} are the same trigger.
    let first = app
        .post(
            "/v1/notifications",
            &a,
            &json!({"type": "t", "client": "c", "idempotency_key": "k1"}),
        )
        .await;
    let again = app
        .post(
            "/v1/notifications",
            &a,
            &json!({"type": "t", "client": "c", "idempotency_key": "k1", "data": {}}),
        )
        .await;
    assert_eq!(first.0, StatusCode::ACCEPTED, "{}", first.1);
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(first.1["id"], again.1["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_template_variables_and_nested_missing_ones() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulator(&key, "sms", json!({})).await;
    app.put_type(
        &key,
        "t",
        json!({"audience": "client", "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "At {{ appt.time }}{% if room is defined %}, room {{ room }}{% endif %} ({{ note | default('no note') }})"}}}}),
    )
    .await;
    app.put_client(&key, "c", json!({"phone": "+15550001111"}))
        .await;
    let preview = |data: serde_json::Value| {
        let app = &app;
        let key = key.clone();
        async move {
            app.post(
                "/v1/notifications/preview",
                &key,
                &json!({"type": "t", "client": "c", "data": data}),
            )
            .await
        }
    };
    let (status, body) = preview(json!({"appt": {"time": "10:00"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        channel(&body, "sms")["rendered"]["body"],
        "At 10:00 (no note)"
    );
    let (status, body) =
        preview(json!({"appt": {"time": "10:00"}, "room": 3, "note": "bring ID"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        channel(&body, "sms")["rendered"]["body"],
        "At 10:00, room 3 (bring ID)"
    );
    let (status, body) = preview(json!({"appt": {}})).await;
    assert_error(
        "nested missing",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("data.appt.time"),
    );
    let (status, body) = preview(json!({})).await;
    assert_error(
        "missing",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("data.appt"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_number_fails_sms_but_not_being_on_a_messenger_moves_on() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulator(
        &key,
        "sms",
        json!({"routes": ["whatsapp", "sms"],
               "outcomes": {"whatsapp:+15550001111": "unregistered", "+15550002222": "unregistered"}}),
    )
    .await;
    app.put_type(
        &key,
        "t",
        json!({"audience": "client", "channels": [{"channel": "sms", "scenario": "always"}]}),
    )
    .await;
    app.put_client(&key, "ok", json!({"phone": "+15550001111"}))
        .await;
    app.put_client(&key, "dead", json!({"phone": "+15550002222"}))
        .await;
    let id = app
        .trigger(&key, json!({"type": "t", "client": "ok"}))
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(channel(&n, "sms")["outcome"], "delivered", "{n:#}");
    let id = app
        .trigger(&key, json!({"type": "t", "client": "dead"}))
        .await;
    let n = app.wait_final(&key, &id).await;
    let sms = channel(&n, "sms");
    assert_eq!(sms["outcome"], "failed", "{n:#}");
    assert_eq!(sms["attempts"].as_array().map(Vec::len), Some(2), "{n:#}");
}
