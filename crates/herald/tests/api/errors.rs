//! Bad input of every kind: the right 4xx, a JSON error with a code and a
//! message (and the field when there is one), never a 5xx, nothing created.

use crate::helpers::{assert_error, seed_data, spawn_app, TestApp, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::json;

const JSON: Option<&str> = Some("application/json");

/// A tenant with the seed type and a client `ana`.
async fn setup(app: &TestApp) -> String {
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "appointment_reminder").await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550050001"}),
    )
    .await;
    app.put_staff(&key, "eva", json!({"name": "Eva"})).await;
    key
}

async fn assert_nothing_created(app: &TestApp, key: &str) {
    let (list, _) = app.log(key, "").await;
    assert!(list.is_empty(), "nothing was created: {list:#?}");
    assert!(app.outbox_all(key).await.is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_mistyped_json_is_400() {
    let app = spawn_app().await;
    let key = setup(&app).await;

    let (status, body) = app
        .raw(
            Method::POST,
            "/v1/notifications",
            Some(&key),
            JSON,
            br#"{"type": "appointment_reminder", "#.to_vec(),
        )
        .await;
    assert_error(
        "malformed JSON",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        None,
    );

    let (status, body) = app
        .put(
            "/v1/notification-types/t",
            &key,
            &json!({"audience": "client", "channels": "email"}),
        )
        .await;
    assert_error(
        "channels as a string",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        None,
    );

    let (status, body) = app
        .post(
            "/v1/notifications",
            &key,
            &json!({"type": "appointment_reminder", "client": "ana", "data": "Ana at 10:00"}),
        )
        .await;
    assert_error(
        "data as a string",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        None,
    );

    let (status, body) = app
        .put(
            "/v1/clients/bob",
            &key,
            &json!({"name": "Bob", "apps": {"app": "aunio"}}),
        )
        .await;
    assert_error(
        "apps as an object",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        None,
    );

    let (status, body) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "simulator", "window_s": "ten"}),
        )
        .await;
    assert_error(
        "window_s as a string",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        None,
    );

    let (status, body) = app
        .raw(
            Method::PUT,
            "/v1/clients/bob",
            Some(&key),
            JSON,
            b"[1, 2, 3]".to_vec(),
        )
        .await;
    assert_error(
        "an array body",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        None,
    );

    assert_nothing_created(&app, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_refused_by_name() {
    let app = spawn_app().await;
    let key = setup(&app).await;

    let (status, body) = app
        .post(
            "/v1/notifications",
            &key,
            &json!({"type": "appointment_reminder", "client": "ana", "data": seed_data(), "priority": "high"}),
        )
        .await;
    assert_error(
        "trigger with priority",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("priority"),
    );

    let mut t = crate::helpers::seed_type();
    t["colour"] = "blue".into();
    let (status, body) = app.put("/v1/notification-types/t", &key, &t).await;
    assert_error(
        "type with colour",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("colour"),
    );

    let (status, body) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "simulator", "retries": 3}),
        )
        .await;
    assert_error(
        "integration with retries",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("retries"),
    );

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&json!({"name": "X", "plan": "gold"})),
        )
        .await;
    assert_error(
        "tenant with plan",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("plan"),
    );

    // Unknown fields inside nested objects are named with their path.
    let nested = [
        (
            "/v1/notification-types/t",
            json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always", "delay": 5}]}),
            "channels[0].delay",
        ),
        (
            "/v1/notification-types/t",
            json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
                   "templates": {"email": {"en": {"subject": "s", "body": "b", "footer": "f"}}}}),
            "templates.email.en.footer",
        ),
        (
            "/v1/clients/bob",
            json!({"apps": [{"app": "aunio", "token": "t", "model": "iPhone"}]}),
            "apps[0].model",
        ),
    ];
    for (path, body, field) in nested {
        let (status, resp) = app.put(path, &key, &body).await;
        assert_error(
            &format!("PUT {path} {body}"),
            status,
            &resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(field),
        );
    }

    assert_nothing_created(&app, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_rules_are_422_and_create_nothing() {
    let app = spawn_app().await;
    let key = setup(&app).await;
    let trigger = |body: serde_json::Value| {
        let app = &app;
        let key = key.clone();
        async move { app.post("/v1/notifications", &key, &body).await }
    };

    let (status, body) = trigger(json!({"type": "appointment_reminder", "client": "ana",
                                        "data": {"client_name": "Ana"}}))
    .await;
    assert_error(
        "missing variable",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("data.time"),
    );

    let (status, body) = trigger(json!({"type": "appointment_reminder", "client": "ana"})).await;
    let field = body["error"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_error(
        "no data at all",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );
    assert!(
        field == "data.time" || field == "data.client_name",
        "{body}"
    );

    let (status, body) =
        trigger(json!({"type": "nope", "client": "ana", "data": seed_data()})).await;
    assert_error(
        "unknown type",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("type"),
    );

    let (status, body) =
        trigger(json!({"type": "appointment_reminder", "client": "ghost", "data": seed_data()}))
            .await;
    assert_error(
        "unknown client",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("client"),
    );

    let (status, body) =
        trigger(json!({"type": "appointment_reminder", "staff": "eva", "data": seed_data()})).await;
    assert_error(
        "staff on a client type",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );

    let (status, body) = trigger(
        json!({"type": "appointment_reminder", "client": "ana", "staff": "eva",
                                        "data": seed_data()}),
    )
    .await;
    assert_error(
        "both client and staff",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );

    let (status, body) =
        trigger(json!({"type": "appointment_reminder", "data": seed_data()})).await;
    assert_error(
        "no recipient",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );

    let (status, body) = trigger(json!({"client": "ana", "data": seed_data()})).await;
    assert_error(
        "no type",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("type"),
    );

    let (status, body) = trigger(
        json!({"type": "appointment_reminder", "client": "ana", "data": seed_data(),
                                        "idempotency_key": "k".repeat(256)}),
    )
    .await;
    assert_error(
        "idempotency key too long",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("idempotency_key"),
    );

    // A template that breaks the rendering bounds.
    app.put_type(
        &key,
        "huge",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
               "templates": {"email": {"en": {"subject": "x",
                   "body": "{% for i in range(100000) %}{{ filler }}{% endfor %}"}}}}),
    )
    .await;
    let (status, body) =
        trigger(json!({"type": "huge", "client": "ana", "data": {"filler": "y".repeat(100)}}))
            .await;
    assert_error(
        "rendering over its bounds",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );

    // The preview checks the same.
    let (status, body) = app
        .post(
            "/v1/notifications/preview",
            &key,
            &json!({"type": "appointment_reminder", "client": "ana",
                                                          "data": {"time": "10:00"}}),
        )
        .await;
    assert_error(
        "preview, missing variable",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("data.client_name"),
    );

    assert_nothing_created(&app, &key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_and_size_are_checked() {
    let app = spawn_app().await;
    let key = setup(&app).await;
    let body = serde_json::to_vec(
        &json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
    )
    .unwrap();

    let (status, resp) = app
        .raw(
            Method::POST,
            "/v1/notifications",
            Some(&key),
            None,
            body.clone(),
        )
        .await;
    assert_error(
        "no Content-Type",
        status,
        &resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    );

    let (status, resp) = app
        .raw(
            Method::POST,
            "/v1/notifications",
            Some(&key),
            Some("text/plain"),
            body,
        )
        .await;
    assert_error(
        "text/plain",
        status,
        &resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    );

    // A charset parameter is still JSON.
    let (status, resp) = app
        .raw(
            Method::POST,
            "/v1/notifications/preview",
            Some(&key),
            Some("application/json; charset=utf-8"),
            serde_json::to_vec(
                &json!({"type": "appointment_reminder", "client": "ana", "data": seed_data()}),
            )
            .unwrap(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "application/json; charset=utf-8: {resp}"
    );

    let big = serde_json::to_vec(&json!({"type": "appointment_reminder", "client": "ana",
                                         "data": {"client_name": "x".repeat(1_100_000), "time": "10:00"}}))
    .unwrap();
    assert!(big.len() > 1024 * 1024);
    // The server may close the connection right after answering 413; a
    // transport error on the way is retried a few times.
    let mut answer = None;
    for _ in 0..3 {
        match app
            .try_raw(
                Method::POST,
                "/v1/notifications",
                Some(&key),
                JSON,
                big.clone(),
            )
            .await
        {
            Ok(a) => {
                answer = Some(a);
                break;
            }
            Err(e) => eprintln!("1.1 MB body: transport error {e}"),
        }
    }
    let (status, resp) = answer.expect("an answer to a body over 1 MiB");
    assert_error(
        "body over 1 MiB",
        status,
        &resp,
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
    );

    // Just under the limit is fine (it is refused for its content, not its size).
    let under = serde_json::to_vec(&json!({"type": "appointment_reminder", "client": "ana",
                                           "data": {"client_name": "Ana", "time": "10:00", "notes": "x".repeat(1_000_000)}}))
    .unwrap();
    assert!(under.len() < 1024 * 1024);
    let (status, resp) = app
        .raw(
            Method::POST,
            "/v1/notifications/preview",
            Some(&key),
            JSON,
            under,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a body under 1 MiB is read: {}",
        resp.to_string().len()
    );

    let (list, _) = app.log(&key, "").await;
    assert!(list.is_empty(), "{list:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_methods_and_keys() {
    let app = spawn_app().await;
    let key = setup(&app).await;

    let (status, body) = app.get("/v1/nothing-here", &key).await;
    assert_error("unknown route", status, &body, StatusCode::NOT_FOUND, None);
    let (status, body) = app.call(Method::GET, "/nope", None, None).await;
    assert_error(
        "unknown route without a key",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );

    let (status, body) = app
        .call(
            Method::PATCH,
            "/v1/notifications",
            Some(&key),
            Some(&json!({})),
        )
        .await;
    assert_error(
        "PATCH /v1/notifications",
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    );
    let (status, body) = app
        .call(Method::DELETE, "/v1/tenants", Some(ADMIN_TOKEN), None)
        .await;
    assert_error(
        "DELETE /v1/tenants",
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    );

    let (status, body) = app.call(Method::GET, "/v1/notifications", None, None).await;
    assert_error("no key", status, &body, StatusCode::UNAUTHORIZED, None);
    let (status, body) = app
        .call(Method::GET, "/v1/notifications", Some("hk_not-a-key"), None)
        .await;
    assert_error("bad key", status, &body, StatusCode::UNAUTHORIZED, None);
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/notifications",
            None,
            Some(&json!({"type": "appointment_reminder"})),
        )
        .await;
    assert_error(
        "trigger without a key",
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        None,
    );

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/tenants",
            Some(&key),
            Some(&json!({"name": "Sneaky"})),
        )
        .await;
    assert_error(
        "tenant key on POST /v1/tenants",
        status,
        &body,
        StatusCode::FORBIDDEN,
        None,
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/tenants",
            None,
            Some(&json!({"name": "Sneaky"})),
        )
        .await;
    assert_error(
        "no key on POST /v1/tenants",
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        None,
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/tenants",
            Some(ADMIN_TOKEN),
            Some(&json!({})),
        )
        .await;
    assert_error(
        "tenant without a name",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("name"),
    );

    let (status, body) = app
        .get(
            "/v1/notifications/0190a0b0-0000-7000-8000-000000000000",
            &key,
        )
        .await;
    assert_error(
        "unknown notification",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );
    let (status, body) = app.get("/v1/staff/nobody", &key).await;
    assert_error("unknown staff", status, &body, StatusCode::NOT_FOUND, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_parameters_are_checked() {
    let app = spawn_app().await;
    let key = setup(&app).await;
    for query in [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "status=lost",
        "before=not-a-cursor",
    ] {
        let (status, body) = app.get(&format!("/v1/notifications?{query}"), &key).await;
        assert_error(
            &format!("log ?{query}"),
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        );
    }
    let (list, next) = app.log(&key, "limit=1000").await;
    assert!(list.is_empty() && next.is_none());
    let (list, _) = app.log(&key, "limit=1").await;
    assert!(list.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_bounds_are_422() {
    let app = spawn_app().await;
    let key = setup(&app).await;
    let (status, body) = app
        .put(
            "/v1/integrations/sms",
            &key,
            &json!({"provider": "simulator", "window_s": 0}),
        )
        .await;
    assert_error(
        "window_s 0",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("window_s"),
    );
    let (status, body) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "simulator", "settings": {"latency_ms": 70000}}),
        )
        .await;
    assert_error(
        "latency_ms 70000",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("settings.latency_ms"),
    );
    let (status, body) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "simulator", "settings": {"default": "bounced"}}),
        )
        .await;
    assert_error(
        "unknown outcome",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("settings.default"),
    );
    let (status, body) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "simulator", "settings": {"routes": ["whatsapp"]}}),
        )
        .await;
    assert_error(
        "routes on email",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("settings.routes"),
    );

    // The earlier good e-mail integration is untouched.
    let (status, email) = app.get("/v1/integrations/email", &key).await;
    assert_eq!(status, StatusCode::OK, "{email}");
    assert_eq!(email["settings"]["default"], "delivered", "{email}");
}

/// The contract's corners: an object or array where API.md expects a
/// string (an enum) is the wrong JSON type, 400, naming the field itself;
/// an unknown string there stays 422; `null` for an optional map is absent;
/// a path id that is not UTF-8 is 400, not 404; an unknown route is 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enums_take_strings_only_and_other_corners() {
    let app = spawn_app().await;
    let key = setup(&app).await;
    let a_type = |channel: serde_json::Value, scenario: serde_json::Value| {
        json!({"audience": "client", "channels": [{"channel": channel, "scenario": scenario}],
               "templates": {"email": {"en": {"subject": "Hi", "body": "Hi"}}}})
    };
    let cases: Vec<(&str, &str, serde_json::Value, StatusCode, &str)> = vec![
        (
            "confirm as an object",
            "/v1/integrations/email",
            json!({"provider": "simulator", "confirm": {"receipt": null}}),
            StatusCode::BAD_REQUEST,
            "confirm",
        ),
        (
            "confirm as an object with another key",
            "/v1/integrations/email",
            json!({"provider": "simulator", "confirm": {"a": 1}}),
            StatusCode::BAD_REQUEST,
            "confirm",
        ),
        (
            "confirm unknown",
            "/v1/integrations/email",
            json!({"provider": "simulator", "confirm": "maybe"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirm",
        ),
        (
            "audience as an object",
            "/v1/notification-types/t",
            json!({"audience": {"client": null}, "channels": [{"channel": "email", "scenario": "always"}]}),
            StatusCode::BAD_REQUEST,
            "audience",
        ),
        (
            "channel as an object",
            "/v1/notification-types/t",
            a_type(json!({"email": null}), json!("always")),
            StatusCode::BAD_REQUEST,
            "channels[0].channel",
        ),
        (
            "channel as an array",
            "/v1/notification-types/t",
            a_type(json!(["email"]), json!("always")),
            StatusCode::BAD_REQUEST,
            "channels[0].channel",
        ),
        (
            "scenario as an object",
            "/v1/notification-types/t",
            a_type(json!("email"), json!({"always": null})),
            StatusCode::BAD_REQUEST,
            "channels[0].scenario",
        ),
        (
            "channel unknown",
            "/v1/notification-types/t",
            a_type(json!("fax"), json!("always")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "channels[0].channel",
        ),
        (
            "platform as an object",
            "/v1/clients/bob",
            json!({"name": "Bob", "apps": [{"app": "aunio", "platform": {"ios": null}, "token": "t"}]}),
            StatusCode::BAD_REQUEST,
            "apps[0].platform",
        ),
        (
            "opt_out entry as an object",
            "/v1/clients/bob",
            json!({"name": "Bob", "opt_out": [{"sms": null}]}),
            StatusCode::BAD_REQUEST,
            "opt_out[0]",
        ),
        (
            "opt_out entry unknown",
            "/v1/clients/bob",
            json!({"name": "Bob", "opt_out": ["fax"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "opt_out[0]",
        ),
        (
            "an unknown route",
            "/v1/integrations/sms",
            json!({"provider": "simulator", "settings": {"routes": ["carrier_pigeon", "sms"]}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "settings.routes[0]",
        ),
    ];
    for (what, path, body, expected, field) in cases {
        let (status, got) = app.put(path, &key, &body).await;
        assert_error(what, status, &got, expected, Some(field));
    }
    // Nothing of that was stored.
    let (status, _) = app.get("/v1/notification-types/t", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/v1/clients/bob", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `null` for an optional map (a channel's templates, a locale) is absent.
    let (status, got) = app
        .put(
            "/v1/notification-types/t",
            &key,
            &json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
                    "templates": {"email": {"en": {"subject": "Hi", "body": "Hi"}, "de": null},
                                  "sms": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got["templates"],
        json!({"email": {"en": {"subject": "Hi", "body": "Hi"}}})
    );
    let (status, got) = app
        .put(
            "/v1/notification-types/u",
            &key,
            &json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
                    "templates": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");

    // A path id that is not UTF-8 names nothing that could exist: 400.
    for (method, path) in [
        (Method::PUT, "/v1/clients/%FF%FE"),
        (Method::PUT, "/v1/staff/%C3%28"),
        (Method::PUT, "/v1/notification-types/%FF"),
        (Method::GET, "/v1/notifications/%FF"),
    ] {
        let (status, got) = app
            .raw(
                method.clone(),
                path,
                Some(&key),
                JSON,
                br#"{"name": "X"}"#.to_vec(),
            )
            .await;
        assert_error(path, status, &got, StatusCode::BAD_REQUEST, Some("id"));
    }
}
