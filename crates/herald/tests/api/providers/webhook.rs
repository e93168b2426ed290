//! The `webhook` provider against a local gateway that speaks the contract
//! in API.md ("Real providers", the `webhook` row): it recomputes
//! `Herald-Signature` (`t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>`)
//! with its own HMAC, checks `Idempotency-Key` and the body, answers as a
//! gateway would, and posts signed receipts back to the integration's
//! `webhook_url` as `{"message_id", "status", "error"}`.

use crate::helpers::{attempts, outcome, spawn_app, TestApp};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald::providers::tls::Roots;
use herald::providers::webhook::{Webhook, WebhookClient, WebhookSettings};
use herald::providers::{Client, Configure, HookError, HookRequest, SendReply, SendRequest};
use herald_core::{Channel, FieldError, Rendered};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_salon_one_3f9a";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The gateway's own signing, written from the contract (not Herald's code).
fn hmac_hex(secret: &str, t: i64, body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(format!("{t}.").as_bytes());
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hmac_hex(secret, t, body))
}

/// One request the gateway took.
#[derive(Debug, Clone)]
struct Taken {
    idempotency_key: String,
    body: Value,
}

struct GatewayState {
    sends: Mutex<Vec<Taken>>,
    tries: Mutex<HashMap<String, usize>>,
    problems: Mutex<Vec<String>>,
    /// Where receipts go (the integration's `webhook_url`); none: no receipts.
    webhook_url: Mutex<Option<String>>,
    /// HTTP statuses Herald answered the receipts with, in order.
    receipt_answers: Mutex<Vec<(String, u16, Value)>>,
    /// Milliseconds the gateway waits before answering.
    delay_ms: AtomicU64,
    next_id: AtomicUsize,
}

struct Gateway {
    url: String,
    state: Arc<GatewayState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gateway {
    async fn start() -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let state = Arc::new(GatewayState {
            sends: Mutex::new(Vec::new()),
            tries: Mutex::new(HashMap::new()),
            problems: Mutex::new(Vec::new()),
            webhook_url: Mutex::new(None),
            receipt_answers: Mutex::new(Vec::new()),
            delay_ms: AtomicU64::new(0),
            next_id: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/herald", post(gateway_endpoint))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Gateway {
            url: format!("http://{addr}/herald"),
            state,
            task,
        }
    }

    fn settings(&self) -> Value {
        json!({"url": self.url, "secret": SECRET, "timeout_ms": 5000})
    }

    fn sends(&self) -> Vec<Taken> {
        lock(&self.state.sends).clone()
    }

    fn assert_no_problems(&self) {
        let p = lock(&self.state.problems).clone();
        assert!(p.is_empty(), "the gateway saw contract mistakes: {p:#?}");
    }
}

fn problem(state: &GatewayState, what: String) {
    lock(&state.problems).push(what);
}

/// Checks the signature as a gateway would: parse, recompute, compare,
/// refuse an old timestamp.
fn check_signature(headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let h = headers
        .get("herald-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Herald-Signature")?;
    let mut t = None;
    let mut v1 = None;
    for part in h.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => return Err(format!("unexpected part {part:?} in {h:?}")),
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(format!("not t=…,v1=…: {h:?}"));
    };
    if (now_s() - t).abs() > 300 {
        return Err(format!("timestamp {t} is not now"));
    }
    if v1 != hmac_hex(SECRET, t, body) {
        return Err("v1 is not HMAC-SHA256(secret, t.body)".into());
    }
    Ok(())
}

/// Checks the body: exactly the documented fields.
fn check_body(body: &Value, key: &str) -> Result<(), String> {
    let o = body.as_object().ok_or("not an object")?;
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let want = [
        "channel",
        "content",
        "idempotency_key",
        "notification_id",
        "route",
        "to",
    ];
    if keys != want {
        return Err(format!("fields {keys:?}, want {want:?}"));
    }
    for k in [
        "notification_id",
        "channel",
        "route",
        "to",
        "idempotency_key",
    ] {
        if !o[k].is_string() {
            return Err(format!("{k} is not a string"));
        }
    }
    let c = o["content"].as_object().ok_or("content is not an object")?;
    if !c.get("body").is_some_and(Value::is_string) {
        return Err("content.body missing".into());
    }
    if let Some(k) = c
        .keys()
        .find(|k| !["subject", "title", "body"].contains(&k.as_str()))
    {
        return Err(format!("unknown content field {k}"));
    }
    if o["idempotency_key"] != key {
        return Err(format!("Idempotency-Key {key:?} differs from the body's"));
    }
    Ok(())
}

async fn gateway_endpoint(
    State(state): State<Arc<GatewayState>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Err(why) = check_signature(&headers, &raw) {
        problem(&state, format!("signature: {why}"));
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": why}))).into_response();
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct != "application/json" {
        problem(&state, format!("content-type {ct:?}"));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => {
            problem(&state, format!("not JSON: {e}"));
            return (StatusCode::BAD_REQUEST, "not JSON").into_response();
        }
    };
    if let Err(why) = check_body(&body, &key) {
        problem(&state, format!("body: {why}: {body}"));
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": why})),
        )
            .into_response();
    }
    lock(&state.sends).push(Taken {
        idempotency_key: key.clone(),
        body: body.clone(),
    });
    let to = body["to"].as_str().unwrap_or("").to_string();
    let tries = {
        let mut t = lock(&state.tries);
        let e = t.entry(to.clone()).or_insert(0);
        *e += 1;
        *e
    };
    if to.contains("gone") {
        return (StatusCode::GONE, Json(json!({"error": "no such device"}))).into_response();
    }
    if to.contains("flaky") && tries == 1 {
        let mut r = (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        r.headers_mut()
            .insert("retry-after", "1".parse().expect("a header value"));
        return r;
    }
    if to.contains("busy") {
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
        r.headers_mut()
            .insert("retry-after", "3".parse().expect("a header value"));
        return r;
    }
    if to.contains("refused") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unknown recipient format"})),
        )
            .into_response();
    }
    if to.contains("noid") {
        return StatusCode::ACCEPTED.into_response();
    }
    let id = format!("gw-{}", state.next_id.fetch_add(1, Ordering::SeqCst) + 1);
    if let Some(url) = lock(&state.webhook_url).clone() {
        tokio::spawn(post_receipts(state.clone(), url, id.clone()));
    }
    Json(json!({"message_id": id})).into_response()
}

/// The gateway's receipts: first a forged one (a failure, signed over
/// another body), then the real delivery receipt, posted until Herald says
/// it recorded it (gateways retry what is not acknowledged; the first
/// try may race Herald's recording of the send's answer).
async fn post_receipts(state: Arc<GatewayState>, url: String, message_id: String) {
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, sig: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .header("herald-signature", sig)
            .body(body)
            .send()
    };
    let forged =
        json!({"message_id": message_id, "status": "failed", "error": "forged"}).to_string();
    let t = now_s();
    let signed_other = signature_header(SECRET, t, br#"{"message_id":"x","status":"delivered"}"#);
    if let Ok(r) = post(forged.into_bytes(), signed_other).await {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        lock(&state.receipt_answers).push(("forged".into(), status, body));
    }
    let real = json!({"message_id": message_id, "status": "delivered", "error": null}).to_string();
    for _ in 0..100 {
        let sig = signature_header(SECRET, now_s(), real.as_bytes());
        if let Ok(r) = post(real.clone().into_bytes(), sig).await {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let recorded = body["recorded"].as_u64().unwrap_or(0);
            lock(&state.receipt_answers).push(("real".into(), status, body));
            if status == 200 && recorded > 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- provider level ----

fn configure(settings: &Value) -> Result<WebhookClient, FieldError> {
    let roots = Roots::none();
    Webhook.client(&Configure {
        channel: Channel::Email,
        settings,
        hook_id: "hook-webhook-test",
        webhook_url: "http://127.0.0.1:1/v1/hooks/hook-webhook-test",
        tls: &roots,
        receipts: None,
    })
}

async fn send(client: &WebhookClient, to: &str) -> SendReply {
    let content = Rendered {
        subject: Some("Your appointment".into()),
        title: None,
        body: "See you at 10:00.".into(),
    };
    let now = now_s() * 1000;
    let key = format!("key-{to}");
    client
        .send(&SendRequest {
            tenant_id: "tenant-1",
            notification_id: "notif-1",
            channel: Channel::Email,
            route: "email",
            to,
            content: &content,
            idempotency_key: &key,
            deadline: now + 60_000,
            deliver_before: None,
            now,
        })
        .await
}

fn hook_request(body: &[u8], signature: Option<String>) -> HookRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("a value"));
    if let Some(s) = signature {
        headers.insert("herald-signature", s.parse().expect("a value"));
    }
    HookRequest {
        method: http::Method::POST,
        url: "http://127.0.0.1:1/v1/hooks/hook-webhook-test".into(),
        query: String::new(),
        headers,
        body: bytes::Bytes::copy_from_slice(body),
        now: now_s() * 1000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_sends_a_signed_body_with_the_idempotency_key() {
    let gw = Gateway::start().await;
    let client = configure(&gw.settings()).expect("configures");

    let r = send(&client, "ana@example.com").await;
    assert_eq!(
        r,
        SendReply::Accepted {
            message_id: Some("gw-1".into())
        }
    );
    gw.assert_no_problems();
    let sends = gw.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].idempotency_key, "key-ana@example.com");
    assert_eq!(
        sends[0].body,
        json!({"notification_id": "notif-1", "channel": "email", "route": "email",
               "to": "ana@example.com", "idempotency_key": "key-ana@example.com",
               "content": {"subject": "Your appointment", "body": "See you at 10:00."}})
    );

    // Without an id of its own, the gateway's receipts name the key.
    let r = send(&client, "noid@example.com").await;
    assert_eq!(
        r,
        SendReply::Accepted {
            message_id: Some("key-noid@example.com".into())
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_classifies_the_gateways_answers() {
    let gw = Gateway::start().await;
    let client = configure(&gw.settings()).expect("configures");

    let r = send(&client, "gone@example.com").await;
    assert_eq!(r.kind(), "recipient_invalid", "{r:?}");
    let r = send(&client, "flaky@example.com").await;
    assert!(
        matches!(&r, SendReply::Transient { retry_after_ms: Some(1_000), error } if error.contains("503")),
        "{r:?}"
    );
    assert_eq!(send(&client, "flaky@example.com").await.kind(), "accepted");
    let r = send(&client, "busy@example.com").await;
    assert!(
        matches!(
            r,
            SendReply::Throttled {
                retry_after_ms: Some(3_000),
                ..
            }
        ),
        "{r:?}"
    );
    let r = send(&client, "refused@example.com").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    match &r {
        SendReply::Permanent { error } => {
            assert!(error.contains("unknown recipient format"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    // Both tries of the flaky one carried the same key.
    let keys: Vec<String> = gw
        .sends()
        .iter()
        .filter(|s| s.body["to"] == "flaky@example.com")
        .map(|s| s.idempotency_key.clone())
        .collect();
    assert_eq!(keys, ["key-flaky@example.com", "key-flaky@example.com"]);
    gw.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_slow_or_absent_gateways_are_transient() {
    let gw = Gateway::start().await;
    gw.state.delay_ms.store(1_500, Ordering::SeqCst);
    let mut settings = gw.settings();
    settings["timeout_ms"] = json!(300);
    let client = configure(&settings).expect("configures");
    assert_eq!(client.timeout(), Duration::from_millis(300));
    let r = send(&client, "ana@example.com").await;
    assert_eq!(r.kind(), "transient", "{r:?}");

    gw.task.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = send(&client, "ana@example.com").await;
    assert_eq!(r.kind(), "transient", "{r:?}");

    // The default timeout is ten seconds.
    let client = configure(&json!({"url": gw.url, "secret": SECRET})).expect("configures");
    assert_eq!(client.timeout(), Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_hook_verifies_the_signature_and_reads_the_receipt() {
    let client = configure(&json!({"url": "https://gw.example/herald", "secret": SECRET}))
        .expect("configures");
    let body = br#"{"message_id": "gw-7", "status": "failed", "error": "handset off"}"#;

    let reply = client
        .hook(&hook_request(
            body,
            Some(signature_header(SECRET, now_s(), body)),
        ))
        .await
        .expect("a signed receipt is taken");
    assert_eq!(reply.receipts.len(), 1);
    assert_eq!(reply.receipts[0].message_id, "gw-7");
    assert!(!reply.receipts[0].delivered);
    assert_eq!(reply.receipts[0].error.as_deref(), Some("handset off"));
    assert_eq!(reply.body, None);

    let delivered = br#"{"message_id": "gw-8", "status": "delivered"}"#;
    let reply = client
        .hook(&hook_request(
            delivered,
            Some(signature_header(SECRET, now_s(), delivered)),
        ))
        .await
        .expect("taken");
    assert!(reply.receipts[0].delivered);

    let unauthorized = |r: Result<_, HookError>| matches!(r, Err(HookError::Unauthorized(_)));
    // Tampered body, wrong secret, no header, a replay of ten minutes ago.
    let tampered = br#"{"message_id": "gw-7", "status": "delivered", "error": "handset off"}"#;
    let sig = signature_header(SECRET, now_s(), body);
    assert!(unauthorized(
        client.hook(&hook_request(tampered, Some(sig))).await
    ));
    let sig = signature_header("another secret", now_s(), body);
    assert!(unauthorized(
        client.hook(&hook_request(body, Some(sig))).await
    ));
    assert!(unauthorized(client.hook(&hook_request(body, None)).await));
    let sig = signature_header(SECRET, now_s() - 600, body);
    assert!(unauthorized(
        client.hook(&hook_request(body, Some(sig))).await
    ));
    assert!(unauthorized(
        client
            .hook(&hook_request(body, Some("t=1,v1=zz".into())))
            .await
    ));

    // Signed, but not a receipt.
    for bad in [
        &b"not json"[..],
        br#"{"message_id": "gw-7", "status": "read"}"#,
        br#"{"status": "delivered"}"#,
    ] {
        let sig = signature_header(SECRET, now_s(), bad);
        let r = client.hook(&hook_request(bad, Some(sig))).await;
        assert!(
            matches!(r, Err(HookError::BadRequest(_))),
            "{:?}: {r:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn webhook_settings_errors_name_the_field_and_never_show_the_secret() {
    let field = |settings: Value| -> FieldError {
        match configure(&settings) {
            Ok(_) => panic!("configured: {settings}"),
            Err(e) => e,
        }
    };
    let e = field(json!({"url": "https://gw.example/h", "secret": SECRET, "colour": "blue"}));
    assert_eq!(
        (e.field.as_str(), e.code),
        ("settings.colour", "unknown_field"),
        "{e:?}"
    );
    let e = field(json!({"url": "ftp://gw.example/h", "secret": SECRET}));
    assert_eq!(e.field, "settings.url", "{e:?}");
    let e = field(json!({"url": "not a url", "secret": SECRET}));
    assert_eq!(e.field, "settings.url", "{e:?}");
    let e = field(json!({"url": "https://gw.example/h"}));
    assert_eq!(
        (e.field.as_str(), e.code),
        ("settings.secret", "required"),
        "{e:?}"
    );
    let e = field(json!({"url": "https://gw.example/h", "secret": ""}));
    assert_eq!(e.field, "settings.secret", "{e:?}");
    let e = field(json!({"secret": SECRET}));
    assert_eq!(e.field, "settings.url", "{e:?}");
    let e = field(json!({"url": "https://gw.example/h", "secret": SECRET, "timeout_ms": 60_001}));
    assert_eq!(e.field, "settings.timeout_ms", "{e:?}");
    // A secret of the wrong type is not quoted back.
    let e = field(json!({"url": "https://gw.example/h", "secret": 987_654_321}));
    assert_eq!(e.field, "settings.secret", "{e:?}");
    assert!(!format!("{e} {e:?}").contains("987654321"), "{e:?}");
}

#[test]
fn webhook_debug_output_shows_no_secret() {
    let settings = json!({"url": "https://gw.example/h", "secret": SECRET});
    let client = configure(&settings).expect("configures");
    let text = format!("{client:?}");
    assert!(!text.contains(SECRET), "{text}");
    let parsed: WebhookSettings = serde_json::from_value(settings).expect("parses");
    let text = format!("{parsed:?}");
    assert!(!text.contains(SECRET), "{text}");
}

// ---- end to end through the HTTP API ----

/// The integration's receipt URL, from its GET (the secret shown as set).
async fn webhook_url(app: &TestApp, key: &str, channel: &str) -> String {
    let (status, got) = app.get(&format!("/v1/integrations/{channel}"), key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["settings"]["secret"], "set", "{got:#}");
    assert!(
        !got.to_string().contains(SECRET),
        "GET shows the secret: {got}"
    );
    got["webhook_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no webhook_url: {got:#}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_receipt_confirms_delivery_and_a_forged_one_is_refused() {
    let gw = Gateway::start().await;
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "email",
        json!({"provider": "webhook", "settings": gw.settings(), "confirm": "receipt", "window_s": 60}),
    )
    .await;
    let url = webhook_url(&app, &key, "email").await;
    assert!(url.contains("/v1/hooks/"), "{url}");
    *lock(&gw.state.webhook_url) = Some(url);
    app.simulator(&key, "sms", json!({"default": "delivered"}))
        .await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"},
                            {"channel": "sms", "scenario": "fallback"}],
               "templates": {"email": {"en": {"subject": "At {{ time }}", "body": "See you at {{ time }}."}},
                             "sms": {"en": {"body": "At {{ time }}"}}}}),
    )
    .await;
    app.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550001111"}),
    )
    .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "ana", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;

    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "email"), "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped", "{n:#}");
    let a = attempts(&n, "email");
    assert_eq!(a.len(), 1, "{n:#}");
    let receipts = a[0]["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), 1, "only the real receipt counts: {n:#}");
    assert_eq!(receipts[0]["status"], "delivered", "{n:#}");

    let answers = lock(&gw.state.receipt_answers).clone();
    assert_eq!(answers[0].0, "forged", "{answers:?}");
    assert_eq!(
        answers[0].1, 401,
        "the forged receipt is refused: {answers:?}"
    );
    let last = answers.last().expect("answers");
    assert_eq!((last.0.as_str(), last.1), ("real", 200), "{answers:?}");
    assert!(app.outbox(&key, &id).await.is_empty(), "no SMS");

    let sends = gw.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].body["notification_id"], id.as_str());
    assert_eq!(sends[0].body["content"]["subject"], "At 10:00");
    gw.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gone_is_recipient_invalid_and_the_fallback_goes() {
    let gw = Gateway::start().await;
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "aunio",
        json!({"provider": "webhook", "settings": gw.settings()}),
    )
    .await;
    app.simulator(&key, "sms", json!({"default": "delivered"}))
        .await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "aunio", "scenario": "always"},
                            {"channel": "sms", "scenario": "fallback"}],
               "templates": {"aunio": {"en": {"title": "At {{ time }}", "body": "See you."}},
                             "sms": {"en": {"body": "At {{ time }}"}}}}),
    )
    .await;
    app.put_client(
        &key,
        "bea",
        json!({"name": "Bea", "phone": "+15550002222",
               "apps": [{"app": "aunio", "token": "device-gone-1", "platform": "ios"}]}),
    )
    .await;

    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "bea", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;

    assert!(
        ["failed", "unreachable"].contains(&outcome(&n, "aunio")),
        "{n:#}"
    );
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let (_, bea) = app.get("/v1/clients/bea", &key).await;
    assert_eq!(
        bea["apps"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "token removed: {bea:#}"
    );
    let outbox = app.outbox(&key, &id).await;
    assert_eq!(outbox.len(), 1, "{outbox:#?}");
    assert_eq!(outbox[0]["channel"], "sms");
    let sends = gw.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].body["channel"], "aunio");
    assert_eq!(sends[0].body["content"]["title"], "At 10:00");
    gw.assert_no_problems();
}

/// Posts a receipt signed with `SECRET` to a webhook URL; answers the
/// status and body.
async fn post_receipt(url: &str, message_id: &str, status: &str) -> (u16, Value) {
    let body = json!({"message_id": message_id, "status": status, "error": null}).to_string();
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header(
            "herald-signature",
            signature_header(SECRET, now_s(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .expect("herald answers");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

/// Tenant B's integration cannot move tenant A's attempt: a receipt is
/// matched only within the messages of the integration whose hook it came
/// to, even when it carries A's message id and is validly signed (both
/// integrations here even share a secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_hook_cannot_move_an_attempt() {
    let gw = Gateway::start().await;
    let app = spawn_app().await;
    let a = app.create_tenant("Salon A").await.api_key;
    let b = app.create_tenant("Salon B").await.api_key;
    for key in [&a, &b] {
        app.integration(
            key,
            "email",
            json!({"provider": "webhook", "settings": gw.settings(), "confirm": "receipt", "window_s": 60}),
        )
        .await;
    }
    let url_a = webhook_url(&app, &a, "email").await;
    let url_b = webhook_url(&app, &b, "email").await;
    assert_ne!(url_a, url_b, "each integration has its own hook");
    app.put_type(
        &a,
        "t",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}),
    )
    .await;
    app.put_client(&a, "ana", json!({"email": "ana@example.com"}))
        .await;
    let id = app.trigger(&a, json!({"type": "t", "client": "ana"})).await;
    // Wait until the gateway took the message and Herald recorded it.
    let start = std::time::Instant::now();
    let message_id = loop {
        let n = app.notification(&a, &id).await;
        if attempts(&n, "email")
            .first()
            .is_some_and(|x| x["status"] == "accepted")
        {
            break format!("gw-{}", gw.sends().len());
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{n:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let key_of_a = gw.sends()[0].idempotency_key.clone();
    for forged_id in [message_id.as_str(), key_of_a.as_str()] {
        let (code, body) = post_receipt(&url_b, forged_id, "failed").await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["recorded"], 0, "B's hook matched A's message: {body}");
    }
    let n = app.notification(&a, &id).await;
    assert_eq!(n["status"], "pending", "{n:#}");
    assert!(
        attempts(&n, "email")[0]["receipts"]
            .as_array()
            .is_none_or(|r| r.is_empty()),
        "{n:#}"
    );
    // Through A's own hook the same receipt counts.
    let (code, body) = post_receipt(&url_a, &message_id, "delivered").await;
    assert_eq!((code, body["recorded"].as_u64()), (200, Some(1)), "{body}");
    let n = app.wait_final(&a, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    gw.assert_no_problems();
}
