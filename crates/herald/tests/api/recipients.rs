//! Clients and staff: what is stored, what is refused, and how opt-outs and
//! locales shape a notification.

use crate::helpers::{assert_error, of_channel, outcome, reason, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_staff_round_trip() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let ana = json!({"name": "Ana", "email": "ana@example.com", "phone": "+351912345678",
                     "locale": "pt-BR", "timezone": "Europe/Lisbon", "opt_out": ["sms"],
                     "apps": [{"app": "aunio", "token": "tok-1", "platform": "ios"},
                              {"app": "aunio", "token": "tok-2", "platform": "android"},
                              {"app": "branded_app", "token": "tok-3"}]});
    app.put_client(&key, "ana", ana.clone()).await;
    let (status, got) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    for field in ["name", "email", "phone", "locale", "timezone", "opt_out"] {
        assert_eq!(got[field], ana[field], "{field}: {got}");
    }
    let tokens: Vec<&str> = got["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["token"].as_str().unwrap())
        .collect();
    assert_eq!(
        tokens,
        ["tok-1", "tok-2", "tok-3"],
        "several devices per app: {got}"
    );

    // Every field but the id may be absent; null counts as absent.
    app.put_client(&key, "bare", json!({})).await;
    app.put_client(
        &key,
        "nulls",
        json!({"name": null, "email": null, "apps": null, "opt_out": null}),
    )
    .await;
    let (status, got) = app.get("/v1/clients/nulls", &key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert!(got["email"].is_null(), "{got}");

    // PUT replaces.
    app.put_client(&key, "ana", json!({"name": "Ana Maria"}))
        .await;
    let (_, got) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(got["name"], "Ana Maria", "{got}");
    assert!(got["email"].is_null(), "a PUT replaces the record: {got}");

    app.put_staff(
        &key,
        "eva",
        json!({"name": "Eva", "email": "eva@example.com",
               "apps": [{"app": "admin_app", "token": "tok-a"}, {"app": "admin_app", "token": "tok-b"}]}),
    )
    .await;
    let (status, eva) = app.get("/v1/staff/eva", &key).await;
    assert_eq!(status, StatusCode::OK, "{eva}");
    assert_eq!(eva["apps"].as_array().unwrap().len(), 2, "{eva}");

    // Clients and staff are separate: eva is not a client.
    let (status, body) = app.get("/v1/clients/eva", &key).await;
    assert_error(
        "staff is not a client",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );
    let (status, body) = app.get("/v1/clients/nobody", &key).await;
    assert_error("unknown client", status, &body, StatusCode::NOT_FOUND, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_recipient_fields_are_named() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let cases = [
        ("clients", json!({"email": "not-an-address"}), "email"),
        ("clients", json!({"email": "ana@"}), "email"),
        ("clients", json!({"phone": "0912345678"}), "phone"),
        ("clients", json!({"phone": "+1 555 000"}), "phone"),
        ("clients", json!({"locale": "english please"}), "locale"),
        (
            "clients",
            json!({"timezone": "Mars/Olympus_Mons"}),
            "timezone",
        ),
        (
            "clients",
            json!({"apps": [{"app": "admin_app", "token": "t"}]}),
            "apps[0].app",
        ),
        (
            "staff",
            json!({"apps": [{"app": "aunio", "token": "t"}]}),
            "apps[0].app",
        ),
        ("clients", json!({"opt_out": ["pigeon"]}), "opt_out"),
        ("clients", json!({"name": "Ana", "colour": "red"}), "colour"),
        ("staff", json!({"email": "eva at example.com"}), "email"),
    ];
    for (kind, body, field) in cases {
        let what = format!("PUT {kind} {body}");
        let (status, resp) = app.put(&format!("/v1/{kind}/x"), &key, &body).await;
        assert_error(&what, status, &resp, StatusCode::UNPROCESSABLE_ENTITY, None);
        let named = resp["error"]["field"].as_str().unwrap_or_default();
        assert!(
            named == field || named.starts_with(&format!("{field}[")),
            "{what}: the error names {field}: {resp}"
        );
    }
    let (status, _) = app.get("/v1/clients/x", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");

    let long = "x".repeat(256);
    let (status, resp) = app
        .put(&format!("/v1/clients/{long}"), &key, &json!({}))
        .await;
    assert!(
        status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::NOT_FOUND,
        "an id over 255 characters is refused: {status} {resp}"
    );
    assert_error("long id", status, &resp, status, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_makes_a_channel_unreachable_and_the_cascade_moves_on() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"}, {"channel": "sms", "scenario": "fallback"}]}),
    )
    .await;
    app.put_client(
        &key,
        "ana",
        json!({"email": "ana@example.com", "phone": "+15550040001", "opt_out": ["email"]}),
    )
    .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "ana", "data": {}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(outcome(&n, "email"), "unreachable", "{n:#}");
    assert!(reason(&n, "email").contains("opted out"), "{n:#}");
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let outbox = app.outbox(&key, &id).await;
    assert!(of_channel(&outbox, "email").is_empty(), "{outbox:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recipients_locale_picks_the_template() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
               "default_locale": "en",
               "templates": {"email": {
                   "en": {"subject": "Reminder", "body": "See you at {{ time }}, {{ recipient.name }}"},
                   "pt": {"subject": "Lembrete", "body": "Até às {{ time }}, {{ recipient.name }}"},
                   "pt-BR": {"subject": "Lembrete BR", "body": "Te vejo às {{ time }}, {{ recipient.name }}"}}}}),
    )
    .await;
    let cases = [
        ("br", Some("pt-BR"), "Lembrete BR", "Te vejo às 9h, Bia"),
        ("pt", Some("pt-PT"), "Lembrete", "Até às 9h, Bia"),
        ("de", Some("de"), "Reminder", "See you at 9h, Bia"),
        ("none", None, "Reminder", "See you at 9h, Bia"),
    ];
    for (id, locale, subject, body) in cases {
        let mut c = json!({"name": "Bia", "email": format!("{id}@example.com")});
        if let Some(l) = locale {
            c["locale"] = l.into();
        }
        app.put_client(&key, id, c).await;
        let nid = app
            .trigger(
                &key,
                json!({"type": "reminder", "client": id, "data": {"time": "9h"}}),
            )
            .await;
        app.wait_final(&key, &nid).await;
        let outbox = app.outbox(&key, &nid).await;
        assert_eq!(outbox.len(), 1, "{outbox:#?}");
        assert_eq!(outbox[0]["subject"], subject, "{id}: {outbox:#?}");
        assert_eq!(outbox[0]["body"], body, "{id}: {outbox:#?}");
    }
}
