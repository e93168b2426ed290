//! The cascade as the help article describes it: which channels go out, in
//! which order, and why the others did not.

use crate::helpers::{attempts, of_channel, outcome, reason, seed_data, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const SEED_TYPE: &str = "appointment_reminder";

/// A tenant with simulators everywhere and the seed type.
async fn seeded(app: &TestApp) -> String {
    let key = app.create_tenant("Salon One").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_seed_type(&key, SEED_TYPE).await;
    key
}

async fn trigger_seed(app: &TestApp, key: &str, client: &str) -> String {
    app.trigger(
        key,
        json!({"type": SEED_TYPE, "client": client, "data": seed_data()}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_client_reached_by_email_gets_only_the_email() {
    let app = spawn_app().await;
    let key = seeded(&app).await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550001111", "locale": "en"}),
    )
    .await;

    let id = trigger_seed(&app, &key, "ana").await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(n["type"], SEED_TYPE, "{n:#}");
    let order: Vec<&str> = n["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["email", "aunio", "branded_app", "sms"],
        "channel order: {n:#}"
    );
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "unreachable", "{n:#}");
    assert!(
        reason(&n, "aunio").contains("no aunio app"),
        "aunio reason: {n:#}"
    );
    for fallback in ["branded_app", "sms"] {
        assert_eq!(outcome(&n, fallback), "skipped", "{fallback}: {n:#}");
        let r = reason(&n, fallback);
        assert!(
            r.contains("email") && r.contains("delivered"),
            "{fallback} reason: {n:#}"
        );
        assert!(
            attempts(&n, fallback).is_empty(),
            "{fallback} attempts: {n:#}"
        );
    }
    let email_attempts = attempts(&n, "email");
    assert_eq!(email_attempts.len(), 1, "{n:#}");
    assert_eq!(email_attempts[0]["to"], "ana@example.com", "{n:#}");

    let outbox = app.outbox(&key, &id).await;
    assert_eq!(outbox.len(), 1, "only the e-mail goes out: {outbox:#?}");
    let m = &outbox[0];
    assert_eq!(m["channel"], "email", "{m:#}");
    assert_eq!(m["notification_id"], id.as_str(), "{m:#}");
    assert_eq!(m["to"], "ana@example.com", "{m:#}");
    assert_eq!(m["subject"], "Your appointment at 10:00", "{m:#}");
    assert_eq!(m["body"], "Hello Ana, see you at 10:00.", "{m:#}");
    assert_eq!(m["requests"], 1, "{m:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_failing_email_falls_back_to_the_branded_app_not_sms() {
    let app = spawn_app().await;
    let key = seeded(&app).await;
    app.simulator(
        &key,
        "email",
        json!({"outcomes": {"bea@example.com": "rejected"}}),
    )
    .await;
    app.put_client(
        &key,
        "bea",
        json!({"name": "Bea", "email": "bea@example.com", "phone": "+15550002222",
               "apps": [{"app": "branded_app", "token": "tok-bea-branded", "platform": "ios"}]}),
    )
    .await;

    let id = trigger_seed(&app, &key, "bea").await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "failed", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "unreachable", "{n:#}");
    assert_eq!(outcome(&n, "branded_app"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");
    let r = reason(&n, "sms");
    assert!(
        r.contains("branded_app") || r.contains("branded app"),
        "sms reason: {n:#}"
    );
    assert_eq!(
        attempts(&n, "branded_app")[0]["to"],
        "tok-bea-branded",
        "{n:#}"
    );
    let failed_email = &attempts(&n, "email")[0];
    assert!(
        failed_email["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "the refused attempt says why: {n:#}"
    );
    assert!(reason(&n, "email").contains("reject"), "{n:#}");

    let outbox = app.outbox(&key, &id).await;
    assert_eq!(of_channel(&outbox, "email").len(), 1, "{outbox:#?}");
    assert_eq!(
        of_channel(&outbox, "email")[0]["outcome"],
        "rejected",
        "{outbox:#?}"
    );
    let branded = of_channel(&outbox, "branded_app");
    assert_eq!(branded.len(), 1, "{outbox:#?}");
    assert_eq!(branded[0]["title"], "Salon One: 10:00", "{outbox:#?}");
    assert_eq!(branded[0]["body"], "Ana, see you at 10:00.", "{outbox:#?}");
    assert!(of_channel(&outbox, "sms").is_empty(), "no SMS: {outbox:#?}");
    assert!(
        of_channel(&outbox, "aunio").is_empty(),
        "no Aunio: {outbox:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_client_with_only_a_phone_gets_the_sms() {
    let app = spawn_app().await;
    let key = seeded(&app).await;
    app.put_client(&key, "cid", json!({"name": "Cid", "phone": "+15550003333"}))
        .await;

    let id = trigger_seed(&app, &key, "cid").await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "unreachable", "{n:#}");
    assert!(reason(&n, "email").contains("no e-mail address"), "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "unreachable", "{n:#}");
    assert!(reason(&n, "aunio").contains("no aunio app"), "{n:#}");
    assert_eq!(outcome(&n, "branded_app"), "unreachable", "{n:#}");
    assert!(
        reason(&n, "branded_app").contains("no branded app installed"),
        "{n:#}"
    );
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let sms = attempts(&n, "sms");
    assert_eq!(sms.len(), 1, "{n:#}");
    assert_eq!(sms[0]["to"], "+15550003333", "{n:#}");
    let receipts = sms[0]["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 1, "one delivery receipt: {n:#}");
    assert_eq!(receipts[0]["status"], "delivered", "{n:#}");
    assert_eq!(receipts[0]["late"], false, "{n:#}");

    let outbox = app.outbox(&key, &id).await;
    assert_eq!(outbox.len(), 1, "only the SMS goes out: {outbox:#?}");
    assert_eq!(outbox[0]["channel"], "sms", "{outbox:#?}");
    assert_eq!(outbox[0]["to"], "+15550003333", "{outbox:#?}");
    assert_eq!(
        outbox[0]["body"], "Ana: appointment at 10:00",
        "{outbox:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_everything_fails() {
    let app = spawn_app().await;
    let key = seeded(&app).await;
    app.simulator(&key, "email", json!({"default": "rejected"}))
        .await;
    app.simulator(&key, "aunio", json!({"default": "rejected"}))
        .await;
    app.simulator(
        &key,
        "branded_app",
        json!({"outcomes": {"tok-dan-branded": "rejected"}}),
    )
    .await;
    app.integration(
        &key,
        "sms",
        json!({"provider": "simulator", "settings": {"default": "failed", "receipt_ms": 20}, "confirm": "receipt"}),
    )
    .await;
    app.put_client(
        &key,
        "dan",
        json!({"name": "Dan", "email": "dan@example.com", "phone": "+15550004444",
               "apps": [{"app": "aunio", "token": "tok-dan-aunio"},
                        {"app": "branded_app", "token": "tok-dan-branded"}]}),
    )
    .await;

    let id = trigger_seed(&app, &key, "dan").await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "failed", "{n:#}");
    for ch in n["channels"].as_array().unwrap() {
        let o = ch["outcome"].as_str().unwrap();
        assert!(
            o == "failed" || o == "unreachable",
            "every channel failed or unreachable: {n:#}"
        );
        assert!(
            ch["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{n:#}"
        );
    }
    for name in ["email", "aunio", "branded_app", "sms"] {
        assert_eq!(outcome(&n, name), "failed", "{name}: {n:#}");
        assert_eq!(attempts(&n, name).len(), 1, "{name}: {n:#}");
    }
    let sms_receipts = attempts(&n, "sms")[0]["receipts"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        sms_receipts.iter().any(|r| r["status"] == "failed"),
        "the SMS failure receipt is shown: {n:#}"
    );
    let outbox = app.outbox(&key, &id).await;
    assert_eq!(outbox.len(), 4, "one message per channel: {outbox:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_admin_app_drops_an_unregistered_token_and_delivers_to_the_other() {
    let app = spawn_app().await;
    let key = app.create_tenant("Clinic").await.api_key;
    app.simulators_everywhere(&key).await;
    app.simulator(
        &key,
        "admin_app",
        json!({"outcomes": {"tok-old-tablet": "unregistered"}}),
    )
    .await;
    app.put_type(
        &key,
        "shift_changed",
        json!({"audience": "staff",
               "channels": [{"channel": "email", "scenario": "always"},
                            {"channel": "admin_app", "scenario": "always"},
                            {"channel": "sms", "scenario": "fallback"}],
               "templates": {"admin_app": {"en": {"title": "Shift", "body": "{{ recipient.name }}, your shift is at {{ time }}"}}}}),
    )
    .await;
    app.put_staff(
        &key,
        "eva",
        json!({"name": "Eva", "phone": "+15550005555",
               "apps": [{"app": "admin_app", "token": "tok-phone", "platform": "android"},
                        {"app": "admin_app", "token": "tok-old-tablet", "platform": "ios"}]}),
    )
    .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "shift_changed", "staff": "eva", "data": {"time": "08:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "unreachable", "{n:#}");
    assert_eq!(outcome(&n, "admin_app"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");
    let mut to: Vec<&str> = attempts(&n, "admin_app")
        .iter()
        .map(|a| a["to"].as_str().unwrap())
        .collect();
    to.sort();
    assert_eq!(
        to,
        ["tok-old-tablet", "tok-phone"],
        "one attempt per device: {n:#}"
    );

    let outbox = app.outbox(&key, &id).await;
    let pushes = of_channel(&outbox, "admin_app");
    assert_eq!(pushes.len(), 2, "{outbox:#?}");
    assert!(
        pushes
            .iter()
            .all(|m| m["body"] == "Eva, your shift is at 08:00"),
        "{outbox:#?}"
    );

    // The channel is delivered as soon as one device is; the other
    // device's refusal may be recorded a moment later.
    let started = std::time::Instant::now();
    loop {
        let (status, eva) = app.get("/v1/staff/eva", &key).await;
        assert_eq!(status, StatusCode::OK, "{eva}");
        let tokens: Vec<String> = eva["apps"]
            .as_array()
            .expect("apps")
            .iter()
            .map(|a| a["token"].as_str().unwrap_or_default().to_string())
            .collect();
        if tokens == ["tok-phone"] {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the unregistered token is removed: {eva:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The next notification goes to the remaining device only.
    let id2 = app
        .trigger(
            &key,
            json!({"type": "shift_changed", "staff": "eva", "data": {"time": "09:00"}}),
        )
        .await;
    let n2 = app.wait_final(&key, &id2).await;
    assert_eq!(outcome(&n2, "admin_app"), "delivered", "{n2:#}");
    let a2 = attempts(&n2, "admin_app");
    assert_eq!(a2.len(), 1, "{n2:#}");
    assert_eq!(a2[0]["to"], "tok-phone", "{n2:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_sms_goes_out_even_when_email_delivered() {
    let app = spawn_app().await;
    let key = app.create_tenant("Studio").await.api_key;
    app.simulators_everywhere(&key).await;
    app.put_type(
        &key,
        "booking_confirmed",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"},
                            {"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "Booked for {{ time }}"}}}}),
    )
    .await;
    app.put_client(
        &key,
        "fay",
        json!({"email": "fay@example.com", "phone": "+15550006666"}),
    )
    .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "booking_confirmed", "client": "fay", "data": {"time": "11:30"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let outbox = app.outbox(&key, &id).await;
    assert_eq!(of_channel(&outbox, "email").len(), 1, "{outbox:#?}");
    let sms = of_channel(&outbox, "sms");
    assert_eq!(sms.len(), 1, "{outbox:#?}");
    assert_eq!(sms[0]["body"], "Booked for 11:30", "{outbox:#?}");
}

fn fallback_type(fallback_when: Option<&str>) -> Value {
    let mut t = json!({"audience": "client",
           "channels": [{"channel": "email", "scenario": "always"},
                        {"channel": "aunio", "scenario": "always"},
                        {"channel": "sms", "scenario": "fallback"}]});
    if let Some(w) = fallback_when {
        t["fallback_when"] = w.into();
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_when_any_failed_sends_after_a_partial_failure_none_delivered_does_not() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon Two").await.api_key;
    app.simulators_everywhere(&key).await;
    app.simulator(
        &key,
        "aunio",
        json!({"outcomes": {"tok-gus-aunio": "rejected"}}),
    )
    .await;
    app.put_type(&key, "any_failed", fallback_type(Some("any_failed")))
        .await;
    app.put_type(&key, "none_delivered", fallback_type(None))
        .await;
    app.put_client(
        &key,
        "gus",
        json!({"email": "gus@example.com", "phone": "+15550007777",
               "apps": [{"app": "aunio", "token": "tok-gus-aunio", "platform": "android"}]}),
    )
    .await;

    let any = app
        .trigger(
            &key,
            json!({"type": "any_failed", "client": "gus", "data": {}}),
        )
        .await;
    let n = app.wait_final(&key, &any).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "failed", "{n:#}");
    assert_eq!(
        outcome(&n, "sms"),
        "delivered",
        "any_failed: aunio failed, so the SMS goes: {n:#}"
    );
    assert_eq!(of_channel(&app.outbox(&key, &any).await, "sms").len(), 1);

    let none = app
        .trigger(
            &key,
            json!({"type": "none_delivered", "client": "gus", "data": {}}),
        )
        .await;
    let n = app.wait_final(&key, &none).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "failed", "{n:#}");
    assert_eq!(
        outcome(&n, "sms"),
        "skipped",
        "none_delivered: e-mail delivered, so no SMS: {n:#}"
    );
    assert!(reason(&n, "sms").contains("email"), "{n:#}");
    assert!(of_channel(&app.outbox(&key, &none).await, "sms").is_empty());
}
