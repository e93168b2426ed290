//! Notifications: confirmation windows, messenger routes, retries,
//! idempotent triggers, the preview, the log, health and metrics.

use crate::helpers::{
    assert_error, attempts, channel, contains_text, of_channel, outcome, reason, seed_data,
    spawn_app, FINAL_BOUND,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;

fn sms_only() -> Value {
    json!({"audience": "client", "channels": [{"channel": "sms", "scenario": "always"}],
           "templates": {"sms": {"en": {"body": "See you at {{ time }}"}}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_without_receipt_fails_at_the_end_of_its_window_and_a_late_receipt_is_recorded() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.integration(
        &key,
        "sms",
        json!({"provider": "simulator",
               "settings": {"outcomes": {"+15550010001": "silent", "+15550010002": "late"}},
               "confirm": "receipt", "window_s": 1}),
    )
    .await;
    app.put_type(&key, "reminder", sms_only()).await;
    app.put_client(&key, "silent", json!({"phone": "+15550010001"}))
        .await;
    app.put_client(&key, "late", json!({"phone": "+15550010002"}))
        .await;

    let silent = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "silent", "data": {"time": "10:00"}}),
        )
        .await;
    let late = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "late", "data": {"time": "10:00"}}),
        )
        .await;

    let n = app.wait_final(&key, &silent).await;
    assert_eq!(n["status"], "failed", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "failed", "{n:#}");
    assert!(reason(&n, "sms").contains("no receipt within 1 s"), "{n:#}");

    let n = app.wait_final(&key, &late).await;
    assert_eq!(n["status"], "failed", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "failed", "{n:#}");
    assert!(reason(&n, "sms").contains("no receipt within 1 s"), "{n:#}");

    // The receipt comes a second after the window closed: recorded, marked
    // late, and the outcome stays failed.
    let start = Instant::now();
    let n = loop {
        let n = app.notification(&key, &late).await;
        let receipts = attempts(&n, "sms")[0]["receipts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !receipts.is_empty() {
            break n;
        }
        assert!(
            start.elapsed() < FINAL_BOUND,
            "the late receipt never showed: {n:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let receipt = &attempts(&n, "sms")[0]["receipts"][0];
    assert_eq!(receipt["late"], true, "{n:#}");
    assert_eq!(receipt["status"], "delivered", "{n:#}");
    assert_eq!(
        n["status"], "failed",
        "a late receipt does not reopen the cascade: {n:#}"
    );
    assert_eq!(outcome(&n, "sms"), "failed", "{n:#}");

    let n = app.notification(&key, &silent).await;
    assert!(
        attempts(&n, "sms")[0]["receipts"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "a silent message has no receipt: {n:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messenger_route_unregistered_falls_through_to_sms() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.integration(
        &key,
        "sms",
        json!({"provider": "simulator",
               "settings": {"routes": ["whatsapp", "sms"], "receipt_ms": 20,
                            "outcomes": {"whatsapp:+15550020001": "unregistered"}},
               "confirm": "receipt"}),
    )
    .await;
    app.put_type(&key, "reminder", sms_only()).await;
    app.put_client(&key, "no-wa", json!({"phone": "+15550020001"}))
        .await;
    app.put_client(&key, "wa", json!({"phone": "+15550020002"}))
        .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "no-wa", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let routes: Vec<&str> = attempts(&n, "sms")
        .iter()
        .map(|a| a["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["whatsapp", "sms"], "both routes in the log: {n:#}");
    assert!(
        attempts(&n, "sms")
            .iter()
            .all(|a| a["to"] == "+15550020001"),
        "{n:#}"
    );
    let outbox = app.outbox(&key, &id).await;
    let sent: Vec<(&str, &str)> = outbox
        .iter()
        .map(|m| (m["route"].as_str().unwrap(), m["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sent,
        [("whatsapp", "unregistered"), ("sms", "delivered")],
        "{outbox:#?}"
    );

    // The route-prefixed key applies to WhatsApp for that number only.
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "wa", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let routes: Vec<&str> = attempts(&n, "sms")
        .iter()
        .map(|a| a["route"].as_str().unwrap())
        .collect();
    assert_eq!(routes, ["whatsapp"], "delivered on the first route: {n:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_with_the_same_key() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulator(
        &key,
        "email",
        json!({"outcomes": {"hal@example.com": "transient:2"}}),
    )
    .await;
    app.put_type(
        &key,
        "receipt",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}),
    )
    .await;
    app.put_client(&key, "hal", json!({"email": "hal@example.com"}))
        .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "receipt", "client": "hal", "data": {"total": "42 EUR"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    let a = attempts(&n, "email");
    assert_eq!(a.len(), 1, "retries are the same attempt: {n:#}");
    assert_eq!(a[0]["requests"], 3, "{n:#}");

    let outbox = app.outbox(&key, &id).await;
    assert_eq!(outbox.len(), 1, "one message: {outbox:#?}");
    assert_eq!(outbox[0]["requests"], 3, "{outbox:#?}");
    assert!(
        contains_text(&outbox[0], "42 EUR"),
        "the default rendering carries the data: {outbox:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_trigger_with_the_same_key_creates_nothing() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "appointment_reminder").await;
    app.put_client(&key, "ana", json!({"email": "ana@example.com"}))
        .await;

    let body = json!({"type": "appointment_reminder", "client": "ana", "data": seed_data(),
                      "idempotency_key": "booking-17-reminder"});
    let id = app.trigger(&key, body.clone()).await;
    app.wait_final(&key, &id).await;
    let before = app.outbox_all(&key).await;
    assert_eq!(before.len(), 1, "{before:#?}");

    let (status, again) = app.post("/v1/notifications", &key, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], id.as_str(), "{again}");
    let (list, _) = app.log(&key, "").await;
    assert_eq!(list.len(), 1, "nothing new in the log: {list:#?}");
    assert_eq!(
        app.outbox_all(&key).await.len(),
        before.len(),
        "nothing new sent"
    );

    let mut other = body.clone();
    other["data"]["time"] = "11:00".into();
    let (status, conflict) = app.post("/v1/notifications", &key, &other).await;
    assert_error(
        "same key, other body",
        status,
        &conflict,
        StatusCode::CONFLICT,
        None,
    );
    let (list, _) = app.log(&key, "").await;
    assert_eq!(list.len(), 1, "nothing new in the log: {list:#?}");

    // Another key is another notification.
    let mut fresh = body.clone();
    fresh["idempotency_key"] = "booking-18-reminder".into();
    let id2 = app.trigger(&key, fresh).await;
    assert_ne!(id2, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_the_plan_and_creates_nothing() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, "appointment_reminder").await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550030001"}),
    )
    .await;
    let body = json!({"type": "appointment_reminder", "client": "ana", "data": seed_data(),
                      "idempotency_key": "preview-then-send"});

    let (status, p) = app.post("/v1/notifications/preview", &key, &body).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let order: Vec<&str> = p["channels"]
        .as_array()
        .unwrap_or_else(|| panic!("no channels in the preview: {p:#}"))
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["email", "aunio", "branded_app", "sms"], "{p:#}");
    for c in p["channels"].as_array().unwrap() {
        assert!(
            c["action"].as_str().is_some_and(|a| !a.is_empty()),
            "action: {p:#}"
        );
        assert!(
            c["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "reason: {p:#}"
        );
    }
    let email = channel(&p, "email");
    assert!(email["action"].as_str().unwrap().contains("send"), "{p:#}");
    assert!(contains_text(email, "ana@example.com"), "to whom: {p:#}");
    assert!(
        contains_text(email, "Your appointment at 10:00"),
        "rendered subject: {p:#}"
    );
    assert!(
        contains_text(email, "Hello Ana, see you at 10:00."),
        "rendered body: {p:#}"
    );
    let aunio = channel(&p, "aunio");
    assert_eq!(aunio["action"], "unreachable", "{p:#}");
    assert!(reason(&p, "aunio").contains("no aunio app"), "{p:#}");
    let sms = channel(&p, "sms");
    assert_ne!(
        sms["action"], "send",
        "a fallback SMS is conditional: {p:#}"
    );
    assert_ne!(sms["action"], "unreachable", "{p:#}");
    assert!(
        contains_text(sms, "Ana: appointment at 10:00"),
        "rendered SMS: {p:#}"
    );

    let (list, _) = app.log(&key, "").await;
    assert!(list.is_empty(), "a preview stores nothing: {list:#?}");
    assert!(
        app.outbox_all(&key).await.is_empty(),
        "a preview sends nothing"
    );

    // Nor does it use up the idempotency key.
    let (status, created) = app.post("/v1/notifications", &key, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_newest_first_filters_and_pages() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulator(
        &key,
        "email",
        json!({"outcomes": {"bad@example.com": "rejected"}}),
    )
    .await;
    let email_only =
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]});
    app.put_type(&key, "log_a", email_only.clone()).await;
    app.put_type(&key, "log_b", email_only).await;
    app.put_client(&key, "good", json!({"email": "good@example.com"}))
        .await;
    app.put_client(&key, "bad", json!({"email": "bad@example.com"}))
        .await;

    let plan = [
        ("log_a", "good"),
        ("log_a", "bad"),
        ("log_a", "good"),
        ("log_b", "good"),
        ("log_b", "bad"),
        ("log_a", "good"),
        ("log_b", "good"),
    ];
    let mut created: Vec<(String, &str, &str)> = Vec::new();
    for (t, c) in plan {
        let id = app
            .trigger(&key, json!({"type": t, "client": c, "data": {}}))
            .await;
        let n = app.wait_final(&key, &id).await;
        let status = if c == "bad" { "failed" } else { "delivered" };
        assert_eq!(n["status"], status, "{n:#}");
        created.push((id, t, status));
    }
    let newest_first: Vec<String> = created.iter().rev().map(|(id, _, _)| id.clone()).collect();
    let ids = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };

    let (all, next) = app.log(&key, "").await;
    assert_eq!(ids(&all), newest_first, "newest first: {all:#?}");
    assert_eq!(next, None, "one page only");
    for n in &all {
        assert!(
            n["type"].is_string() && n["status"].is_string() && !n["created_at"].is_null(),
            "{n:#}"
        );
    }

    let (failed, _) = app.log(&key, "status=failed").await;
    let want: Vec<String> = created
        .iter()
        .rev()
        .filter(|(_, _, s)| *s == "failed")
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(ids(&failed), want, "status filter: {failed:#?}");

    let (delivered, _) = app.log(&key, "status=delivered").await;
    assert_eq!(delivered.len(), 5, "{delivered:#?}");
    assert!(delivered.iter().all(|n| n["status"] == "delivered"));

    let (b, _) = app.log(&key, "type=log_b").await;
    let want: Vec<String> = created
        .iter()
        .rev()
        .filter(|(_, t, _)| *t == "log_b")
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(ids(&b), want, "type filter: {b:#?}");

    let (both, _) = app.log(&key, "type=log_a&status=failed").await;
    assert_eq!(ids(&both), [created[1].0.clone()], "{both:#?}");

    // Pages of 3, following `next`.
    let mut paged: Vec<String> = Vec::new();
    let mut query = "limit=3".to_string();
    let mut pages = 0;
    loop {
        let (page, next) = app.log(&key, &query).await;
        assert!(page.len() <= 3, "{page:#?}");
        pages += 1;
        assert!(pages <= 4, "paging does not end");
        paged.extend(ids(&page));
        match next {
            Some(cursor) if !page.is_empty() => query = format!("limit=3&before={cursor}"),
            _ => break,
        }
    }
    assert_eq!(paged, newest_first, "pages cover the log once, in order");

    // Paging inside a filter.
    let (page1, next) = app.log(&key, "type=log_a&limit=2").await;
    let cursor = next.expect("a next cursor after a full filtered page");
    let (page2, _) = app
        .log(&key, &format!("type=log_a&limit=2&before={cursor}"))
        .await;
    let a_ids: Vec<String> = created
        .iter()
        .rev()
        .filter(|(_, t, _)| *t == "log_a")
        .map(|(id, _, _)| id.clone())
        .collect();
    let mut got = ids(&page1);
    got.extend(ids(&page2));
    assert_eq!(got, a_ids, "filtered pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_need_no_key() {
    let app = spawn_app().await;
    let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);

    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_type(
        &key,
        "ping",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}),
    )
    .await;
    app.put_client(&key, "ana", json!({"email": "ana@example.com"}))
        .await;
    let id = app
        .trigger(&key, json!({"type": "ping", "client": "ana"}))
        .await;
    app.wait_final(&key, &id).await;

    let resp = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics answer");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("metrics text");
    let accepted = text
        .lines()
        .find(|l| l.starts_with("herald_notifications_accepted_total"))
        .unwrap_or_else(|| panic!("no herald_notifications_accepted_total in:\n{text}"));
    let value: f64 = accepted
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("not a sample line: {accepted}"));
    assert!(value >= 1.0, "one notification was accepted: {accepted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_attempt_is_listed_once_per_device() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_type(
        &key,
        "promo",
        json!({"audience": "client",
               "channels": [{"channel": "aunio", "scenario": "always"},
                            {"channel": "branded_app", "scenario": "always"}]}),
    )
    .await;
    app.put_client(
        &key,
        "ivy",
        json!({"apps": [{"app": "aunio", "token": "tok-a1"}, {"app": "aunio", "token": "tok-a2"},
                        {"app": "branded_app", "token": "tok-b1"}]}),
    )
    .await;
    let id = app
        .trigger(&key, json!({"type": "promo", "client": "ivy", "data": {}}))
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "branded_app"), "delivered", "{n:#}");
    let to: BTreeSet<&str> = attempts(&n, "aunio")
        .iter()
        .map(|a| a["to"].as_str().unwrap())
        .collect();
    assert_eq!(to, BTreeSet::from(["tok-a1", "tok-a2"]), "{n:#}");
    let outbox = app.outbox(&key, &id).await;
    assert_eq!(of_channel(&outbox, "aunio").len(), 2, "{outbox:#?}");
    assert_eq!(of_channel(&outbox, "branded_app").len(), 1, "{outbox:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_counts_as_absent() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.integration(
        &key,
        "email",
        json!({"provider": "simulator", "settings": null, "confirm": null, "window_s": null}),
    )
    .await;
    let (_, email) = app.get("/v1/integrations/email", &key).await;
    assert_eq!(email["confirm"], "accepted", "{email}");
    assert_eq!(email["window_s"], 300, "the default window: {email}");
    app.put_type(
        &key,
        "plain",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
               "fallback_when": null, "default_locale": null, "templates": null}),
    )
    .await;
    let (_, t) = app.get("/v1/notification-types/plain", &key).await;
    assert_eq!(t["fallback_when"], "none_delivered", "{t}");
    assert_eq!(t["default_locale"], "en", "{t}");
    app.put_client(
        &key,
        "ana",
        json!({"email": "ana@example.com", "phone": null}),
    )
    .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "plain", "client": "ana", "staff": null, "data": null, "idempotency_key": null}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_after_acceptance_is_shown_but_does_not_reopen_the_cascade() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulators_everywhere(&key).await;
    app.simulator(
        &key,
        "email",
        json!({"outcomes": {"bounce@example.com": "failed"}, "receipt_ms": 50}),
    )
    .await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"}, {"channel": "sms", "scenario": "fallback"}]}),
    )
    .await;
    app.put_client(
        &key,
        "kim",
        json!({"email": "bounce@example.com", "phone": "+15550060001"}),
    )
    .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "kim", "data": {}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(
        n["status"], "delivered",
        "accepted counts as delivered for e-mail: {n:#}"
    );
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");

    let start = Instant::now();
    let n = loop {
        let n = app.notification(&key, &id).await;
        if attempts(&n, "email")[0]["receipts"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            break n;
        }
        assert!(
            start.elapsed() < FINAL_BOUND,
            "the bounce never showed: {n:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        attempts(&n, "email")[0]["receipts"][0]["status"],
        "failed",
        "{n:#}"
    );
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");
    assert!(of_channel(&app.outbox(&key, &id).await, "sms").is_empty());
}
