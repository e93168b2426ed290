//! The `smpp` provider against a real SMSC: the npm package `smpp` in
//! server mode, driven by `tests/peers/smsc_peer.js` (see its header),
//! started per test as a child process.
//!
//! Without node or the package these tests say SKIPPED and pass, except
//! under CI (`CI` set), where they fail: `npm install --prefix
//! crates/herald/tests/peers`.

use crate::helpers::{attempts, outcome, spawn_app};
use herald::providers::smpp::Smpp;
use herald::providers::tls::Roots;
use herald::providers::{Client, Configure, HookReceipt, PushedReceipt, SendReply, SendRequest};
use herald_core::{Channel, Rendered};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

pub(super) const PASSWORD: &str = "pw8chars";
const EVENT_BOUND: Duration = Duration::from_secs(20);

pub(super) fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Whether node and the package are there; panics under CI when not.
fn available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let pkg = peers_dir().join("node_modules/smpp").exists();
    if node && pkg {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "\n\n*** the SMSC peer needs node and the npm package smpp: \
             `npm install --prefix crates/herald/tests/peers` ***\n"
        );
    }
    eprintln!(
        "\n*** SKIPPED: node or the npm package smpp is missing \
         (npm install --prefix crates/herald/tests/peers) ***\n"
    );
    false
}

/// A running SMSC peer; killed when dropped.
pub(super) struct Peer {
    child: Child,
    port: u16,
    pub(super) events: Arc<Mutex<Vec<Value>>>,
    _dir: tempfile::TempDir,
}

impl Peer {
    pub(super) fn start(mut config: Value) -> Option<Peer> {
        if !available() {
            return None;
        }
        config["password"] = json!(PASSWORD);
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("smsc.json");
        std::fs::write(&path, config.to_string()).expect("config written");
        let mut child = Command::new("node")
            .arg(peers_dir().join("smsc_peer.js"))
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node smsc_peer.js");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let Ok(e) = serde_json::from_str::<Value>(&line) else {
                    eprintln!("smsc peer said: {line}");
                    continue;
                };
                if e["event"] == "listening" {
                    let _ = tx.send(e["port"].as_u64().unwrap_or(0) as u16);
                } else {
                    sink.lock().unwrap().push(e);
                }
            }
        });
        let port = rx.recv_timeout(EVENT_BOUND).expect("the SMSC peer listens");
        Some(Peer {
            child,
            port,
            events,
            _dir: dir,
        })
    }

    pub(super) fn of(&self, kind: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == kind)
            .cloned()
            .collect()
    }

    /// The events of a kind once there are at least `n` (the peer's lines
    /// are read as they come, so the last may lag the answer it sent).
    pub(super) async fn at_least(&self, kind: &str, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got = self.of(kind);
            if got.len() >= n || start.elapsed() > EVENT_BOUND {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(super) fn settings(&self) -> Value {
        json!({"host": "127.0.0.1", "port": self.port, "system_id": "herald",
               "password": PASSWORD, "source_addr": "Salon", "timeout_ms": 5000})
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(settings: &Value) -> (Arc<dyn Client>, UnboundedReceiver<PushedReceipt>) {
    let (tx, rx) = unbounded_channel();
    let roots = Roots::none();
    let c = herald::providers::Provider::configure(
        &Smpp,
        &Configure {
            channel: Channel::Sms,
            settings,
            hook_id: "hook-smpp",
            webhook_url: "http://127.0.0.1/v1/hooks/hook-smpp",
            tls: &roots,
            receipts: Some(tx),
        },
    )
    .unwrap_or_else(|e| panic!("configure: {e}"));
    (c, rx)
}

async fn send(c: &dyn Client, to: &str, body: &str) -> SendReply {
    send_before(c, to, body, None).await
}

/// A send whose notification has `left_ms` until its deadline.
async fn send_before(c: &dyn Client, to: &str, body: &str, left_ms: Option<i64>) -> SendReply {
    let content = Rendered {
        subject: None,
        title: None,
        body: body.to_string(),
    };
    let req = SendRequest {
        tenant_id: "t",
        notification_id: "n",
        channel: Channel::Sms,
        route: "sms",
        to,
        content: &content,
        idempotency_key: "key-1",
        deadline: 0,
        deliver_before: left_ms,
        now: 0,
    };
    c.send(&req).await
}

/// The next pushed receipt, answered as recorded (as the service does once
/// it has committed it).
async fn receipt(rx: &mut UnboundedReceiver<PushedReceipt>) -> (String, HookReceipt) {
    let p = tokio::time::timeout(EVENT_BOUND, rx.recv())
        .await
        .expect("a receipt in time")
        .expect("the channel is open");
    let _ = p.recorded.send(());
    (p.hook_id, p.receipt)
}

fn accepted_id(r: &SendReply) -> String {
    match r {
        SendReply::Accepted {
            message_id: Some(id),
        } => id.clone(),
        other => panic!("not accepted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_bind_refused_is_permanent_and_never_shows_the_password() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let mut s = peer.settings();
    s["password"] = json!("wrongpw1");
    let (c, _rx) = client(&s);
    let r = send(c.as_ref(), "+15550000009", "Hello").await;
    let SendReply::Permanent { error } = &r else {
        panic!("{r:?}")
    };
    assert!(error.contains("bind refused"), "{error}");
    assert!(error.contains("ESME_RINVPASWD"), "{error}");
    assert!(!error.contains("wrongpw1"), "{error}");
    let roots = Roots::none();
    let typed = Smpp
        .client(&Configure {
            channel: Channel::Sms,
            settings: &s,
            hook_id: "hook-smpp",
            webhook_url: "http://127.0.0.1/v1/hooks/hook-smpp",
            tls: &roots,
            receipts: None,
        })
        .unwrap();
    let shown = format!("{typed:?}");
    assert!(
        shown.contains("password") && !shown.contains("wrongpw1"),
        "{shown}"
    );
    assert!(peer.submits_none());
}

impl Peer {
    fn submits_none(&self) -> bool {
        self.of("submit_sm").is_empty()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_text_and_tlv_receipts_are_pushed_delivered_or_failed() {
    let Some(peer) = Peer::start(json!({
        "receipts": {"15550000002": "UNDELIV"},
        "tlv_receipts": ["15550000003"]
    })) else {
        return;
    };
    let (c, mut rx) = client(&peer.settings());
    let id = accepted_id(&send(c.as_ref(), "+15550000001", "Hello").await);
    let (hook, r) = receipt(&mut rx).await;
    assert_eq!(hook, "hook-smpp");
    assert_eq!(r.message_id, id);
    assert!(r.delivered);
    let id = accepted_id(&send(c.as_ref(), "+15550000002", "Hello").await);
    let (_, r) = receipt(&mut rx).await;
    assert_eq!(r.message_id, id);
    assert!(!r.delivered);
    assert!(r.error.unwrap().contains("UNDELIV"));
    let id = accepted_id(&send(c.as_ref(), "+15550000003", "Hello").await);
    let (_, r) = receipt(&mut rx).await;
    assert_eq!((r.message_id.as_str(), r.delivered), (id.as_str(), true));
    // One bind for all three, and every deliver_sm answered.
    assert_eq!(peer.of("bind").len(), 1);
    let s = peer.of("submit_sm");
    assert_eq!(s[0]["registered_delivery"], 1);
    assert_eq!(s[0]["source_ton"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_ucs2_long_text_is_concatenated_with_one_reference() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let (c, mut rx) = client(&peer.settings());
    // 210 UCS-2 characters: more than three parts of 67 hold, so 4.
    let text: String = "Привет, Ана! ".repeat(20).chars().take(210).collect();
    assert_eq!(text.chars().count(), 210);
    assert_eq!(herald_core::sms::sms_size(&text).segments, 4);
    let id = accepted_id(&send(c.as_ref(), "+15550000001", &text).await);
    let s = peer.at_least("submit_sm", 4).await;
    assert_eq!(s.len(), 4, "{s:#?}");
    let mut reference = None;
    let mut joined = String::new();
    for (i, p) in s.iter().enumerate() {
        assert_eq!(p["data_coding"], 8, "{p}");
        assert_eq!(p["esm_class"].as_u64().unwrap() & 0x40, 0x40, "{p}");
        assert!(p["units"].as_u64().unwrap() <= 67, "{p}");
        let udh: Vec<u64> = p["udh"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(udh[..2], [0x00, 0x03], "{p}");
        assert_eq!(udh[3], 4);
        assert_eq!(udh[4], i as u64 + 1);
        assert_eq!(*reference.get_or_insert(udh[2]), udh[2]);
        joined.push_str(p["text"].as_str().unwrap());
    }
    assert_eq!(joined, text);
    assert_eq!(s[0]["message_id"].as_str().unwrap(), id);
    // The first part's receipt is the attempt's; the others are dropped.
    let (_, r) = receipt(&mut rx).await;
    assert_eq!(r.message_id, id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_gsm7_160_is_one_part_161_is_two() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let (c, _rx) = client(&peer.settings());
    accepted_id(&send(c.as_ref(), "+15550000001", &"a".repeat(160)).await);
    let s = peer.at_least("submit_sm", 1).await;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["data_coding"], 0);
    // A single message carries no UDH: the UDHI bit (0x40) is clear.
    assert_eq!(s[0]["esm_class"].as_u64().unwrap() & 0x40, 0, "{s:#?}");
    accepted_id(&send(c.as_ref(), "+15550000001", &"b".repeat(161)).await);
    let s = peer.at_least("submit_sm", 3).await;
    assert_eq!(s.len(), 3, "{s:#?}");
    assert_eq!(s[1]["units"], 153);
    assert_eq!(s[2]["units"], 8);
    assert_eq!(s[1]["esm_class"].as_u64().unwrap() & 0x40, 0x40, "{s:#?}");
    assert!(s[0]["validity_ms_ahead"].is_null(), "no deadline: {s:#?}");
    // Two hours to the deadline: a relative validity_period of 2 h, on
    // every part.
    accepted_id(
        &send_before(
            c.as_ref(),
            "+15550000001",
            &"c".repeat(161),
            Some(7_200_000),
        )
        .await,
    );
    let s = peer.at_least("submit_sm", 5).await;
    for part in &s[3..5] {
        let ahead = part["validity_ms_ahead"]
            .as_i64()
            .expect("a validity_period");
        assert!((ahead - 7_200_000).abs() < 5_000, "{part}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_throttled_says_slow_down_refused_number_is_recipient_invalid() {
    let Some(peer) = Peer::start(json!({
        "throttle_once": ["15550000001"],
        "refuse": ["15550000004"]
    })) else {
        return;
    };
    let (c, _rx) = client(&peer.settings());
    let r = send(c.as_ref(), "+15550000001", "Hi").await;
    assert!(matches!(r, SendReply::Throttled { .. }), "{r:?}");
    assert_eq!(r.kind(), "transient");
    accepted_id(&send(c.as_ref(), "+15550000001", "Hi").await);
    let r = send(c.as_ref(), "+15550000004", "Hi").await;
    assert!(matches!(r, SendReply::RecipientInvalid { .. }), "{r:?}");
}

/// An SMSC that takes 5 submits a second answers the rest of a burst
/// `ESME_RTHROTTLED`: Herald pauses the integration (it has no
/// `max_per_second`) and sends the rest at a pace that recovers, so every
/// notification is delivered and, once the first answers are in, few
/// submits are throttled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_a_throttled_burst_is_slowed_down_and_all_delivered() {
    const BURST: usize = 30;
    const SMSC_RATE: usize = 5;
    let Some(peer) = Peer::start(json!({"max_per_second": SMSC_RATE, "receipt_delay_ms": 50}))
    else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Busy Salon").await.api_key;
    app.integration(
        &key,
        "sms",
        json!({"provider": "smpp", "settings": peer.settings(), "confirm": "receipt", "window_s": 300}),
    )
    .await;
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "Reminder {{ code }}"}}}}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..BURST {
        app.put_client(
            &key,
            &format!("c{i}"),
            json!({"phone": format!("+1555100{i:04}")}),
        )
        .await;
    }
    let start = Instant::now();
    for i in 0..BURST {
        ids.push(
            app.trigger(
                &key,
                json!({"type": "reminder", "client": format!("c{i}"), "data": {"code": format!("T{i:03}")}}),
            )
            .await,
        );
    }
    for id in &ids {
        let n = app.wait_final(&key, id).await;
        assert_eq!(
            n["status"], "delivered",
            "throttling failed a message: {n:#}"
        );
    }
    let took = start.elapsed();
    let submits = peer.of("submit_sm");
    let at = |e: &Value| e["at"].as_u64().unwrap_or(0);
    let throttled: Vec<&Value> = submits
        .iter()
        .filter(|s| s["status"] == "ESME_RTHROTTLED")
        .collect();
    let ok = submits.iter().filter(|s| s["status"] == "ok").count();
    assert_eq!(ok, BURST, "each text accepted once: {submits:#?}");
    let first = throttled
        .iter()
        .map(|s| at(s))
        .min()
        .expect("the SMSC throttled the burst");
    // The burst's first sends were all out before any answer came; what
    // goes after them is paced. Each message retried on its own, with no
    // slowing down, would meet the SMSC's limit again about once a second
    // for most of the burst.
    let again = throttled.iter().filter(|s| at(s) > first + 1_000).count();
    eprintln!(
        "smpp throttling: {BURST} messages, SMSC at {SMSC_RATE}/s: {} throttled answers, \
         {again} of them a second or more after the first; all delivered in {took:?}",
        throttled.len()
    );
    assert!(
        again <= BURST / 3,
        "{again} submits throttled a second or more after the first throttling answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_a_dropped_link_is_bound_again() {
    let Some(peer) = Peer::start(json!({"drop_after": 1})) else {
        return;
    };
    let (c, _rx) = client(&peer.settings());
    accepted_id(&send(c.as_ref(), "+15550000001", "one").await);
    // Wait until the peer has closed the link (50 ms after it says so).
    let start = Instant::now();
    while peer.of("dropped").is_empty() {
        assert!(
            start.elapsed() < EVENT_BOUND,
            "the peer never dropped the link"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    loop {
        let r = send(c.as_ref(), "+15550000001", "two").await;
        match r {
            SendReply::Accepted { .. } => break,
            SendReply::Transient { .. } if start.elapsed() < EVENT_BOUND => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(peer.of("dropped").len(), 1);
    // The peer reports its events on its own pipe: the second bind may be
    // told a moment after the submit it carried was answered.
    let start = Instant::now();
    while peer.of("bind").len() < 2 {
        assert!(
            start.elapsed() < EVENT_BOUND,
            "not bound again: {:?}",
            peer.of("bind")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_receipts_confirm_and_fail_through_the_api() {
    let Some(peer) = Peer::start(json!({"receipts": {"15550002222": "UNDELIV"}})) else {
        return;
    };
    let app = spawn_app().await;
    let key = app.create_tenant("Salon One").await.api_key;
    app.integration(
        &key,
        "sms",
        json!({"provider": "smpp", "settings": peer.settings(), "confirm": "receipt", "window_s": 60}),
    )
    .await;
    let (_, got) = app.get("/v1/integrations/sms", &key).await;
    assert!(!got.to_string().contains(PASSWORD), "{got}");
    app.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "At {{ time }}"}}}}),
    )
    .await;
    app.put_client(&key, "ana", json!({"name": "Ana", "phone": "+15550001111"}))
        .await;
    app.put_client(&key, "bo", json!({"name": "Bo", "phone": "+15550002222"}))
        .await;
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "ana", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(outcome(&n, "sms"), "delivered", "{n:#}");
    let a = attempts(&n, "sms");
    assert_eq!(a.len(), 1, "{n:#}");
    let id = app
        .trigger(
            &key,
            json!({"type": "reminder", "client": "bo", "data": {"time": "10:00"}}),
        )
        .await;
    let n = app.wait_final(&key, &id).await;
    assert_eq!(outcome(&n, "sms"), "failed", "{n:#}");
    assert!(!n.to_string().contains(PASSWORD));
}

/// A receipt is acknowledged to the SMSC (`deliver_sm_resp`) only once the
/// service has recorded it: one the service could not record is left
/// unacknowledged, so the SMSC sends it again rather than it being lost in
/// a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_a_receipt_is_acknowledged_only_once_recorded() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let (c, mut rx) = client(&peer.settings());
    accepted_id(&send(c.as_ref(), "+15550000001", "one").await);
    let lost = tokio::time::timeout(EVENT_BOUND, rx.recv())
        .await
        .expect("a receipt in time")
        .expect("the channel is open");
    // Not recorded (the process died, say): dropped unanswered.
    drop(lost);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        peer.of("deliver_sm_resp").is_empty(),
        "{:?}",
        peer.of("deliver_sm_resp")
    );
    accepted_id(&send(c.as_ref(), "+15550000001", "two").await);
    receipt(&mut rx).await;
    let acks = peer.at_least("deliver_sm_resp", 1).await;
    assert_eq!(acks.len(), 1, "{acks:?}");
}

/// After a restart Herald binds to the SMSC at once, with nothing to send:
/// receipts owed for messages sent before the restart arrive only on a
/// bind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpp_binds_when_herald_starts_so_owed_receipts_can_arrive() {
    let Some(peer) = Peer::start(json!({})) else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut first = crate::secrets::serve(dir.path(), &dir.path().join("1.log")).await;
    let key = first.api.create_tenant("Salon").await.api_key;
    first
        .api
        .integration(
            &key,
            "sms",
            json!({"provider": "smpp", "settings": peer.settings(), "confirm": "receipt"}),
        )
        .await;
    // Configured, nothing sent: no bind yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(peer.of("bind").is_empty(), "{:?}", peer.of("bind"));
    first.child.kill().await.ok();
    let _second = crate::secrets::serve(dir.path(), &dir.path().join("2.log")).await;
    let binds = peer.at_least("bind", 1).await;
    assert_eq!(binds.len(), 1, "{binds:?}");
}
