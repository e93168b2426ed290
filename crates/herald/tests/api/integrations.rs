//! The provider framework through the API: operator integrations that
//! tenants inherit, test sends, receipt webhooks, removing an integration,
//! and fairness between tenants on a slow provider.

use crate::helpers::{
    assert_error, attempts, outcome, reason, spawn_app, spawn_app_with, ADMIN_TOKEN,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn email_type() -> Value {
    json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_integration_is_inherited_until_a_tenant_sets_its_own() {
    let app = spawn_app().await;
    let a = app.create_tenant("Salon A").await;
    let b = app.create_tenant("Salon B").await;

    // Only the admin token may set the platform's integrations.
    let body = json!({"provider": "simulator", "settings": {"default": "delivered"}});
    let (status, resp) = app
        .put("/v1/operator/integrations/email", &a.api_key, &body)
        .await;
    assert_error("tenant key", status, &resp, StatusCode::FORBIDDEN, None);
    let (status, resp) = app
        .put("/v1/operator/integrations/email", ADMIN_TOKEN, &body)
        .await;
    assert_eq!(status, StatusCode::OK, "{resp}");

    // A new tenant sees it as inherited and can send through it at once.
    let (status, got) = app.get("/v1/integrations/email", &a.api_key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["inherited"], true, "{got}");
    assert_eq!(got["provider"], "simulator", "{got}");
    app.put_type(&a.api_key, "t", email_type()).await;
    app.put_client(&a.api_key, "ana", json!({"email": "ana@example.com"}))
        .await;
    let id = app
        .trigger(&a.api_key, json!({"type": "t", "client": "ana"}))
        .await;
    let n = app.wait_final(&a.api_key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    // The message is the tenant's own: in its outbox, not another's.
    assert_eq!(app.outbox(&a.api_key, &id).await.len(), 1);
    assert!(app.outbox_all(&b.api_key).await.is_empty());

    // The tenant's own PUT overrides it; deleting its own brings it back.
    app.integration(
        &a.api_key,
        "email",
        json!({"provider": "simulator", "settings": {"default": "rejected"}}),
    )
    .await;
    let (_, got) = app.get("/v1/integrations/email", &a.api_key).await;
    assert_eq!(got["inherited"], false, "{got}");
    assert_eq!(got["settings"]["default"], "rejected", "{got}");
    let id = app
        .trigger(&a.api_key, json!({"type": "t", "client": "ana"}))
        .await;
    assert_eq!(app.wait_final(&a.api_key, &id).await["status"], "failed");

    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/integrations/email",
            Some(&a.api_key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = app.get("/v1/integrations/email", &a.api_key).await;
    assert_eq!(got["inherited"], true, "{got}");
    let (status, body) = app
        .call(
            Method::DELETE,
            "/v1/integrations/email",
            Some(&a.api_key),
            None,
        )
        .await;
    assert_error(
        "own deleted twice",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );

    // Without the operator's, the channel has none.
    let (status, _) = app
        .call(
            Method::DELETE,
            "/v1/operator/integrations/email",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/v1/integrations/email", &b.api_key).await;
    assert_error(
        "after operator delete",
        status,
        &body,
        StatusCode::NOT_FOUND,
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_send_reports_the_providers_answer() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    let path = "/v1/integrations/email/test";
    let (status, body) = app.post(path, &key, &json!({"to": "a@example.com"})).await;
    assert_error("no integration", status, &body, StatusCode::NOT_FOUND, None);

    app.simulator(
        &key,
        "email",
        json!({"outcomes": {"bad@example.com": "rejected", "gone@example.com": "unregistered",
                            "busy@example.com": "transient:1"}}),
    )
    .await;
    for (to, result) in [
        ("ok@example.com", "accepted"),
        ("bad@example.com", "permanent"),
        ("gone@example.com", "recipient_invalid"),
        ("busy@example.com", "transient"),
    ] {
        let (status, body) = app.post(path, &key, &json!({ "to": to })).await;
        assert_eq!(status, StatusCode::OK, "{to}: {body}");
        assert_eq!(body["result"], result, "{to}: {body}");
        assert_eq!(
            body["error"].is_null(),
            result == "accepted",
            "{to}: {body}"
        );
        assert_eq!(
            body["message_id"].is_string(),
            result == "accepted",
            "{to}: {body}"
        );
    }
    let (status, body) = app.post(path, &key, &json!({"to": "not an address"})).await;
    assert_error(
        "bad to",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("to"),
    );
    let (status, body) = app.post(path, &key, &json!({})).await;
    assert_error(
        "no to",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("to"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_of_unknown_ids_or_of_providers_without_callbacks_are_404() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.simulator(&key, "email", json!({})).await;
    let (status, body) = app.call(Method::POST, "/v1/hooks/nope", None, None).await;
    assert_error("unknown hook", status, &body, StatusCode::NOT_FOUND, None);
    // The simulator calls back inside Herald, so it shows no webhook URL.
    let (_, got) = app.get("/v1/integrations/email", &key).await;
    assert!(got.get("webhook_url").is_none(), "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_integration_fails_its_channel_and_keeps_the_tokens() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    // Transient errors keep the push attempt waiting for its next try.
    app.integration(
        &key,
        "aunio",
        json!({"provider": "simulator", "settings": {"default": "transient:50"}, "window_s": 600}),
    )
    .await;
    app.put_type(
        &key,
        "t",
        json!({"audience": "client", "channels": [{"channel": "aunio", "scenario": "always"}]}),
    )
    .await;
    app.put_client(
        &key,
        "ana",
        json!({"apps": [{"app": "aunio", "token": "tok-ana", "platform": "ios"}]}),
    )
    .await;
    let id = app
        .trigger(&key, json!({"type": "t", "client": "ana"}))
        .await;
    // Wait for the first (transient) answer, then remove the integration.
    let start = Instant::now();
    loop {
        let n = app.notification(&key, &id).await;
        if attempts(&n, "aunio")
            .first()
            .is_some_and(|a| a["error"].is_string())
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{n:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = app
        .call(Method::DELETE, "/v1/integrations/aunio", Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "failed", "{n:#}");
    assert_eq!(outcome(&n, "aunio"), "failed", "{n:#}");
    assert!(reason(&n, "aunio").contains("integration removed"), "{n:#}");
    let (_, client) = app.get("/v1/clients/ana", &key).await;
    assert_eq!(client["apps"][0]["token"], "tok-ana", "{client}");
}

/// One tenant's backlog on a slow provider does not hold back another
/// tenant's message: each (tenant, channel) has a bound on sends in
/// flight, and the claim skips keys at their bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tenants_backlog_does_not_delay_another_tenant() {
    let app = spawn_app_with(|cfg| {
        cfg.worker.concurrency = 32;
        cfg.worker.per_integration = 4;
    })
    .await;
    let slow = app.create_tenant("Slow").await.api_key;
    let fast = app.create_tenant("Fast").await.api_key;
    app.simulator(&slow, "email", json!({"latency_ms": 500}))
        .await;
    app.simulator(&fast, "email", json!({})).await;
    for key in [&slow, &fast] {
        app.put_type(key, "t", email_type()).await;
        app.put_client(key, "ana", json!({"email": "ana@example.com"}))
            .await;
    }
    const BACKLOG: usize = 80;
    for i in 0..BACKLOG {
        app.trigger(
            &slow,
            json!({"type": "t", "client": "ana", "idempotency_key": format!("k{i}")}),
        )
        .await;
    }
    let id = app
        .trigger(&fast, json!({"type": "t", "client": "ana"}))
        .await;
    let n = app.wait_final(&fast, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    // At 4 sends of 500 ms at a time the slow tenant drains 8 a second; the
    // fast tenant's message went out while most of it was still waiting.
    let (pending, _) = app.log(&slow, "status=pending&limit=1000").await;
    assert!(
        pending.len() >= BACKLOG * 3 / 4,
        "only {} of the slow tenant's {BACKLOG} were still pending",
        pending.len()
    );
}

/// Each SMS attempt shows its encoding and billed segments, and so does the
/// preview, and its cost at the integration's price per segment; a
/// messenger route of the SMS channel is not billed by segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_attempts_and_the_preview_show_encoding_and_segments() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    app.integration(
        &key,
        "sms",
        json!({"provider": "simulator", "confirm": "accepted", "price_per_segment": 0.0075,
               "settings": {"routes": ["whatsapp", "sms"], "outcomes": {"whatsapp:+15550001111": "unregistered"}}}),
    )
    .await;
    let (_, got) = app.get("/v1/integrations/sms", &key).await;
    assert_eq!(got["price_per_segment"], 0.0075, "{got}");
    let (status, body) = app
        .put(
            "/v1/integrations/sms",
            &key,
            &json!({"provider": "simulator", "price_per_segment": -1}),
        )
        .await;
    assert_error(
        "price",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("price_per_segment"),
    );
    app.put_type(
        &key,
        "t",
        json!({"audience": "client", "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "{{ text }}"}}}}),
    )
    .await;
    app.put_client(&key, "ana", json!({"phone": "+15550001111"}))
        .await;
    for (text, encoding, segments) in [
        ("a".repeat(160), "gsm7", 1),
        ("a".repeat(161), "gsm7", 2),
        ("€".repeat(81), "gsm7", 2),
        ("Привет ".repeat(20), "ucs2", 3),
    ] {
        let body = json!({"type": "t", "client": "ana", "data": {"text": text}});
        let (status, preview) = app.post("/v1/notifications/preview", &key, &body).await;
        assert_eq!(status, StatusCode::OK, "{preview}");
        let ch = &preview["channels"][0];
        assert_eq!(
            (ch["encoding"].as_str(), ch["segments"].as_u64()),
            (Some(encoding), Some(segments)),
            "{preview}"
        );
        let id = app.trigger(&key, body).await;
        app.wait_final(&key, &id).await;
        // The simulator's receipt can finish the notification before the
        // send's answer (which carries the cost) is recorded: wait for it.
        let start = Instant::now();
        let n = loop {
            let n = app.notification(&key, &id).await;
            let priced = attempts(&n, "sms")
                .iter()
                .any(|a| a["route"] == "sms" && a["cost"].is_number());
            if priced || start.elapsed() > Duration::from_secs(30) {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let tries = attempts(&n, "sms");
        assert_eq!(tries.len(), 2, "{n:#}");
        let whatsapp = tries.iter().find(|a| a["route"] == "whatsapp").unwrap();
        assert!(whatsapp.get("segments").is_none(), "{n:#}");
        assert!(whatsapp["cost"].is_null(), "{n:#}");
        let sms = tries.iter().find(|a| a["route"] == "sms").unwrap();
        assert_eq!(sms["encoding"], encoding, "{n:#}");
        assert_eq!(sms["segments"], segments, "{n:#}");
        let cost = sms["cost"]
            .as_f64()
            .unwrap_or_else(|| panic!("no cost: {n:#}"));
        assert!(
            (cost - segments as f64 * 0.0075).abs() < 1e-9,
            "{cost}: {n:#}"
        );
    }
}

/// An integration with `max_per_second` has its sends spaced to that rate
/// (a burst is smoothed, nothing refused); the bound is shown and checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_per_second_spaces_an_integrations_sends() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon").await.api_key;
    for bad in [json!(0), json!(20_000), json!(-1)] {
        let (status, body) = app
            .put(
                "/v1/integrations/email",
                &key,
                &json!({"provider": "simulator", "max_per_second": bad}),
            )
            .await;
        assert_error(
            "max_per_second",
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("max_per_second"),
        );
    }
    app.integration(
        &key,
        "email",
        json!({"provider": "simulator", "max_per_second": 5}),
    )
    .await;
    let (_, got) = app.get("/v1/integrations/email", &key).await;
    assert_eq!(got["max_per_second"], 5.0, "{got}");
    app.put_type(&key, "t", email_type()).await;
    app.put_client(&key, "ana", json!({"email": "ana@example.com"}))
        .await;
    const N: usize = 6;
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(
            app.trigger(
                &key,
                json!({"type": "t", "client": "ana", "idempotency_key": format!("k{i}")}),
            )
            .await,
        );
    }
    for id in &ids {
        assert_eq!(app.wait_final(&key, id).await["status"], "delivered");
    }
    let mut at: Vec<chrono::DateTime<chrono::FixedOffset>> = app
        .outbox_all(&key)
        .await
        .iter()
        .map(|m| chrono::DateTime::parse_from_rfc3339(m["received_at"].as_str().unwrap()).unwrap())
        .collect();
    at.sort();
    assert_eq!(at.len(), N);
    // 5 a second: a slot every 200 ms. The outbox stamps a send when the
    // simulator has it, a little after its slot began, and that lag varies
    // on a loaded machine; so no two sends come close together, and six
    // take at least a second in all (slower is allowed, faster is not; a
    // burst would put them all within a few milliseconds).
    for w in at.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!(gap >= 100, "sends {gap} ms apart: {at:?}");
    }
    let span = (at[N - 1] - at[0]).num_milliseconds();
    assert!(span >= 950, "{N} sends within {span} ms: {at:?}");
}
