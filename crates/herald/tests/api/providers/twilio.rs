//! The `twilio` provider against a local stand-in for Twilio's Messages API:
//! `tests/peers/twilio_peer.py`, started per test as a child process. It
//! answers as the Messages resource does
//! (https://www.twilio.com/docs/messaging/api/message-resource, errors as
//! https://www.twilio.com/docs/api/errors lists them: 21211, 63003, 20429)
//! and posts status callbacks
//! (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status)
//! signed by Twilio's own helper library (`twilio.request_validator`), so
//! Herald's `X-Twilio-Signature` check
//! (https://www.twilio.com/docs/usage/webhooks/webhooks-security) is tested
//! against Twilio's code, not against itself.
//!
//! Without the `twilio` Python package these tests say SKIPPED and pass,
//! except under CI (`CI` set), where they fail: `pip install twilio`, or
//! point `HERALD_PEER_PYTHON` at an interpreter that has it.

use crate::helpers::{assert_error, attempts, contains_text, outcome, reason, spawn_app, TestApp};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use herald::providers::tls::Roots;
use herald::providers::twilio::{Twilio, TwilioClient};
use herald::providers::{Client, Configure, HookError, HookRequest, SendReply, SendRequest};
use herald_core::{Channel, FieldError, Rendered};
use peer::Peer;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

const SID: &str = "AC5ca1a0e0000000000000000000000001";
const TOKEN: &str = "tw-auth-token-salon-one-7d21c0";
const FROM: &str = "+15557654321";

/// Starting and reading the Twilio peer.
mod peer {
    use serde_json::Value;
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::{Duration, Instant};
    use tempfile::TempDir;

    const START_BOUND: Duration = Duration::from_secs(20);
    const EVENT_BOUND: Duration = Duration::from_secs(30);

    /// The Python that has the `twilio` package: `HERALD_PEER_PYTHON`,
    /// else `python3` if it can import it. None means skip (panics under
    /// CI, where a skipped peer would hide a missing install step).
    pub fn python() -> Option<String> {
        if let Ok(p) = std::env::var("HERALD_PEER_PYTHON") {
            if !p.is_empty() {
                return Some(p);
            }
        }
        let ok = Command::new("python3")
            .args(["-c", "import twilio.request_validator"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some("python3".into());
        }
        if std::env::var_os("CI").is_some() {
            panic!(
                "\n\n*** the Twilio peer needs the twilio package: `pip install twilio`, \
                 or set HERALD_PEER_PYTHON to a python that has it ***\n"
            );
        }
        eprintln!(
            "\n*** SKIPPED: the twilio Python package is not installed (pip install twilio), \
             or set HERALD_PEER_PYTHON ***\n"
        );
        None
    }

    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/twilio_peer.py")
    }

    /// A running peer; killed when dropped.
    pub struct Peer {
        child: Child,
        port: u16,
        events: Arc<Mutex<Vec<Value>>>,
        _dir: TempDir,
    }

    impl Peer {
        /// Starts the peer with a config (see the script's header). None
        /// when the twilio package is not there (skip).
        pub fn start(config: Value) -> Option<Peer> {
            let python = python()?;
            let dir = tempfile::tempdir().expect("a temp dir");
            let config_path = dir.path().join("peer.json");
            std::fs::write(&config_path, config.to_string()).expect("peer config written");
            let mut child = Command::new(&python)
                .arg(script())
                .arg(&config_path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {python} {}: {e}", script().display()));
            let stdout = child.stdout.take().expect("peer stdout");
            let events = Arc::new(Mutex::new(Vec::new()));
            let (port_tx, port_rx) = mpsc::channel();
            let sink = events.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    let Ok(event) = serde_json::from_str::<Value>(&line) else {
                        eprintln!("twilio peer said: {line}");
                        continue;
                    };
                    if event["event"] == "listening" {
                        let _ = port_tx.send(event["port"].as_u64().unwrap_or(0) as u16);
                    } else {
                        sink.lock().unwrap_or_else(|e| e.into_inner()).push(event);
                    }
                }
            });
            let port = match port_rx.recv_timeout(START_BOUND) {
                Ok(p) if p != 0 => p,
                _ => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!("the Twilio peer did not start listening ({status:?})");
                }
            };
            Some(Peer {
                child,
                port,
                events,
                _dir: dir,
            })
        }

        /// `http://127.0.0.1:<port>`, for `base_url`.
        pub fn base_url(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        fn of(&self, kind: &str) -> Vec<Value> {
            // The peer writes its event before it answers, but the line is
            // read on another thread: let it land before looking.
            std::thread::sleep(std::time::Duration::from_millis(50));
            self.events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter(|e| e["event"] == kind)
                .cloned()
                .collect()
        }

        /// The create-message requests' forms.
        pub fn messages(&self) -> Vec<Value> {
            self.of("message")
                .into_iter()
                .map(|m| m["form"].clone())
                .collect()
        }

        /// The callbacks it posted and what Herald answered.
        pub fn callbacks(&self) -> Vec<Value> {
            self.of("callback")
        }

        /// Waits until it has posted `n` callbacks.
        pub async fn wait_callbacks(&self, n: usize) -> Vec<Value> {
            let start = Instant::now();
            loop {
                let c = self.callbacks();
                if c.len() >= n {
                    return c;
                }
                if start.elapsed() > EVENT_BOUND {
                    panic!(
                        "the Twilio peer posted {} callbacks, not {n}: {c:#?}",
                        c.len()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        /// Fails on anything the peer found that Twilio would not take.
        pub fn assert_no_problems(&self) {
            let p = self.of("problem");
            assert!(p.is_empty(), "the Twilio peer found problems: {p:#?}");
        }
    }

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// A peer for the test's account, with per-number behaviours.
fn start_peer(numbers: Value) -> Option<Peer> {
    Peer::start(json!({"account_sid": SID, "auth_token": TOKEN, "numbers": numbers}))
}

fn settings(peer: &Peer) -> Value {
    json!({"account_sid": SID, "auth_token": TOKEN, "from": FROM, "base_url": peer.base_url(),
           "timeout_ms": 5000})
}

// ---- provider level ----

fn configure(settings: &Value, webhook_url: &str) -> Result<TwilioClient, FieldError> {
    let roots = Roots::none();
    Twilio.client(&Configure {
        channel: Channel::Sms,
        settings,
        hook_id: "hook-twilio-test",
        webhook_url,
        tls: &roots,
        receipts: None,
    })
}

async fn send(client: &TwilioClient, route: &str, to: &str) -> SendReply {
    send_before(client, route, to, None).await
}

/// A send whose notification has `left_ms` until its deadline.
async fn send_before(
    client: &TwilioClient,
    route: &str,
    to: &str,
    left_ms: Option<i64>,
) -> SendReply {
    let content = Rendered {
        subject: None,
        title: None,
        body: "Salon One: see you at 10:00 & bring 50% off coupon".into(),
    };
    let now = now_ms();
    client
        .send(&SendRequest {
            tenant_id: "tenant-1",
            notification_id: "notif-1",
            channel: Channel::Sms,
            route,
            to,
            content: &content,
            idempotency_key: "key-1",
            deadline: now + 60_000,
            deliver_before: left_ms.map(|l| now + l),
            now,
        })
        .await
}

fn error_of(r: &SendReply) -> &str {
    match r {
        SendReply::Accepted { .. } => panic!("accepted: {r:?}"),
        SendReply::Transient { error, .. }
        | SendReply::Throttled { error, .. }
        | SendReply::Permanent { error }
        | SendReply::RecipientInvalid { error } => error,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_sends_the_form_with_basic_auth_and_the_status_callback() {
    let Some(peer) = start_peer(json!({})) else {
        return;
    };
    let hook = "http://127.0.0.1:1/v1/hooks/hook-twilio-test";
    let client = configure(&settings(&peer), hook).expect("configures");
    let r = send(&client, "sms", "+15550001111").await;
    let SendReply::Accepted {
        message_id: Some(id),
    } = &r
    else {
        panic!("not accepted: {r:?}");
    };
    assert!(id.starts_with("SM") && id.len() == 34, "{id}");
    let m = peer.messages();
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0]["To"], "+15550001111");
    assert_eq!(m[0]["From"], FROM);
    assert_eq!(
        m[0]["Body"],
        "Salon One: see you at 10:00 & bring 50% off coupon"
    );
    assert_eq!(m[0]["StatusCallback"], hook);

    // A Messaging Service instead of From.
    let mut s = settings(&peer);
    s.as_object_mut().expect("object").remove("from");
    s["messaging_service_sid"] = json!("MG00000000000000000000000000000abc");
    let client = configure(&s, hook).expect("configures");
    assert_eq!(
        send(&client, "sms", "+15550001112").await.kind(),
        "accepted"
    );
    let m = peer.messages();
    assert_eq!(
        m[1]["MessagingServiceSid"],
        "MG00000000000000000000000000000abc"
    );
    assert!(m[1].get("From").is_none(), "{m:#?}");
    assert!(m[1].get("ValidityPeriod").is_none(), "no deadline: {m:#?}");

    // An hour to the deadline: Twilio drops it if still queued then; a
    // deadline days away is held to Twilio's 36,000 s.
    send_before(&client, "sms", "+15550001113", Some(3_600_000)).await;
    send_before(&client, "sms", "+15550001114", Some(86_400_000)).await;
    let m = peer.messages();
    assert_eq!(m[2]["ValidityPeriod"], "3600");
    assert_eq!(m[3]["ValidityPeriod"], "36000");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_whatsapp_route_prefixes_to_and_from() {
    let Some(peer) = start_peer(json!({"whatsapp:+15550002222": {"answer": "not_whatsapp"}}))
    else {
        return;
    };
    let mut s = settings(&peer);
    s["routes"] = json!(["whatsapp", "sms"]);
    s["whatsapp_from"] = json!("+15559990000");
    let client = configure(&s, "http://127.0.0.1:1/v1/hooks/h").expect("configures");
    assert_eq!(
        send(&client, "whatsapp", "+15550001111").await.kind(),
        "accepted"
    );
    let r = send(&client, "whatsapp", "+15550002222").await;
    assert_eq!(r.kind(), "recipient_invalid", "{r:?}");
    assert!(error_of(&r).contains("63003"), "{r:?}");
    assert_eq!(
        send(&client, "sms", "+15550002222").await.kind(),
        "accepted"
    );
    let m = peer.messages();
    assert_eq!(m[0]["To"], "whatsapp:+15550001111");
    assert_eq!(m[0]["From"], "whatsapp:+15559990000");
    assert_eq!(m[1]["To"], "whatsapp:+15550002222");
    assert_eq!(m[2]["To"], "+15550002222");
    assert_eq!(m[2]["From"], FROM);
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_errors_map_to_the_cascade_kinds() {
    let Some(peer) = start_peer(json!({
        "+15550000400": {"answer": "invalid"},
        "+15550000429": {"answer": "busy_once"},
        "+15550000500": {"answer": "broken"},
        "+15550063003": {"answer": "not_whatsapp"},
    })) else {
        return;
    };
    let client = configure(&settings(&peer), "http://127.0.0.1:1/h").expect("configures");

    let r = send(&client, "sms", "+15550000400").await;
    assert_eq!(r.kind(), "recipient_invalid", "{r:?}");
    assert!(error_of(&r).contains("21211"), "{r:?}");
    assert!(error_of(&r).contains("not a valid phone number"), "{r:?}");

    let r = send(&client, "sms", "+15550000429").await;
    assert_eq!(
        r,
        SendReply::Throttled {
            error: "Twilio 429 error 20429: Too Many Requests".into(),
            retry_after_ms: Some(1000)
        }
    );
    assert_eq!(
        send(&client, "sms", "+15550000429").await.kind(),
        "accepted"
    );

    let r = send(&client, "sms", "+15550000500").await;
    assert_eq!(r.kind(), "transient", "{r:?}");
    // 63003 means "not on WhatsApp" only on the whatsapp route.
    assert_eq!(
        send(&client, "sms", "+15550063003").await.kind(),
        "permanent"
    );

    // A wrong token: Twilio's 401 (20003) is permanent, and never shows it.
    let mut s = settings(&peer);
    s["auth_token"] = json!("wrong-token-3b8e");
    let client = configure(&s, "http://127.0.0.1:1/h").expect("configures");
    let r = send(&client, "sms", "+15550001111").await;
    assert_eq!(r.kind(), "permanent", "{r:?}");
    assert!(error_of(&r).contains("20003"), "{r:?}");
    assert!(!error_of(&r).contains("wrong-token"), "{r:?}");

    // Nobody listening: transient.
    let mut s = settings(&peer);
    s["base_url"] = json!("http://127.0.0.1:1");
    let client = configure(&s, "http://127.0.0.1:1/h").expect("configures");
    assert_eq!(
        send(&client, "sms", "+15550001111").await.kind(),
        "transient"
    );
}

/// What a local receiver took: the URL Twilio called, headers, body.
type Taken = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Taken, tokio::task::JoinHandle<()>) {
    let taken: Taken = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app =
        Router::new()
            .route(
                "/v1/hooks/{id}",
                post(
                    |State(t): State<(Taken, String)>,
                     uri: Uri,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        let url = format!("{}{}", t.1, uri);
                        t.0.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((url, headers, body));
                        "ok"
                    },
                ),
            )
            .with_state((taken.clone(), base.clone()));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("{base}/v1/hooks/hook-twilio-test?x=1"), taken, task)
}

fn hook_request(url: &str, headers: &HeaderMap, body: &[u8]) -> HookRequest {
    HookRequest {
        method: http::Method::POST,
        url: url.into(),
        query: url
            .split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default(),
        headers: headers.clone(),
        body: Bytes::copy_from_slice(body),
        now: now_ms(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_hook_accepts_twilios_own_signature_and_refuses_a_tampered_one() {
    let Some(peer) = start_peer(json!({
        "+15550001111": {"callbacks": [
            {"MessageStatus": "sent"},
            {"MessageStatus": "delivered"}]},
        "+15550003333": {"callbacks": [
            {"MessageStatus": "undelivered", "ErrorCode": "30003"}]},
    })) else {
        return;
    };
    let (url, taken, task) = receiver().await;
    let client = configure(&settings(&peer), &url).expect("configures");
    let SendReply::Accepted {
        message_id: Some(id),
    } = send(&client, "sms", "+15550001111").await
    else {
        panic!("not accepted");
    };
    let SendReply::Accepted {
        message_id: Some(id3),
    } = send(&client, "sms", "+15550003333").await
    else {
        panic!("not accepted");
    };
    peer.wait_callbacks(3).await;
    let got = taken.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(got.len(), 3);
    let find = |status: &str| {
        got.iter()
            .find(|(_, _, b)| {
                String::from_utf8_lossy(b).contains(&format!("MessageStatus={status}"))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {status} callback"))
    };

    // `sent`: signed, but no news.
    let (u, h, b) = find("sent");
    let r = client
        .hook(&hook_request(&u, &h, &b))
        .await
        .expect("verified");
    assert!(r.receipts.is_empty(), "{r:?}");

    let (u, h, b) = find("delivered");
    assert!(h.contains_key("x-twilio-signature"));
    let r = client
        .hook(&hook_request(&u, &h, &b))
        .await
        .expect("verified");
    assert_eq!(r.receipts.len(), 1, "{r:?}");
    assert_eq!(r.receipts[0].message_id, id);
    assert!(r.receipts[0].delivered);

    let (u, h, b) = find("undelivered");
    let r = client
        .hook(&hook_request(&u, &h, &b))
        .await
        .expect("verified");
    assert_eq!(r.receipts[0].message_id, id3);
    assert!(!r.receipts[0].delivered);
    let e = r.receipts[0].error.clone().unwrap_or_default();
    assert!(e.starts_with("Twilio 30003"), "{e}");

    // Tampered: a param changed after signing, another URL, no header,
    // another account's token.
    let (u, h, b) = find("delivered");
    let tampered =
        String::from_utf8_lossy(&b).replace("MessageStatus=delivered", "MessageStatus=failed");
    let unauthorized = |r: Result<_, HookError>| matches!(r, Err(HookError::Unauthorized(_)));
    assert!(unauthorized(
        client
            .hook(&hook_request(&u, &h, tampered.as_bytes()))
            .await
    ));
    let other_url = u.replace("?x=1", "?x=2");
    assert!(unauthorized(
        client.hook(&hook_request(&other_url, &h, &b)).await
    ));
    let mut no_sig = h.clone();
    no_sig.remove("x-twilio-signature");
    assert!(unauthorized(
        client.hook(&hook_request(&u, &no_sig, &b)).await
    ));
    let mut s = settings(&peer);
    s["auth_token"] = json!("another-accounts-token");
    let other = configure(&s, &url).expect("configures");
    assert!(unauthorized(other.hook(&hook_request(&u, &h, &b)).await));
    task.abort();
    peer.assert_no_problems();
}

#[test]
fn twilio_settings_errors_name_the_field_and_never_show_the_token() {
    let base = json!({"account_sid": SID, "auth_token": TOKEN, "from": FROM});
    for (field, value, named) in [
        ("account_sid", json!("AC-not-a-sid"), "settings.account_sid"),
        ("from", json!("5550001111"), "settings.from"),
        (
            "routes",
            json!(["whatsapp", "whatsapp"]),
            "settings.routes[1]",
        ),
        ("routes", json!(["telegram"]), "settings.routes[0]"),
        ("colour", json!("red"), "settings.colour"),
        (
            "auth_token",
            json!({"nested": TOKEN}),
            "settings.auth_token",
        ),
        ("timeout_ms", json!(0), "settings.timeout_ms"),
    ] {
        let mut bad = base.clone();
        bad[field] = value;
        let e = configure(&bad, "").expect_err("refused");
        assert_eq!(e.field, named, "{e:?}");
        assert!(!format!("{e:?} {e}").contains(TOKEN), "{e:?}");
    }
    let client = configure(&base, "").expect("configures");
    let debug = format!("{client:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains(SID), "{debug}");
}

// ---- end to end through the HTTP API ----

/// Puts the `sms` integration, checks the token is shown as set and never
/// itself, and returns the integration's webhook URL.
async fn put_twilio(app: &TestApp, key: &str, settings: Value) -> String {
    app.integration(
        key,
        "sms",
        json!({"provider": "twilio", "settings": settings, "confirm": "receipt", "window_s": 60}),
    )
    .await;
    let (status, got) = app.get("/v1/integrations/sms", key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["settings"]["auth_token"], "set", "{got:#}");
    assert!(!contains_text(&got, TOKEN), "GET shows the token: {got}");
    got["webhook_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no webhook_url: {got:#}"))
        .to_string()
}

async fn sms_to(app: &TestApp, key: &str, phone: &str) -> String {
    app.put_type(
        key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "See you at {{ time }}"}}}}),
    )
    .await;
    app.put_client(key, "ana", json!({"name": "Ana", "phone": phone}))
        .await;
    app.trigger(
        key,
        json!({"type": "reminder", "client": "ana", "data": {"time": "10:00"}}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_e2e_delivered_callback_confirms_and_a_forged_one_is_refused() {
    let Some(peer) = start_peer(json!({"+15550001111": {
        "callbacks": [{"MessageStatus": "sent"}, {"MessageStatus": "delivered"}],
        "forge": true}}))
    else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    let url = put_twilio(&app, &key, settings(&peer)).await;
    let id = sms_to(&app, &key, "+15550001111").await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let a = attempts(&n, "sms");
    assert_eq!(a.len(), 1, "{n:#}");
    let receipts = a[0]["receipts"].as_array().cloned().unwrap_or_default();
    assert_eq!(receipts.len(), 1, "only the real delivered receipt: {n:#}");
    assert_eq!(receipts[0]["status"], "delivered", "{n:#}");

    let m = peer.messages();
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0]["Body"], "See you at 10:00");
    assert_eq!(m[0]["StatusCallback"], url.as_str());
    let cbs = peer.wait_callbacks(3).await;
    assert_eq!(cbs[0]["kind"], "forged", "{cbs:#?}");
    assert_eq!(
        cbs[0]["status"], 401,
        "the tampered callback is refused: {cbs:#?}"
    );
    assert!(cbs[1..].iter().all(|c| c["status"] == 200), "{cbs:#?}");
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_e2e_undelivered_30003_fails_the_sms_with_the_code() {
    let Some(peer) = start_peer(json!({"+15550003333": {"callbacks": [
        {"MessageStatus": "sent"},
        {"MessageStatus": "undelivered", "ErrorCode": "30003"}]}}))
    else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    put_twilio(&app, &key, settings(&peer)).await;
    let id = sms_to(&app, &key, "+15550003333").await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(outcome(&n, "sms"), "failed", "{n:#}");
    assert!(reason(&n, "sms").contains("30003"), "{n:#}");
    assert_ne!(n["status"], "delivered", "{n:#}");
    assert_eq!(peer.messages().len(), 1);
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_e2e_not_on_whatsapp_moves_to_the_sms_route() {
    let Some(peer) = start_peer(json!({
        "whatsapp:+15550002222": {"answer": "not_whatsapp"},
        "+15550002222": {"callbacks": [{"MessageStatus": "delivered"}]}}))
    else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    let mut s = settings(&peer);
    s["routes"] = json!(["whatsapp", "sms"]);
    put_twilio(&app, &key, s).await;
    let id = sms_to(&app, &key, "+15550002222").await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let a = attempts(&n, "sms");
    assert_eq!(a.len(), 2, "{n:#}");
    let text = n.to_string();
    assert!(
        text.contains("63003"),
        "the whatsapp refusal is kept: {n:#}"
    );
    let m = peer.messages();
    assert_eq!(m.len(), 2, "{m:#?}");
    assert_eq!(m[0]["To"], "whatsapp:+15550002222");
    assert_eq!(m[0]["From"], format!("whatsapp:{FROM}"));
    assert_eq!(m[1]["To"], "+15550002222");
    assert_eq!(m[1]["From"], FROM);
    peer.assert_no_problems();
}

/// A status callback that arrives before Herald has the create request's
/// answer (so before it knows the message's SID) still moves the
/// notification: the callback waits for the answer instead of being dropped
/// as unknown (Twilio does not post a status twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_e2e_a_callback_that_beats_the_answer_is_kept() {
    let Some(peer) = start_peer(json!({
        "+15550003333": {"callbacks": [{"MessageStatus": "delivered"}], "callback_first_ms": 400}}))
    else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    put_twilio(&app, &key, settings(&peer)).await;
    let id = sms_to(&app, &key, "+15550003333").await;
    let cbs = peer.wait_callbacks(1).await;
    assert_eq!(cbs[0]["status"], 200, "{cbs:#?}");
    let n = app.wait_final(&key, &id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(
        attempts(&n, "sms")[0]["receipts"].as_array().map(Vec::len),
        Some(1),
        "{n:#}"
    );
    peer.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_e2e_the_token_is_set_never_shown_and_bad_settings_are_named() {
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    let settings = json!({"account_sid": SID, "auth_token": TOKEN, "from": FROM,
                          "routes": ["whatsapp", "sms"], "whatsapp_from": "+15559990000",
                          "base_url": "https://api.twilio.com", "timeout_ms": 5000});
    let (status, put) = app
        .put(
            "/v1/integrations/sms",
            &key,
            &json!({"provider": "twilio", "settings": settings}),
        )
        .await;
    assert!(status.is_success(), "{status} {put}");
    assert!(!contains_text(&put, TOKEN), "PUT answer: {put}");
    let (status, got) = app.get("/v1/integrations/sms", &key).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["provider"], "twilio", "{got}");
    assert_eq!(got["settings"]["auth_token"], "set", "{got}");
    assert_eq!(got["settings"]["account_sid"], SID, "{got}");
    assert!(
        got["webhook_url"]
            .as_str()
            .is_some_and(|u| u.contains("/v1/hooks/")),
        "{got}"
    );
    assert!(!contains_text(&got, TOKEN), "GET: {got}");

    for (field, value, named) in [
        ("account_sid", json!("nope"), "settings.account_sid"),
        (
            "messaging_service_sid",
            json!("MG00000000000000000000000000000abc"),
            "settings.messaging_service_sid",
        ),
        ("routes", json!(["sms", "sms"]), "settings.routes[1]"),
    ] {
        let mut bad = settings.clone();
        bad[field] = value;
        let (status, body) = app
            .put(
                "/v1/integrations/sms",
                &key,
                &json!({"provider": "twilio", "settings": bad}),
            )
            .await;
        assert_error(
            &format!("PUT twilio with a bad {field}"),
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(named),
        );
        assert!(!contains_text(&body, TOKEN), "{body}");
    }
    // A token of the wrong type: refused (400, a wrong type), named,
    // and not quoted.
    let mut bad = settings.clone();
    bad["auth_token"] = json!([TOKEN]);
    let (status, body) = app
        .put(
            "/v1/integrations/sms",
            &key,
            &json!({"provider": "twilio", "settings": bad}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(body["error"]["field"], "settings.auth_token", "{body}");
    assert!(!contains_text(&body, TOKEN), "{body}");
    // Twilio serves sms only.
    let (status, body) = app
        .put(
            "/v1/integrations/email",
            &key,
            &json!({"provider": "twilio", "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
