//! Retention through the HTTP contract, on a `ManualClock`: a finished
//! notification older than the retention disappears from GET and the log,
//! a pending one as old stays whole and reaches its outcome, and an idempotency
//! key dedupes within its window and not after it (before the pruner ever
//! ran). The server is real (axum on port 0); only its clock is in the
//! test's hands, and the dispatcher and pruner are run by hand.

use crate::helpers::{Api, ADMIN_TOKEN};
use herald::clock::ManualClock;
use herald::providers::simulator::Simulator;
use herald::providers::Registry;
use herald::retention::{self, RetentionConfig, DAY_MS, HOUR_MS};
use herald::service::{App, Env};
use herald::worker::{run_until_idle, WorkerConfig};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// 2026-12-01T09:00:00Z: far from the machine's clock.
const T0: i64 = 1_796_115_600_000;

struct Rig {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    api: Api,
    key: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let backend = herald_store::open(&url).await.expect("store");
    let clock = Arc::new(ManualClock::at(T0));
    let providers = Registry::real().with(Arc::new(Simulator::new(backend.sim.clone())));
    let app = App::with_clock(
        backend.store,
        backend.sim,
        providers,
        Env::ephemeral(),
        clock.clone(),
    );
    app.set_idempotency_window_ms(48 * HOUR_MS);
    app.ensure_admin_token(Some(ADMIN_TOKEN))
        .await
        .expect("admin token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("address");
    let router = herald::api::router(app.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let api = Api::new(format!("http://{addr}"));
    let tenant = api.create_tenant("Retention Salon").await;
    let key = tenant.api_key;
    api.simulator(&key, "email", json!({"default": "delivered"}))
        .await;
    api.put_type(
        &key,
        "reminder",
        json!({
            "audience": "client",
            "channels": [{"channel": "email", "scenario": "always"}],
            "templates": {"email": {"en": {"subject": "Hi", "body": "See you, {{ client_name }}"}}}
        }),
    )
    .await;
    api.put_client(
        &key,
        "ana",
        json!({"name": "Ana", "email": "ana@example.com", "locale": "en"}),
    )
    .await;
    Rig {
        _dir: dir,
        app,
        clock,
        api,
        key,
        server,
    }
}

fn trigger_body(key: Option<&str>) -> serde_json::Value {
    let mut b = json!({"type": "reminder", "client": "ana", "data": {"client_name": "Ana"}});
    if let Some(k) = key {
        b["idempotency_key"] = json!(k);
    }
    b
}

#[tokio::test]
async fn old_finished_notifications_go_and_pending_ones_stay() {
    let r = rig().await;
    let cfg = WorkerConfig::default();
    let finished = r.api.trigger(&r.key, trigger_body(None)).await;
    run_until_idle(&r.app, &cfg).await.expect("dispatch");
    assert_eq!(
        r.api.notification(&r.key, &finished).await["status"],
        "delivered"
    );
    assert_eq!(r.api.outbox(&r.key, &finished).await.len(), 1);
    // Accepted, never dispatched: pending as long as it takes.
    let pending = r.api.trigger(&r.key, trigger_body(None)).await;

    // 29 days on, nothing is old enough.
    r.clock.advance(29 * DAY_MS);
    let rc = RetentionConfig::default();
    let p = retention::prune_until_done(&r.app, &rc)
        .await
        .expect("prune");
    assert_eq!((p.notifications, p.sim_messages), (0, 0), "{p:?}");
    assert_eq!(
        r.api.notification(&r.key, &finished).await["status"],
        "delivered"
    );

    // 31 days after it finished: gone from GET, the log and the outbox.
    r.clock.advance(2 * DAY_MS);
    let p = retention::prune_until_done(&r.app, &rc)
        .await
        .expect("prune");
    assert_eq!(
        (p.notifications, p.attempts, p.sim_messages),
        (1, 1, 1),
        "{p:?}"
    );
    let (status, body) = r
        .api
        .get(&format!("/v1/notifications/{finished}"), &r.key)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (log, _) = r.api.log(&r.key, "limit=100").await;
    let ids: Vec<&str> = log.iter().filter_map(|n| n["id"].as_str()).collect();
    assert_eq!(ids, vec![pending.as_str()]);
    assert!(r.api.outbox(&r.key, &finished).await.is_empty());

    // The pending one of the same age was kept whole, and its cascade goes
    // on from its recorded facts. It ends failed, not delivered: its
    // e-mail window (5 minutes; at most 3 days) closed a month ago, which
    // is the cascade's rule, not retention's doing.
    assert_eq!(
        r.api.notification(&r.key, &pending).await["status"],
        "pending"
    );
    run_until_idle(&r.app, &cfg).await.expect("dispatch");
    let n = r.api.notification(&r.key, &pending).await;
    assert_eq!(n["status"], "failed", "{n}");
    let attempt = &n["channels"][0]["attempts"][0];
    assert_eq!(attempt["created_at"], "2026-12-01T09:00:00.000Z", "{n}");
    assert!(
        attempt["error"]
            .as_str()
            .is_some_and(|e| e.contains("window closed")),
        "{n}"
    );
    // A pending notification found by the pruner at any age stays.
    let p = retention::prune_until_done(&r.app, &rc)
        .await
        .expect("prune");
    assert_eq!(p.notifications, 0, "{p:?}");

    let (status, metrics) = r.api.get("/metrics", &r.key).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.contains("herald_pruned_total{kind=\"notifications\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("herald_pruned_total{kind=\"sim_messages\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn an_idempotency_key_dedupes_within_its_window_only() {
    let r = rig().await;
    let body = trigger_body(Some("booking-7-reminder"));
    let first = r.api.trigger(&r.key, body.clone()).await;

    // 47 h later: the same notification, 200, nothing new.
    r.clock.advance(47 * HOUR_MS);
    let (status, again) = r.api.post("/v1/notifications", &r.key, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first.as_str());

    // 49 h after the first, with no prune run yet: a new notification.
    r.clock.advance(2 * HOUR_MS);
    let second = r.api.trigger(&r.key, body.clone()).await;
    assert_ne!(second, first);
    // Both are in the log; the key now dedupes to the new one.
    let (log, _) = r.api.log(&r.key, "limit=100").await;
    assert_eq!(log.len(), 2);
    let (status, again) = r.api.post("/v1/notifications", &r.key, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], second.as_str());
}

#[tokio::test]
async fn a_window_below_24_hours_is_refused_naming_the_flag() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--idempotency-hours", "23"])
        .output()
        .await
        .expect("herald runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--idempotency-hours"), "{err}");
    assert!(err.contains("at least 24"), "{err}");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--retention-days", "0"])
        .output()
        .await
        .expect("herald runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--retention-days"), "{err}");
}
