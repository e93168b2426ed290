//! A chain of providers on the `sms` channel, one per route (API.md
//! "Messenger then SMS"): WhatsApp's Cloud API (the local peer of
//! `whatsapp.rs`, which checks Meta's documented request shape and signs
//! its status webhooks as Meta documents) first, then SMS over SMPP to a
//! real SMSC (the npm `smpp` package of `smpp.rs`). Each route has its own
//! settings, secrets, confirmation rule and window.

use super::smpp::{Peer as Smsc, PASSWORD};
use super::whatsapp::{
    meta_signature, status_notification, Peer as Cloud, APP_SECRET, NOT_ON_WHATSAPP, TOKEN,
    VERIFY_TOKEN,
};
use crate::helpers::{assert_error, attempts, outcome, reason, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// The chain as a business sets it: WhatsApp with a short window of its
/// own (so "silent" is quick to see), then SMS confirmed by receipt.
fn chain(cloud: &Cloud, smsc: &Smsc, whatsapp_window_s: u32) -> Value {
    json!({"routes": [
        {"route": "whatsapp", "provider": "whatsapp", "settings": cloud.settings(),
         "confirm": "receipt", "window_s": whatsapp_window_s},
        {"route": "sms", "provider": "smpp", "settings": smsc.settings(),
         "confirm": "receipt", "window_s": 60}
    ]})
}

async fn setup(cloud: &Cloud, smsc: &Smsc, whatsapp_window_s: u32) -> (TestApp, String) {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(&key, "sms", chain(cloud, smsc, whatsapp_window_s))
        .await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "At {{ time }}"}}}}),
    )
    .await;
    (app, key)
}

async fn remind(app: &TestApp, key: &str, client: &str, phone: &str) -> Value {
    app.put_client(key, client, json!({"name": "Ana", "phone": phone}))
        .await;
    let id = app
        .trigger(
            key,
            json!({"type": "reminder", "client": client, "data": {"time": "10:00"}}),
        )
        .await;
    app.wait_final(key, &id).await
}

/// A 422 naming the rule and the field.
fn refused(status: StatusCode, v: &Value, code: &str, field: &str) {
    assert_error(
        code,
        status,
        v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(field),
    );
    assert_eq!(v["error"]["code"], code, "{v}");
}

fn route_of(a: &Value) -> &str {
    a["route"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_get_shows_each_route_with_its_secrets_set_and_its_own_webhook() {
    let Some(smsc) = Smsc::start(json!({})) else {
        return;
    };
    let cloud = Cloud::start().await;
    let (app, key) = setup(&cloud, &smsc, 30).await;
    let (status, got) = app.get("/v1/integrations/sms", &key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let text = got.to_string();
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "GET shows a secret: {got:#}");
    }
    assert_eq!(got["provider"], "chain", "{got:#}");
    let routes = got["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), 2, "{got:#}");
    assert_eq!(
        (
            &routes[0]["route"],
            &routes[0]["provider"],
            &routes[0]["window_s"]
        ),
        (&json!("whatsapp"), &json!("whatsapp"), &json!(30))
    );
    assert_eq!(routes[0]["settings"]["access_token"], "set", "{got:#}");
    assert_eq!(routes[1]["settings"]["password"], "set", "{got:#}");
    let hook = routes[0]["webhook_url"]
        .as_str()
        .expect("a webhook for WhatsApp");
    assert!(hook.ends_with(".whatsapp"), "{hook}");
    assert!(
        routes[1].get("webhook_url").is_none(),
        "SMPP has no webhook"
    );

    // The route's own webhook answers Meta's verification handshake.
    let r = reqwest::get(format!(
        "{hook}?hub.mode=subscribe&hub.challenge=42&hub.verify_token={VERIFY_TOKEN}"
    ))
    .await
    .expect("answers");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap_or_default(), "42");
    // A route that is not in the chain has no webhook.
    let r = reqwest::get(hook.replace(".whatsapp", ".viber"))
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 404);

    // The routes sent back as the GET shows them ("set" for each secret)
    // keep every secret; so does a route that leaves them out. It still sends.
    let mut routes = got["routes"].clone();
    for r in routes.as_array_mut().expect("routes") {
        r.as_object_mut().map(|r| r.remove("webhook_url"));
    }
    routes[1]["settings"]
        .as_object_mut()
        .map(|s| s.remove("password"));
    let (status, put) = app
        .put("/v1/integrations/sms", &key, &json!({"routes": routes}))
        .await;
    assert_eq!(status, StatusCode::OK, "{put:#}");
    let n = remind(&app, &key, "ana", &format!("+{NOT_ON_WHATSAPP}")).await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_errors_name_the_route_and_field() {
    let Some(smsc) = Smsc::start(json!({})) else {
        return;
    };
    let cloud = Cloud::start().await;
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    let put = |channel: &'static str, body: Value| {
        let app = &app;
        let key = key.clone();
        async move {
            app.put(&format!("/v1/integrations/{channel}"), &key, &body)
                .await
        }
    };
    let good = chain(&cloud, &smsc, 30);

    let mut b = good.clone();
    b["routes"][1]["route"] = json!("whatsapp");
    let (s, v) = put("sms", b).await;
    refused(s, &v, "duplicate_route", "routes[1].route");

    let mut b = good.clone();
    b["routes"][1]["route"] = json!("viber");
    let (s, v) = put("sms", b).await;
    refused(s, &v, "route_not_offered", "routes[1].route");

    let mut b = good.clone();
    b["routes"][1]["provider"] = json!("pigeon");
    let (s, v) = put("sms", b).await;
    refused(s, &v, "unknown_provider", "routes[1].provider");

    let mut b = good.clone();
    b["routes"][0]["settings"]
        .as_object_mut()
        .map(|s| s.remove("phone_number_id"));
    let (s, v) = put("sms", b).await;
    refused(s, &v, "required", "routes[0].settings.phone_number_id");

    let mut b = good.clone();
    b["routes"][0]["window_s"] = json!(0);
    let (s, v) = put("sms", b).await;
    refused(s, &v, "out_of_range", "routes[0].window_s");

    let mut b = good.clone();
    b["provider"] = json!("smpp");
    let (s, v) = put("sms", b).await;
    refused(s, &v, "provider_and_routes", "routes");

    let (s, v) = put("sms", json!({"routes": []})).await;
    refused(s, &v, "wrong_length", "routes");

    let (s, v) = put("email", good.clone()).await;
    refused(s, &v, "chain_not_for_channel", "routes");

    let mut b = good.clone();
    b["routes"][0]["colour"] = json!("green");
    let (s, v) = put("sms", b).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("colour"), "{v}");

    // No error quotes a secret it was given.
    let mut b = good.clone();
    b["routes"][0]["settings"]["access_token"] = json!(987_654_321);
    let (s, v) = put("sms", b).await;
    // A wrong type is a 400, as everywhere in the API.
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["error"]["field"], "routes[0].settings.access_token",
        "{v}"
    );
    assert!(!v.to_string().contains("987654321"), "{v}");
    // Nothing was stored by the refused PUTs.
    let (s, _) = app.get("/v1/integrations/sms", &key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_not_a_whatsapp_user_goes_on_to_sms_and_is_delivered() {
    let Some(smsc) = Smsc::start(json!({})) else {
        return;
    };
    let cloud = Cloud::start().await;
    let (app, key) = setup(&cloud, &smsc, 300).await;
    let n = remind(&app, &key, "ana", &format!("+{NOT_ON_WHATSAPP}")).await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let a = attempts(&n, "sms");
    let routes: Vec<&str> = a.iter().map(route_of).collect();
    assert_eq!(routes, ["whatsapp", "sms"], "{n:#}");
    let why = reason(&n, "sms");
    assert!(why.contains("via sms"), "{why}");
    // One WhatsApp request (a number that is not there is not retried),
    // one submit_sm to the SMSC, with the text as rendered.
    assert_eq!(cloud.sends().len(), 1);
    let submits = smsc.of("submit_sm");
    assert_eq!(submits.len(), 1, "{submits:?}");
    assert_eq!(submits[0]["destination"], NOT_ON_WHATSAPP, "{submits:?}");
    cloud.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_whatsapp_silent_past_its_window_goes_on_to_sms() {
    let Some(smsc) = Smsc::start(json!({})) else {
        return;
    };
    // The Cloud API accepts but never posts a status: WhatsApp is silent.
    let cloud = Cloud::start().await;
    let (app, key) = setup(&cloud, &smsc, 1).await;
    let n = remind(&app, &key, "bea", "+15550001111").await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let a = attempts(&n, "sms");
    let routes: Vec<&str> = a.iter().map(route_of).collect();
    assert_eq!(routes, ["whatsapp", "sms"], "{n:#}");
    let why = reason(&n, "sms");
    assert!(why.contains("via sms"), "{why}");
    assert_eq!(cloud.sends().len(), 1);
    assert_eq!(smsc.of("submit_sm").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_a_late_whatsapp_failure_is_recorded_late_and_nothing_goes_twice() {
    let Some(smsc) = Smsc::start(json!({})) else {
        return;
    };
    let cloud = Cloud::start().await;
    let (app, key) = setup(&cloud, &smsc, 1).await;
    let n = remind(&app, &key, "cai", "+15550003333").await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let id = n["id"].as_str().expect("an id").to_string();
    let wamid = attempts(&n, "sms")
        .iter()
        .find(|a| route_of(a) == "whatsapp")
        .and_then(|a| a["provider_message_id"].as_str())
        .unwrap_or_else(|| panic!("the WhatsApp attempt's message id: {n:#}"))
        .to_string();

    // Now WhatsApp's failure status arrives, after that route's window
    // closed and the SMS was delivered, at the route's own webhook.
    let (_, got) = app.get("/v1/integrations/sms", &key).await;
    let hook = got["routes"][0]["webhook_url"]
        .as_str()
        .expect("the route's webhook")
        .to_string();
    let body = status_notification(
        &wamid,
        "failed",
        "15550003333",
        Some((131026, "Message undeliverable")),
    )
    .to_string();
    let r = reqwest::Client::new()
        .post(&hook)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            meta_signature(APP_SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().await.expect("JSON");
    assert_eq!(answer["recorded"], 1, "{answer}");

    // Recorded, as late; the outcome stands; nothing was sent again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = app.notification(&key, &id).await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let wa = attempts(&n, "sms")
        .iter()
        .find(|a| route_of(a) == "whatsapp")
        .cloned()
        .expect("the WhatsApp attempt");
    let receipts = wa["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), 1, "{wa:#}");
    assert_eq!(receipts[0]["late"], true, "{wa:#}");
    assert_eq!(attempts(&n, "sms").len(), 2, "{n:#}");
    assert_eq!(cloud.sends().len(), 1);
    assert_eq!(smsc.of("submit_sm").len(), 1);
    cloud.assert_no_problems();
}
