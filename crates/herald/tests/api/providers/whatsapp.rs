//! The `whatsapp` provider against a local peer that answers like the
//! WhatsApp Business Cloud API. What the peer checks comes from Meta's
//! pages, not from Herald's code:
//! - "Cloud API > Reference > Messages" (`POST /{Phone-Number-ID}/messages`,
//!   bearer token, `messaging_product: "whatsapp"`, `recipient_type`,
//!   `to`, `type: "text"` with `text.body`, or `type: "template"` with
//!   `template.name`, `template.language.code`, `template.components`);
//! - "Cloud API > Support > Error codes" (the `{"error": {"message",
//!   "type", "code", "error_subcode", "fbtrace_id"}}` answers: 131026
//!   message undeliverable, 130429 rate limit hit, 190 access token
//!   expired, 1/2 API unknown/service);
//! - "Graph API > Webhooks > Getting started" (the verification GET with
//!   `hub.mode`, `hub.verify_token`, `hub.challenge`; `X-Hub-Signature-256:
//!   sha256=<hex HMAC-SHA256 of the payload keyed with the app secret>`);
//! - "Cloud API > Webhooks > Components > statuses" (the status
//!   notifications the peer posts back: `sent`, `delivered`, `read`,
//!   `failed` with `errors[{code, title}]`).

use crate::helpers::{attempts, outcome, reason, spawn_app, TestApp};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use herald::providers::tls::Roots;
use herald::providers::whatsapp::{Whatsapp, WhatsappClient, WhatsappSettings};
use herald::providers::{Client, Configure, HookError, HookRequest, SendReply, SendRequest};
use herald_core::{Channel, FieldError, Rendered};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PHONE_ID: &str = "106540352242922";
pub(super) const TOKEN: &str = "EAAJB3dummyAccessToken7Qx";
pub(super) const APP_SECRET: &str = "app-secret-5c1f9e0a";
pub(super) const VERIFY_TOKEN: &str = "verify-me-8d2b";

/// Numbers the peer answers specially (digits, as the Cloud API takes them).
pub(super) const NOT_ON_WHATSAPP: &str = "15550000026";
const THROTTLED_ONCE: &str = "15550000429";
const SERVER_ERROR: &str = "15550000500";
const EXPIRED_TOKEN: &str = "15550000190";
/// Accepted, then a `failed` status with 131026.
const FAILS_LATER: &str = "15550002222";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Meta's signing, written from "Webhooks > Getting started": HMAC-SHA256
/// of the raw payload with the app secret, hex, prefixed `sha256=`.
pub(super) fn meta_signature(secret: &str, payload: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(payload);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// A status notification as the Cloud API posts it.
pub(super) fn status_notification(
    wamid: &str,
    status: &str,
    to: &str,
    error: Option<(i64, &str)>,
) -> Value {
    let mut s = json!({"id": wamid, "status": status, "timestamp": "1700000000",
                       "recipient_id": to});
    if let Some((code, title)) = error {
        s["errors"] = json!([{"code": code, "title": title,
                              "message": title, "error_data": {"details": "Message Undeliverable."}}]);
    }
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
               "messaging_product": "whatsapp",
               "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
               "statuses": [s]}}]}]})
}

#[derive(Debug, Clone)]
pub(super) struct Taken {
    pub(super) body: Value,
}

struct PeerState {
    sends: Mutex<Vec<Taken>>,
    tries: Mutex<HashMap<String, usize>>,
    problems: Mutex<Vec<String>>,
    webhook_url: Mutex<Option<String>>,
    /// (what, HTTP status, body) of every webhook post Herald answered.
    hook_answers: Mutex<Vec<(String, u16, Value)>>,
    next_id: AtomicUsize,
}

pub(super) struct Peer {
    base: String,
    state: Arc<PeerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    pub(super) async fn start() -> Peer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let state = Arc::new(PeerState {
            sends: Mutex::new(Vec::new()),
            tries: Mutex::new(HashMap::new()),
            problems: Mutex::new(Vec::new()),
            webhook_url: Mutex::new(None),
            hook_answers: Mutex::new(Vec::new()),
            next_id: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/v21.0/{phone_id}/messages", post(messages))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Peer {
            base: format!("http://{addr}/v21.0"),
            state,
            task,
        }
    }

    pub(super) fn settings(&self) -> Value {
        json!({"phone_number_id": PHONE_ID, "access_token": TOKEN, "app_secret": APP_SECRET,
               "verify_token": VERIFY_TOKEN, "base_url": self.base, "timeout_ms": 5000})
    }

    pub(super) fn sends(&self) -> Vec<Taken> {
        lock(&self.state.sends).clone()
    }

    pub(super) fn assert_no_problems(&self) {
        let p = lock(&self.state.problems).clone();
        assert!(p.is_empty(), "the peer saw protocol mistakes: {p:#?}");
    }
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(
            json!({"error": {"message": message, "type": "OAuthException", "code": code,
                              "error_subcode": 2494010, "fbtrace_id": "AbCdEfGh123"}}),
        ),
    )
        .into_response()
}

/// Checks the body against "Cloud API > Reference > Messages".
fn check_message(b: &Value) -> Result<(), String> {
    if b["messaging_product"] != "whatsapp" {
        return Err("messaging_product is not \"whatsapp\"".into());
    }
    if b["recipient_type"] != "individual" {
        return Err("recipient_type is not \"individual\"".into());
    }
    let to = b["to"].as_str().ok_or("no to")?;
    if to.is_empty() || !to.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("to {to:?} is not the number's digits"));
    }
    match b["type"].as_str() {
        Some("text") => {
            if !b["text"]["body"].is_string() {
                return Err("text.body is not a string".into());
            }
        }
        Some("template") => {
            let t = &b["template"];
            if !t["name"].is_string() || !t["language"]["code"].is_string() {
                return Err("template needs name and language.code".into());
            }
            let c = t["components"].as_array().ok_or("no template.components")?;
            if c.first().map(|c| &c["type"]) != Some(&json!("body")) {
                return Err("the first component is not the body".into());
            }
            let p = c[0]["parameters"].as_array().ok_or("no parameters")?;
            if p.iter()
                .any(|p| p["type"] != "text" || !p["text"].is_string())
            {
                return Err("body parameters must be {type: text, text}".into());
            }
        }
        other => return Err(format!("type {other:?}")),
    }
    Ok(())
}

async fn messages(
    State(state): State<Arc<PeerState>>,
    Path(phone_id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let problem = |what: String| lock(&state.problems).push(what);
    if phone_id != PHONE_ID {
        problem(format!("phone number id {phone_id}"));
        return graph_error(StatusCode::BAD_REQUEST, 100, "Unsupported post request");
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        problem(format!("authorization {auth:?}"));
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token");
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        problem(format!("content-type {ct:?}"));
    }
    let body: Value = match serde_json::from_slice(&raw) {
        Ok(v) => v,
        Err(e) => {
            problem(format!("not JSON: {e}"));
            return graph_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter");
        }
    };
    if let Err(why) = check_message(&body) {
        problem(format!("{why}: {body}"));
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter");
    }
    lock(&state.sends).push(Taken { body: body.clone() });
    let to = body["to"].as_str().unwrap_or("").to_string();
    let tries = {
        let mut t = lock(&state.tries);
        let e = t.entry(to.clone()).or_insert(0);
        *e += 1;
        *e
    };
    match to.as_str() {
        NOT_ON_WHATSAPP => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                131026,
                "(#131026) Message undeliverable",
            )
        }
        THROTTLED_ONCE if tries == 1 => {
            let mut r = graph_error(StatusCode::BAD_REQUEST, 130429, "(#130429) Rate limit hit");
            r.headers_mut()
                .insert("retry-after", "2".parse().expect("a header value"));
            return r;
        }
        SERVER_ERROR => {
            return graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                2,
                "Service temporarily unavailable",
            )
        }
        EXPIRED_TOKEN => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                190,
                "Error validating access token: Session has expired",
            )
        }
        _ => {}
    }
    let wamid = format!(
        "wamid.HBgLMTU1NTAwMDExMTEVAgARGBI{}",
        state.next_id.fetch_add(1, Ordering::SeqCst) + 1
    );
    if let Some(url) = lock(&state.webhook_url).clone() {
        tokio::spawn(post_statuses(state.clone(), url, wamid.clone(), to.clone()));
    }
    Json(json!({"messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": wamid}]}))
    .into_response()
}

/// Posts the statuses of one message: a tampered `failed` (signed over
/// another body), then `sent`, then the real outcome, retried until Herald
/// says it recorded it (Meta retries unacknowledged notifications; the
/// first try may race Herald's recording of the send's answer).
async fn post_statuses(state: Arc<PeerState>, url: String, wamid: String, to: String) {
    let http = reqwest::Client::new();
    let post = |body: String, sig: Option<String>| {
        let mut r = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            r = r.header("x-hub-signature-256", s);
        }
        r.send()
    };
    let record = |what: &str, status: u16, body: Value| {
        lock(&state.hook_answers).push((what.to_string(), status, body));
    };
    // Tampered: the signature is of the `delivered` body; the payload says failed.
    let honest = status_notification(&wamid, "delivered", &to, None).to_string();
    let tampered = status_notification(
        &wamid,
        "failed",
        &to,
        Some((131000, "Something went wrong")),
    )
    .to_string();
    if let Ok(r) = post(
        tampered.clone(),
        Some(meta_signature(APP_SECRET, honest.as_bytes())),
    )
    .await
    {
        let s = r.status().as_u16();
        record("tampered", s, r.json().await.unwrap_or(Value::Null));
    }
    // Unsigned, and signed with another app's secret.
    if let Ok(r) = post(tampered.clone(), None).await {
        let s = r.status().as_u16();
        record("unsigned", s, r.json().await.unwrap_or(Value::Null));
    }
    if let Ok(r) = post(
        tampered.clone(),
        Some(meta_signature("another app", tampered.as_bytes())),
    )
    .await
    {
        let s = r.status().as_u16();
        record("other-secret", s, r.json().await.unwrap_or(Value::Null));
    }
    let sent = status_notification(&wamid, "sent", &to, None).to_string();
    if let Ok(r) = post(
        sent.clone(),
        Some(meta_signature(APP_SECRET, sent.as_bytes())),
    )
    .await
    {
        let s = r.status().as_u16();
        record("sent", s, r.json().await.unwrap_or(Value::Null));
    }
    let real = if to == FAILS_LATER {
        status_notification(
            &wamid,
            "failed",
            &to,
            Some((131026, "Message undeliverable")),
        )
    } else {
        status_notification(&wamid, "delivered", &to, None)
    }
    .to_string();
    for _ in 0..100 {
        let sig = meta_signature(APP_SECRET, real.as_bytes());
        if let Ok(r) = post(real.clone(), Some(sig)).await {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let recorded = body["recorded"].as_u64().unwrap_or(0);
            record("real", status, body);
            if status == 200 && recorded > 0 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- provider level ----

fn configure(settings: &Value) -> Result<WhatsappClient, FieldError> {
    let roots = Roots::none();
    Whatsapp.client(&Configure {
        channel: Channel::Sms,
        settings,
        hook_id: "hook-whatsapp-test",
        webhook_url: "http://127.0.0.1:1/v1/hooks/hook-whatsapp-test",
        tls: &roots,
        receipts: None,
    })
}

async fn send(client: &WhatsappClient, to: &str) -> SendReply {
    let content = Rendered {
        subject: None,
        title: None,
        body: "See you at 10:00.".into(),
    };
    let now = now_ms();
    let key = format!("key-{to}");
    client
        .send(&SendRequest {
            tenant_id: "tenant-1",
            notification_id: "notif-1",
            channel: Channel::Sms,
            route: "whatsapp",
            to,
            content: &content,
            idempotency_key: &key,
            deadline: now + 60_000,
            deliver_before: None,
            now,
        })
        .await
}

fn hook_post(body: &[u8], signature: Option<String>) -> HookRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("a value"));
    if let Some(s) = signature {
        headers.insert("x-hub-signature-256", s.parse().expect("a value"));
    }
    HookRequest {
        method: http::Method::POST,
        url: "http://127.0.0.1:1/v1/hooks/hook-whatsapp-test".into(),
        query: String::new(),
        headers,
        body: bytes::Bytes::copy_from_slice(body),
        now: now_ms(),
    }
}

fn hook_get(query: &str) -> HookRequest {
    HookRequest {
        method: http::Method::GET,
        url: format!("http://127.0.0.1:1/v1/hooks/hook-whatsapp-test?{query}"),
        query: query.into(),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        now: now_ms(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_sends_a_text_message_as_the_cloud_api_documents() {
    let peer = Peer::start().await;
    let client = configure(&peer.settings()).expect("configures");
    let r = send(&client, "+1 555 000 1111").await;
    assert_eq!(
        r,
        SendReply::Accepted {
            message_id: Some("wamid.HBgLMTU1NTAwMDExMTEVAgARGBI1".into())
        }
    );
    peer.assert_no_problems();
    let sends = peer.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "15550001111", "type": "text", "text": {"body": "See you at 10:00."}})
    );
    // Not a phone number: not a WhatsApp number, and nothing is sent.
    let r = send(&client, "ana@example.com").await;
    assert_eq!(r.kind(), "recipient_invalid", "{r:?}");
    assert_eq!(peer.sends().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_sends_the_template_form_when_one_is_set() {
    let peer = Peer::start().await;
    let mut settings = peer.settings();
    settings["template"] = json!({"name": "appointment_reminder", "language": "en_US"});
    let client = configure(&settings).expect("configures");
    let r = send(&client, "+15550001111").await;
    assert_eq!(r.kind(), "accepted", "{r:?}");
    peer.assert_no_problems();
    assert_eq!(
        peer.sends()[0].body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "15550001111", "type": "template",
               "template": {"name": "appointment_reminder", "language": {"code": "en_US"},
                            "components": [{"type": "body", "parameters": [
                                {"type": "text", "text": "See you at 10:00."}]}]}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_classifies_the_cloud_apis_error_codes() {
    let peer = Peer::start().await;
    let client = configure(&peer.settings()).expect("configures");

    let r = send(&client, &format!("+{NOT_ON_WHATSAPP}")).await;
    match &r {
        SendReply::RecipientInvalid { error } => {
            assert!(error.contains("131026"), "{error}");
            assert!(error.contains("not a WhatsApp user"), "{error}");
        }
        other => panic!("131026 is recipient invalid: {other:?}"),
    }
    let r = send(&client, &format!("+{THROTTLED_ONCE}")).await;
    assert!(
        matches!(&r, SendReply::Throttled { retry_after_ms: Some(2_000), error } if error.contains("130429")),
        "{r:?}"
    );
    assert_eq!(
        send(&client, &format!("+{THROTTLED_ONCE}")).await.kind(),
        "accepted"
    );
    let r = send(&client, &format!("+{SERVER_ERROR}")).await;
    assert!(
        matches!(&r, SendReply::Transient { error, .. } if error.contains("500")),
        "{r:?}"
    );
    let r = send(&client, &format!("+{EXPIRED_TOKEN}")).await;
    match &r {
        SendReply::Permanent { error } => {
            assert!(
                error.contains("190") && error.contains("Session has expired"),
                "{error}"
            );
            assert!(!error.contains(TOKEN), "{error}");
        }
        other => panic!("190 is permanent: {other:?}"),
    }
    // A wrong token is refused by the peer (190) and is permanent too.
    let mut settings = peer.settings();
    settings["access_token"] = json!("EAAJwrong");
    let wrong = configure(&settings).expect("configures");
    let r = send(&wrong, "+15550001111").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    lock(&peer.state.problems).clear();

    // Nobody there: transient.
    peer.task.abort();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = send(&client, "+15550001111").await;
    assert_eq!(r.kind(), "transient", "{r:?}");
    assert!(!format!("{r:?}").contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_hook_answers_the_verification_handshake_only_with_the_token() {
    let client = configure(&json!({"phone_number_id": PHONE_ID, "access_token": TOKEN,
        "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}))
    .expect("configures");
    let ok = client
        .hook(&hook_get(&format!(
            "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
        )))
        .await
        .expect("the right token is answered");
    assert_eq!(ok.body.as_deref(), Some("1158201444"));
    assert!(ok.receipts.is_empty());
    for q in [
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess".to_string(),
        "hub.mode=subscribe&hub.challenge=1158201444".to_string(),
        format!("hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}x"),
    ] {
        let r = client.hook(&hook_get(&q)).await;
        assert!(matches!(r, Err(HookError::Unauthorized(_))), "{q}: {r:?}");
        assert!(!format!("{r:?}").contains(VERIFY_TOKEN), "{r:?}");
    }
    let r = client
        .hook(&hook_get(&format!(
            "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
        )))
        .await;
    assert!(matches!(r, Err(HookError::BadRequest(_))), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_hook_verifies_the_signature_and_reads_statuses() {
    let client = configure(&json!({"phone_number_id": PHONE_ID, "access_token": TOKEN,
        "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}))
    .expect("configures");
    let failed = status_notification(
        "wamid.F",
        "failed",
        "15550002222",
        Some((131026, "Message undeliverable")),
    )
    .to_string();
    let reply = client
        .hook(&hook_post(
            failed.as_bytes(),
            Some(meta_signature(APP_SECRET, failed.as_bytes())),
        ))
        .await
        .expect("a signed notification is taken");
    assert_eq!(reply.receipts.len(), 1);
    let r = &reply.receipts[0];
    assert_eq!((r.message_id.as_str(), r.delivered), ("wamid.F", false));
    let e = r.error.clone().unwrap_or_default();
    assert!(
        e.contains("131026") && e.contains("not a WhatsApp user"),
        "{e}"
    );

    for (status, want) in [
        ("delivered", Some(true)),
        ("read", Some(true)),
        ("sent", None),
    ] {
        let body = status_notification("wamid.D", status, "15550001111", None).to_string();
        let reply = client
            .hook(&hook_post(
                body.as_bytes(),
                Some(meta_signature(APP_SECRET, body.as_bytes())),
            ))
            .await
            .expect("taken");
        assert_eq!(
            reply.receipts.first().map(|r| r.delivered),
            want,
            "{status}"
        );
    }
    // An incoming message (not a status): no receipts, still 200.
    let incoming = json!({"object": "whatsapp_business_account", "entry": [{"id": "1",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "15550001111"}],
        "messages": [{"from": "15550001111", "id": "wamid.IN", "timestamp": "1",
                      "type": "text", "text": {"body": "ok"}}]}}]}]})
    .to_string();
    let reply = client
        .hook(&hook_post(
            incoming.as_bytes(),
            Some(meta_signature(APP_SECRET, incoming.as_bytes())),
        ))
        .await
        .expect("taken");
    assert!(reply.receipts.is_empty() && reply.body.is_none());

    let unauthorized = |r: Result<_, HookError>| matches!(r, Err(HookError::Unauthorized(_)));
    let delivered = status_notification("wamid.F", "delivered", "15550002222", None).to_string();
    // Tampered (signature of another body), another app's secret, missing,
    // malformed.
    assert!(unauthorized(
        client
            .hook(&hook_post(
                delivered.as_bytes(),
                Some(meta_signature(APP_SECRET, failed.as_bytes()))
            ))
            .await
    ));
    assert!(unauthorized(
        client
            .hook(&hook_post(
                delivered.as_bytes(),
                Some(meta_signature("other", delivered.as_bytes()))
            ))
            .await
    ));
    assert!(unauthorized(
        client.hook(&hook_post(delivered.as_bytes(), None)).await
    ));
    let sha1 = meta_signature(APP_SECRET, delivered.as_bytes()).replace("sha256=", "sha1=");
    assert!(unauthorized(
        client
            .hook(&hook_post(delivered.as_bytes(), Some(sha1)))
            .await
    ));
    // Signed, but not JSON.
    let r = client
        .hook(&hook_post(
            b"nope",
            Some(meta_signature(APP_SECRET, b"nope")),
        ))
        .await;
    assert!(matches!(r, Err(HookError::BadRequest(_))), "{r:?}");
}

#[test]
fn whatsapp_settings_errors_name_the_field_and_never_show_a_secret() {
    let base = json!({"phone_number_id": PHONE_ID, "access_token": TOKEN,
                      "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN});
    let field = |change: &dyn Fn(&mut Value)| -> FieldError {
        let mut s = base.clone();
        change(&mut s);
        match configure(&s) {
            Ok(_) => panic!("configured: {s}"),
            Err(e) => e,
        }
    };
    let e = field(&|s| s["colour"] = json!("blue"));
    assert_eq!(
        (e.field.as_str(), e.code),
        ("settings.colour", "unknown_field")
    );
    for f in [
        "phone_number_id",
        "access_token",
        "app_secret",
        "verify_token",
    ] {
        let e = field(&|s| {
            s.as_object_mut().map(|o| o.remove(f));
        });
        assert_eq!(
            (e.field.as_str(), e.code),
            (format!("settings.{f}").as_str(), "required")
        );
    }
    let e = field(&|s| s["phone_number_id"] = json!("../other"));
    assert_eq!(e.field, "settings.phone_number_id");
    let e = field(&|s| s["base_url"] = json!("ftp://graph.example"));
    assert_eq!(e.field, "settings.base_url");
    let e = field(&|s| s["template"] = json!({"name": "x"}));
    assert_eq!(e.field, "settings.template.language", "{e:?}");
    let e = field(&|s| s["timeout_ms"] = json!(0));
    assert_eq!(e.field, "settings.timeout_ms");
    let e = field(&|s| s["app_secret"] = json!(""));
    assert_eq!(e.field, "settings.app_secret");
    let e = field(&|s| s["access_token"] = json!(987_654_321));
    assert_eq!(e.field, "settings.access_token");
    assert!(!format!("{e} {e:?}").contains("987654321"), "{e:?}");

    // Debug shows no secret, parsed or configured.
    let client = configure(&base).expect("configures");
    let parsed: WhatsappSettings = serde_json::from_value(base).expect("parses");
    for text in [format!("{client:?}"), format!("{parsed:?}")] {
        for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    assert_eq!(client.timeout(), Duration::from_secs(30));
}

// ---- end to end through the HTTP API ----

/// The integration's webhook URL, from its GET (every secret shown as set).
async fn webhook_url(app: &TestApp, key: &str) -> String {
    let (status, got) = app.get("/v1/integrations/sms", key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    for f in ["access_token", "app_secret", "verify_token"] {
        assert_eq!(got["settings"][f], "set", "{got:#}");
    }
    for secret in [TOKEN, APP_SECRET, VERIFY_TOKEN] {
        assert!(
            !got.to_string().contains(secret),
            "GET shows a secret: {got}"
        );
    }
    got["webhook_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no webhook_url: {got:#}"))
        .to_string()
}

async fn setup(peer: &Peer) -> (TestApp, String, String) {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "sms",
        json!({"provider": "whatsapp", "settings": peer.settings(),
               "confirm": "receipt", "window_s": 60}),
    )
    .await;
    let url = webhook_url(&app, &key).await;
    assert!(url.contains("/v1/hooks/"), "{url}");
    *lock(&peer.state.webhook_url) = Some(url.clone());
    // Only SMS may be a fallback, so the type sends on SMS alone.
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "At {{ time }}"}}}}),
    )
    .await;
    (app, key, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_handshake_through_the_api() {
    let peer = Peer::start().await;
    let (_app, _key, url) = setup(&peer).await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap_or_default(), "1158201444");
    let r = http
        .get(format!(
            "{url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess"
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 401);
    let text = r.text().await.unwrap_or_default();
    assert!(
        !text.contains("1158201444") && !text.contains(VERIFY_TOKEN),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_delivered_status_confirms_and_tampered_ones_are_refused() {
    let peer = Peer::start().await;
    let (app, key, _url) = setup(&peer).await;
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
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let a = attempts(&n, "sms");
    assert_eq!(a.len(), 1, "{n:#}");
    assert_eq!(a[0]["route"], "whatsapp", "{n:#}");
    let receipts = a[0]["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), 1, "only the real status counts: {n:#}");
    assert_eq!(receipts[0]["status"], "delivered", "{n:#}");

    let answers = lock(&peer.state.hook_answers).clone();
    for what in ["tampered", "unsigned", "other-secret"] {
        let a = answers.iter().find(|a| a.0 == what).expect("posted");
        assert_eq!(a.1, 401, "{what}: {answers:?}");
    }
    let sent = answers.iter().find(|a| a.0 == "sent").expect("posted");
    assert_eq!(
        (sent.1, &sent.2["receipts"]),
        (200, &json!(0)),
        "{answers:?}"
    );
    let last = answers.last().expect("answers");
    assert_eq!((last.0.as_str(), last.1), ("real", 200), "{answers:?}");

    let sends = peer.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].body["to"], "15550001111");
    assert_eq!(sends[0].body["text"]["body"], "At 10:00");
    assert!(!n.to_string().contains(TOKEN), "{n}");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_failed_status_fails_with_the_reason() {
    let peer = Peer::start().await;
    let (app, key, _url) = setup(&peer).await;
    app.put_client(
        &key,
        "bea",
        json!({"name": "Bea", "email": "bea@example.com", "phone": format!("+{FAILS_LATER}")}),
    )
    .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "bea", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_ne!(outcome(&n, "sms"), "delivered", "{n:#}");
    let why = reason(&n, "sms");
    assert!(why.contains("not a whatsapp user"), "{why}: {n:#}");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_not_a_user_at_send_makes_the_route_unreachable() {
    let peer = Peer::start().await;
    let (app, key, _url) = setup(&peer).await;
    app.put_client(
        &key,
        "cai",
        json!({"name": "Cai", "email": "cai@example.com", "phone": format!("+{NOT_ON_WHATSAPP}")}),
    )
    .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "cai", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert!(
        ["failed", "unreachable"].contains(&outcome(&n, "sms")),
        "{n:#}"
    );
    assert_eq!(peer.sends().len(), 1, "a dead number is not retried");
    assert!(!n.to_string().contains(TOKEN), "{n}");
    peer.assert_no_problems();
}
