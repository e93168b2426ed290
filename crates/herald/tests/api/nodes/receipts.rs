//! Receipts at any node: one `herald worker` sends SMS through the
//! `webhook` provider to a local gateway; the gateway's signed receipts are
//! posted to two different API nodes (`herald serve --no-workers`), neither
//! of which sent anything. Each receipt must move its own notification,
//! whichever node took it.

use super::{database_url, migrate, Node, Schema};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_nodes_receipts_7c1e";
const NOTIFICATIONS: usize = 12;
const BOUND: Duration = Duration::from_secs(60);

/// What the gateway was asked to send: notification id → its message id.
type Sent = Arc<Mutex<BTreeMap<String, String>>>;

/// A gateway that takes every send (signature checks are the webhook
/// provider's own tests) and answers with a message id of its own.
async fn gateway() -> (String, Sent, tokio::task::JoinHandle<()>) {
    async fn take(State(sent): State<Sent>, Json(body): Json<Value>) -> Json<Value> {
        let mut sent = sent.lock().unwrap_or_else(|e| e.into_inner());
        let id = body["notification_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let message_id = format!("gw-{}", sent.len());
        sent.entry(id).or_insert(message_id.clone());
        Json(json!({"message_id": message_id}))
    }
    let sent: Sent = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let app = Router::new()
        .route("/send", post(take))
        .with_state(sent.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/send"), sent, task)
}

/// `Herald-Signature` of a receipt body, as the contract says.
fn signature(body: &[u8]) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    m.update(format!("{t}.").as_bytes());
    m.update(body);
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

fn fails(i: usize) -> bool {
    i.is_multiple_of(3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_taken_at_any_api_node_move_their_own_notification() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    let node_url = schema.node_url();
    let dir = tempfile::tempdir().expect("a temp dir");
    migrate(&node_url).await;
    let (gateway_url, sent, gateway_task) = gateway().await;

    let api_a = Node::start(dir.path(), "api-a", &["serve", "--no-workers"], &node_url).await;
    let api_b = Node::start(dir.path(), "api-b", &["serve", "--no-workers"], &node_url).await;
    let worker = Node::start(dir.path(), "worker", &["worker"], &node_url).await;

    let a = api_a.api.clone();
    let key = a.create_tenant("Receipts Salon").await.api_key;
    a.integration(
        &key,
        "sms",
        json!({"provider": "webhook", "confirm": "receipt", "window_s": 60,
               "settings": {"url": gateway_url, "secret": SECRET, "timeout_ms": 5000}}),
    )
    .await;
    let (status, integration) = a.get("/v1/integrations/sms", &key).await;
    assert_eq!(status, StatusCode::OK, "{integration}");
    let hook = integration["webhook_url"]
        .as_str()
        .and_then(|u| u.split("/v1/hooks/").nth(1))
        .unwrap_or_else(|| panic!("no webhook_url: {integration:#}"))
        .to_string();
    a.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "sms", "scenario": "always"}],
               "templates": {"sms": {"en": {"body": "See you at {{ time }}"}}}}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..NOTIFICATIONS {
        a.put_client(
            &key,
            &format!("c{i}"),
            json!({"phone": format!("+1555{i:07}")}),
        )
        .await;
        ids.push(
            a.trigger(
                &key,
                json!({"type": "reminder", "client": format!("c{i}"), "data": {"time": "10:00"}}),
            )
            .await,
        );
    }

    // The worker sends them all; none is final before its receipt.
    let start = Instant::now();
    while sent.lock().unwrap_or_else(|e| e.into_inner()).len() < NOTIFICATIONS {
        assert!(
            start.elapsed() < BOUND,
            "the worker did not send them all; its log:\n{}",
            std::fs::read_to_string(&worker.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let message_ids = sent.lock().unwrap_or_else(|e| e.into_inner()).clone();

    // A worker takes no webhooks: the receipts must be taken by API nodes.
    let (status, _) = worker
        .api
        .raw(
            Method::POST,
            &format!("/v1/hooks/{hook}"),
            None,
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (i, id) in ids.iter().enumerate() {
        let at = if i % 2 == 0 { &api_b.api } else { &api_a.api };
        let body = if fails(i) {
            json!({"message_id": message_ids[id], "status": "failed", "error": "handset off"})
        } else {
            json!({"message_id": message_ids[id], "status": "delivered", "error": null})
        };
        let bytes = serde_json::to_vec(&body).expect("JSON");
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/hooks/{hook}", at.base))
            .header("content-type", "application/json")
            .header("herald-signature", signature(&bytes))
            .body(bytes)
            .send()
            .await
            .expect("the node answers");
        assert_eq!(answer.status(), StatusCode::OK, "receipt {i}");
    }

    for (i, id) in ids.iter().enumerate() {
        let n = a.wait_final(&key, id).await;
        let (status, outcome) = if fails(i) {
            ("failed", "failed")
        } else {
            ("delivered", "delivered")
        };
        assert_eq!(n["status"], status, "c{i}: {n:#}");
        assert_eq!(n["channels"][0]["outcome"], outcome, "c{i}: {n:#}");
        let receipts = n["channels"][0]["attempts"][0]["receipts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(receipts.len(), 1, "c{i}: its own receipt only: {n:#}");
    }
    gateway_task.abort();
    drop(worker);
    drop(api_b);
    drop(api_a);
    drop(schema);
}
