//! The dispatcher driven by hand on a `ManualClock`, over a real SQLite
//! store and the simulator: receipt windows and retries tested without a
//! moment of waiting in real time.

use super::*;
use crate::api::router;
use crate::providers::simulator::Simulator;
use crate::providers::Registry;
use crate::service::Env;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

/// 2026-12-01T09:00:00Z: far from the machine's clock, so nothing here can
/// pass by waiting.
const T0: Millis = 1_796_115_600_000;
const ADMIN: &str = "test-admin";

struct Rig {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    cfg: WorkerConfig,
    key: String,
}

impl Rig {
    async fn new() -> Rig {
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
        app.ensure_admin_token(Some(ADMIN)).await.expect("admin");
        let mut rig = Rig {
            _dir: dir,
            app,
            clock,
            cfg: WorkerConfig::default(),
            key: String::new(),
        };
        let (s, t) = rig
            .call(
                Method::POST,
                "/v1/tenants",
                ADMIN,
                json!({"name": "Clockwork Salon"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        rig.key = t["api_key"].as_str().expect("api key").to_string();
        rig
    }

    async fn call(&self, method: Method, uri: &str, key: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json");
        let req = if body.is_null() {
            req.body(Body::empty())
        } else {
            req.body(Body::from(body.to_string()))
        }
        .expect("request");
        let resp = router(self.app.clone()).oneshot(req).await.expect("answer");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn put(&self, uri: &str, body: Value) {
        let (s, v) = self.call(Method::PUT, uri, &self.key.clone(), body).await;
        assert!(s.is_success(), "PUT {uri}: {s} {v}");
    }

    /// E-mail, then SMS if e-mail failed; one client with both addresses.
    async fn email_then_sms(&self, email: Value) {
        self.put("/v1/integrations/email", email).await;
        self.put(
            "/v1/integrations/sms",
            json!({"provider": "simulator", "settings": {"default": "delivered", "receipt_ms": 20}, "confirm": "receipt"}),
        )
        .await;
        self.put(
            "/v1/notification-types/reminder",
            json!({
                "audience": "client",
                "channels": [
                    {"channel": "email", "scenario": "always"},
                    {"channel": "sms", "scenario": "fallback"}
                ],
                "templates": {
                    "email": {"en": {"subject": "Reminder", "body": "See you at 10:00."}},
                    "sms": {"en": {"body": "See you at 10:00."}}
                }
            }),
        )
        .await;
        self.put(
            "/v1/clients/c1",
            json!({"email": "c1@example.com", "phone": "+15550001111"}),
        )
        .await;
    }

    async fn trigger(&self) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/notifications",
                &self.key,
                json!({"type": "reminder", "client": "c1"}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    async fn notification(&self, id: &str) -> Value {
        let (s, v) = self
            .call(
                Method::GET,
                &format!("/v1/notifications/{id}"),
                &self.key,
                Value::Null,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn metrics(&self) -> String {
        let req = Request::builder()
            .uri("/metrics")
            .body(Body::empty())
            .expect("request");
        let resp = router(self.app.clone()).oneshot(req).await.expect("answer");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    async fn idle(&self) -> Idle {
        run_until_idle(&self.app, &self.cfg)
            .await
            .expect("dispatcher")
    }

    async fn until(&self, at: Millis) -> Idle {
        run_until(&self.app, &self.cfg, &self.clock, at)
            .await
            .expect("dispatcher")
    }
}

fn channel<'a>(n: &'a Value, name: &str) -> &'a Value {
    n["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["channel"] == name))
        .unwrap_or_else(|| panic!("no {name} in {n:#}"))
}

#[tokio::test]
async fn the_sms_fallback_waits_exactly_for_the_email_window_on_the_clock() {
    let rig = Rig::new().await;
    // Accepted by the e-mail provider, but no receipt ever comes.
    rig.email_then_sms(json!({"provider": "simulator", "settings": {"default": "silent"}, "confirm": "receipt", "window_s": 60}))
        .await;
    let id = rig.trigger().await;

    let step = rig.idle().await;
    assert_eq!(step.sends, 1, "only the e-mail goes out at first: {step:?}");
    assert_eq!(
        step.next_due_at,
        Some(T0 + 60_000),
        "the next thing due is the end of the e-mail's window"
    );

    // A second before the window ends: still waiting, no SMS.
    rig.clock.set(T0 + 59_000);
    assert_eq!(rig.idle().await.sends, 0);
    let n = rig.notification(&id).await;
    assert_eq!(n["status"], "pending");
    assert_eq!(
        channel(&n, "sms")["attempts"].as_array().map(Vec::len),
        Some(0)
    );

    // The window closes: the SMS goes, and its receipt 20 ms later
    // delivers the notification.
    let run = rig.until(T0 + 61_000).await;
    assert_eq!((run.sends, run.receipts), (1, 1), "{run:?}");
    let n = rig.notification(&id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(channel(&n, "email")["outcome"], "failed", "{n:#}");
    assert_eq!(channel(&n, "sms")["outcome"], "delivered", "{n:#}");
    // The SMS went out at the very instant the window's end was decided.
    let m = rig.metrics().await;
    assert!(
        m.contains("herald_fallback_reaction_seconds_count 1\n"),
        "{m}"
    );
    assert!(
        m.contains("herald_fallback_reaction_seconds_bucket{le=\"0.001\"} 1\n"),
        "{m}"
    );
}

#[tokio::test]
async fn transient_errors_are_retried_on_the_clock_with_one_key() {
    let rig = Rig::new().await;
    rig.email_then_sms(json!({"provider": "simulator", "settings": {"default": "transient:2"}, "confirm": "accepted"}))
        .await;
    let id = rig.trigger().await;

    let first = rig.idle().await;
    assert_eq!(first.sends, 1);
    let retry_at = first.next_due_at.expect("a retry is due");
    assert!(retry_at > T0, "the retry waits for its backoff: {first:?}");
    // Nothing happens before the retry's time.
    rig.clock.set(retry_at - 1);
    assert_eq!(rig.idle().await.sends, 0);

    let run = rig.until(T0 + 60_000).await;
    assert_eq!(run.sends, 2, "two more requests: {run:?}");
    let n = rig.notification(&id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    let email = &channel(&n, "email")["attempts"][0];
    assert_eq!(email["requests"], 3, "{n:#}");
    assert!(channel(&n, "sms")["attempts"]
        .as_array()
        .is_some_and(Vec::is_empty));
}
