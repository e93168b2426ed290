//! Appointment-aware delivery end to end (API.md "Bookings, schedules,
//! deadlines, quiet hours"): scheduled reminders, cancels, booking cancels
//! and moves, deadlines and quiet hours. Most tests drive the HTTP router
//! over a real SQLite store on a `ManualClock`, running the dispatcher by
//! hand (`worker::run_until`), so no test waits in real time for a send
//! time or a deadline; one runs a real server in real time, and one kills
//! the real binary.

use crate::crash::Herald;
use crate::helpers::{channel, outcome, spawn_app, ADMIN_TOKEN};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use herald::api::router;
use herald::clock::ManualClock;
use herald::providers::simulator::Simulator;
use herald::providers::Registry;
use herald::service::{App, Env};
use herald::worker::{run_until, run_until_idle, Idle, WorkerConfig};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// 2026-12-01T09:00:00Z (10:00 in Berlin): far from the machine's clock.
const T0: i64 = 1_796_115_600_000;
const SEC: i64 = 1_000;
const HOUR: i64 = 3_600_000;
const ADMIN: &str = "test-admin";

fn rfc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("a time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct Rig {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    clock: Arc<ManualClock>,
    cfg: WorkerConfig,
    key: String,
}

impl Rig {
    /// A tenant with simulators for e-mail (accepted counts) and SMS
    /// (receipts), a `reminder` type (e-mail, then SMS as fallback) and a
    /// client with both addresses.
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
            .call(Method::POST, "/v1/tenants", ADMIN, json!({"name": "Salon"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        rig.key = t["api_key"].as_str().expect("api key").to_string();
        rig.put(
            "/v1/integrations/email",
            json!({"provider": "simulator", "settings": {"default": "delivered"}, "confirm": "accepted"}),
        )
        .await;
        rig.put(
            "/v1/integrations/sms",
            json!({"provider": "simulator", "settings": {"default": "delivered", "receipt_ms": 20}, "confirm": "receipt"}),
        )
        .await;
        rig.put_type("reminder", "fallback", json!({})).await;
        rig.put(
            "/v1/clients/c1",
            json!({"email": "c1@example.com", "phone": "+15550001111"}),
        )
        .await;
        rig
    }

    /// A type: e-mail always, SMS with `sms_scenario`, plus `extra` fields.
    async fn put_type(&self, key: &str, sms_scenario: &str, extra: Value) {
        let mut body = json!({
            "audience": "client",
            "channels": [
                {"channel": "email", "scenario": "always"},
                {"channel": "sms", "scenario": sms_scenario}
            ],
            "templates": {
                "email": {"en": {"subject": "Reminder", "body": "See you tomorrow."}},
                "sms": {"en": {"body": "See you tomorrow."}}
            }
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.put(&format!("/v1/notification-types/{key}"), body)
            .await;
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
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    async fn tenant(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call(method, uri, &self.key, body).await
    }

    async fn put(&self, uri: &str, body: Value) {
        let (s, v) = self.tenant(Method::PUT, uri, body).await;
        assert!(s.is_success(), "PUT {uri}: {s} {v}");
    }

    /// Triggers; answers the id and the status of the 202.
    async fn trigger(&self, body: Value) -> (String, String) {
        let (s, v) = self.tenant(Method::POST, "/v1/notifications", body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        (
            v["id"].as_str().expect("id").to_string(),
            v["status"].as_str().expect("status").to_string(),
        )
    }

    async fn get(&self, id: &str) -> Value {
        let (s, v) = self
            .tenant(Method::GET, &format!("/v1/notifications/{id}"), Value::Null)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn outbox(&self) -> Vec<Value> {
        let (s, v) = self
            .tenant(Method::GET, "/v1/simulator/outbox?limit=1000", Value::Null)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["messages"].as_array().cloned().unwrap_or_default()
    }

    async fn idle(&self) -> Idle {
        run_until_idle(&self.app, &self.cfg)
            .await
            .expect("dispatcher")
    }

    async fn until(&self, at: i64) -> Idle {
        run_until(&self.app, &self.cfg, &self.clock, at)
            .await
            .expect("dispatcher")
    }
}

fn reminder(booking: &str, starts_at: i64, before: &str) -> Value {
    json!({
        "type": "reminder", "client": "c1",
        "booking": {"id": booking, "starts_at": rfc(starts_at)},
        "send_before_start": before
    })
}

#[tokio::test]
async fn a_reminder_waits_for_its_time_then_is_delivered_once() {
    let rig = Rig::new().await;
    let start = T0 + 26 * HOUR;
    let (id, status) = rig.trigger(reminder("bk-1", start, "24h")).await;
    assert_eq!(status, "scheduled");
    let n = rig.get(&id).await;
    assert_eq!(n["status"], "scheduled", "{n:#}");
    assert_eq!(n["send_at"], rfc(T0 + 2 * HOUR));
    assert_eq!(n["deliver_before"], rfc(start));
    assert_eq!(n["booking"], json!({"id": "bk-1", "starts_at": rfc(start)}));
    assert_eq!(channel(&n, "email")["planned_at"], rfc(T0 + 2 * HOUR));
    let step = rig.idle().await;
    assert_eq!(step.sends, 0, "{step:?}");
    assert_eq!(step.next_due_at, Some(T0 + 2 * HOUR), "wakes at its time");
    assert!(rig.outbox().await.is_empty());
    // The log filters by the new status.
    let (s, log) = rig
        .tenant(
            Method::GET,
            "/v1/notifications?status=scheduled",
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    assert_eq!(log["notifications"][0]["id"], id.as_str());
    rig.until(T0 + 2 * HOUR - 1).await;
    assert!(rig.outbox().await.is_empty(), "nothing before its time");
    rig.until(T0 + 2 * HOUR + SEC).await;
    let n = rig.get(&id).await;
    assert_eq!(n["status"], "delivered", "{n:#}");
    assert_eq!(outcome(&n, "sms"), "skipped");
    let sent = rig.outbox().await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["channel"], "email");
    let m = rig.metrics().await;
    assert!(m.contains("herald_notifications_scheduled_total 1"), "{m}");
}

impl Rig {
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
}

#[tokio::test]
async fn a_cancel_before_its_time_sends_nothing_and_is_idempotent() {
    let rig = Rig::new().await;
    let (id, _) = rig
        .trigger(json!({"type": "reminder", "client": "c1", "send_at": rfc(T0 + HOUR)}))
        .await;
    let path = format!("/v1/notifications/{id}/cancel");
    let (s, n) = rig.tenant(Method::POST, &path, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert_eq!(n["status"], "cancelled", "{n:#}");
    assert_eq!(outcome(&n, "email"), "cancelled");
    let (s, again) = rig.tenant(Method::POST, &path, Value::Null).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["status"], "cancelled");
    rig.until(T0 + 2 * HOUR).await;
    assert!(
        rig.outbox().await.is_empty(),
        "a cancelled reminder never sends"
    );
    let (s, _) = rig
        .tenant(Method::POST, "/v1/notifications/nope/cancel", Value::Null)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A cancel of a queued attempt before the dispatcher claimed it: never sent.
    let (id, status) = rig
        .trigger(json!({"type": "reminder", "client": "c1"}))
        .await;
    assert_eq!(status, "pending");
    let (s, n) = rig
        .tenant(
            Method::POST,
            &format!("/v1/notifications/{id}/cancel"),
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert_eq!(channel(&n, "email")["attempts"][0]["status"], "cancelled");
    rig.idle().await;
    assert!(rig.outbox().await.is_empty());
    assert_eq!(rig.get(&id).await["status"], "cancelled");
}

#[tokio::test]
async fn a_booking_cancel_cancels_its_notifications_and_reports_what_was_sent() {
    let rig = Rig::new().await;
    let start = T0 + 26 * HOUR;
    let (confirmation, _) = rig
        .trigger(json!({"type": "reminder", "client": "c1", "booking": {"id": "bk-2", "starts_at": rfc(start)}}))
        .await;
    rig.idle().await;
    assert_eq!(rig.get(&confirmation).await["status"], "delivered");
    let (later, _) = rig.trigger(reminder("bk-2", start, "24h")).await;
    let (again, _) = rig.trigger(reminder("bk-2", start, "2h")).await;
    let (s, v) = rig
        .tenant(Method::POST, "/v1/bookings/bk-2/cancel", Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"cancelled": 2, "already_sent": 1}));
    for id in [&later, &again] {
        assert_eq!(rig.get(id).await["status"], "cancelled");
    }
    rig.until(start).await;
    assert_eq!(
        rig.outbox().await.len(),
        1,
        "only the confirmation went out"
    );
    let (s, v) = rig
        .tenant(Method::POST, "/v1/bookings/unknown/cancel", Value::Null)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn a_reschedule_moves_the_send_time_and_the_deadline_in_one_step() {
    let rig = Rig::new().await;
    let start = T0 + 26 * HOUR;
    let (id, _) = rig.trigger(reminder("bk-3", start, "24h")).await;
    let moved = start + 24 * HOUR;
    let (s, v) = rig
        .tenant(
            Method::PUT,
            "/v1/bookings/bk-3",
            json!({"starts_at": rfc(moved)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"rescheduled": 1}));
    let n = rig.get(&id).await;
    assert_eq!(n["send_at"], rfc(moved - 24 * HOUR));
    assert_eq!(n["deliver_before"], rfc(moved));
    assert_eq!(n["booking"]["starts_at"], rfc(moved));
    rig.until(T0 + 3 * HOUR).await;
    assert!(rig.outbox().await.is_empty(), "not at the old time");
    rig.until(moved - 24 * HOUR + SEC).await;
    assert_eq!(rig.outbox().await.len(), 1, "once, at the new time");
    let (s, _) = rig
        .tenant(
            Method::PUT,
            "/v1/bookings/unknown",
            json!({"starts_at": rfc(moved)}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = rig
        .tenant(
            Method::PUT,
            "/v1/bookings/bk-3",
            json!({"starts_at": "soon"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "starts_at");
}

#[tokio::test]
async fn an_sms_fallback_whose_deadline_passes_while_the_email_waits_ends_expired() {
    let rig = Rig::new().await;
    // The e-mail is accepted but needs a receipt that never comes (60 s).
    rig.put(
        "/v1/integrations/email",
        json!({"provider": "simulator", "settings": {"default": "silent"}, "confirm": "receipt", "window_s": 60}),
    )
    .await;
    let (id, _) = rig
        .trigger(json!({"type": "reminder", "client": "c1", "deliver_before": rfc(T0 + 30 * SEC)}))
        .await;
    rig.until(T0 + 120 * SEC).await;
    let n = rig.get(&id).await;
    assert_eq!(n["status"], "expired", "{n:#}");
    assert_eq!(outcome(&n, "email"), "failed");
    assert_eq!(outcome(&n, "sms"), "expired");
    let sent = rig.outbox().await;
    assert_eq!(sent.len(), 1, "the SMS is never sent: {sent:#?}");
    assert_eq!(sent[0]["channel"], "email");
}

/// 23:00 in Berlin.
const NIGHT: i64 = T0 + 13 * HOUR;
/// 08:00 the next morning in Berlin.
const MORNING: i64 = T0 + 22 * HOUR;

fn quiet(mode: &str) -> Value {
    json!({"quiet_hours": {"from": "21:00", "until": "08:00", "channels": ["sms"], "mode": mode}})
}

#[tokio::test]
async fn quiet_hours_defer_in_the_recipients_time_zone() {
    let rig = Rig::new().await;
    rig.put_type("night", "always", quiet("defer")).await;
    rig.put(
        "/v1/clients/c1",
        json!({"email": "c1@example.com", "phone": "+15550001111", "timezone": "Europe/Berlin"}),
    )
    .await;
    rig.clock.set(NIGHT);
    let body = json!({"type": "night", "client": "c1"});
    let (s, p) = rig
        .tenant(Method::POST, "/v1/notifications/preview", body.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let sms = p["channels"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["channel"] == "sms"))
        .expect("sms");
    assert_eq!(
        sms["when"],
        "waits for quiet hours to end at 08:00 Europe/Berlin"
    );
    assert_eq!(sms["starts_at"], rfc(MORNING));
    let (id, _) = rig.trigger(body).await;
    rig.idle().await;
    let n = rig.get(&id).await;
    assert_eq!(outcome(&n, "email"), "delivered");
    assert_eq!(outcome(&n, "sms"), "pending");
    assert_eq!(
        channel(&n, "sms")["reason"],
        "waits for quiet hours to end at 08:00 Europe/Berlin"
    );
    assert_eq!(channel(&n, "sms")["planned_at"], rfc(MORNING));
    rig.until(MORNING - SEC).await;
    assert_eq!(rig.outbox().await.len(), 1, "no SMS in the night");
    rig.until(MORNING + 10 * SEC).await;
    let sent = rig.outbox().await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sent[1]["channel"], "sms");
    assert_eq!(rig.get(&id).await["status"], "delivered");
}

#[tokio::test]
async fn quiet_hours_skip_and_critical_types_and_the_tenants_time_zone() {
    let rig = Rig::new().await;
    // The client has no zone: the tenant's is used.
    let (s, v) = rig
        .tenant(
            Method::PATCH,
            "/v1/tenant",
            json!({"timezone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "timezone");
    let (s, v) = rig
        .tenant(
            Method::PATCH,
            "/v1/tenant",
            json!({"timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = rig.tenant(Method::GET, "/v1/tenant", Value::Null).await;
    assert_eq!(v["timezone"], "Europe/Berlin");
    rig.put_type("skip", "always", quiet("skip")).await;
    let mut critical = quiet("skip");
    critical["critical"] = json!(true);
    rig.put_type("urgent", "always", critical).await;
    let (_, t) = rig
        .tenant(Method::GET, "/v1/notification-types/urgent", Value::Null)
        .await;
    assert_eq!(t["critical"], true, "{t}");
    assert_eq!(t["quiet_hours"]["mode"], "skip", "{t}");
    rig.clock.set(NIGHT);
    let (skipped, _) = rig.trigger(json!({"type": "skip", "client": "c1"})).await;
    let (urgent, _) = rig.trigger(json!({"type": "urgent", "client": "c1"})).await;
    rig.until(NIGHT + 60 * SEC).await;
    let n = rig.get(&skipped).await;
    assert_eq!(outcome(&n, "sms"), "unreachable", "{n:#}");
    assert!(
        channel(&n, "sms")["reason"]
            .as_str()
            .is_some_and(|r| r.contains("quiet hours until 08:00 Europe/Berlin")),
        "{n:#}"
    );
    let n = rig.get(&urgent).await;
    assert_eq!(
        outcome(&n, "sms"),
        "delivered",
        "critical ignores quiet hours: {n:#}"
    );
    let sms: Vec<Value> = rig
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["channel"] == "sms")
        .collect();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["notification_id"], urgent.as_str());
}

#[tokio::test]
async fn bad_schedules_get_a_4xx_naming_the_field() {
    let rig = Rig::new().await;
    let cases = [
        (
            json!({"type": "reminder", "client": "c1", "send_at": rfc(T0 + 2 * HOUR), "deliver_before": rfc(T0 + HOUR)}),
            "deliver_before",
        ),
        (
            json!({"type": "reminder", "client": "c1", "send_before_start": "24h"}),
            "send_before_start",
        ),
        (
            json!({"type": "reminder", "client": "c1", "booking": {"id": "b"}, "send_before_start": "24h"}),
            "send_before_start",
        ),
        (
            json!({"type": "reminder", "client": "c1", "booking": {"id": "b", "starts_at": rfc(T0 + HOUR)}, "send_before_start": "a day"}),
            "send_before_start",
        ),
        (
            json!({"type": "reminder", "client": "c1", "send_at": "tomorrow at nine"}),
            "send_at",
        ),
        (
            json!({"type": "reminder", "client": "c1", "booking": {"id": "b", "starts_at": "10am"}}),
            "booking.starts_at",
        ),
    ];
    for (body, field) in cases {
        let (s, v) = rig
            .tenant(Method::POST, "/v1/notifications", body.clone())
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(v["error"]["field"], field, "{body} → {v}");
    }
    let (s, v) = rig
        .tenant(Method::GET, "/v1/notifications?status=someday", Value::Null)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    for status in ["scheduled", "cancelled", "expired"] {
        let (s, _) = rig
            .tenant(
                Method::GET,
                &format!("/v1/notifications?status={status}"),
                Value::Null,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{status}");
    }
    let (s, v) = rig
        .tenant(
            Method::PUT,
            "/v1/notification-types/q",
            json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
                   "quiet_hours": {"from": "9pm", "until": "08:00", "channels": ["email"], "mode": "defer"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "quiet_hours.from");
}

/// In real time through a real server: a reminder two seconds ahead is
/// `scheduled` with nothing in the outbox, then delivered at its time.
#[tokio::test]
async fn a_reminder_a_few_seconds_ahead_goes_out_at_its_time() {
    let app = spawn_app().await;
    let t = app.create_tenant("Salon").await;
    app.simulators_everywhere(&t.api_key).await;
    app.put_seed_type(&t.api_key, "appointment_reminder").await;
    app.put_client(
        &t.api_key,
        "c1",
        json!({"name": "Ana", "email": "ana@example.com", "phone": "+15550001111"}),
    )
    .await;
    let at = chrono::Utc::now().timestamp_millis() + 2_000;
    let mut body = json!({"type": "appointment_reminder", "client": "c1", "send_at": rfc(at)});
    body["data"] = crate::helpers::seed_data();
    let (s, v) = app.post("/v1/notifications", &t.api_key, &body).await;
    assert_eq!(s, reqwest::StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "scheduled");
    let id = v["id"].as_str().expect("id").to_string();
    assert!(app.outbox(&t.api_key, &id).await.is_empty());
    let bound = Instant::now() + Duration::from_secs(30);
    let n = loop {
        let n = app.notification(&t.api_key, &id).await;
        if n["status"] != "scheduled" && n["status"] != "pending" {
            break n;
        }
        assert!(Instant::now() < bound, "not sent at its time: {n:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(n["status"], "delivered", "{n:#}");
    let sent = app.outbox(&t.api_key, &id).await;
    assert!(!sent.is_empty());
    for m in &sent {
        let received = chrono::DateTime::parse_from_rfc3339(m["received_at"].as_str().expect("at"))
            .expect("a time")
            .timestamp_millis();
        assert!(received >= at, "sent before its time: {m}");
    }
}

/// Scheduled notifications and a cancel made just before a SIGKILL come
/// out right after a restart: the cancelled one never sends, the others
/// send once at their time.
#[tokio::test]
async fn scheduled_and_cancelled_notifications_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let herald = Herald::start(dir.path(), 1).await;
    let api = &herald.api;
    let (s, t) = api
        .post("/v1/tenants", ADMIN_TOKEN, &json!({"name": "Salon"}))
        .await;
    assert_eq!(s, reqwest::StatusCode::CREATED, "{t}");
    let key = t["api_key"].as_str().expect("key").to_string();
    api.simulators_everywhere(&key).await;
    api.put_type(
        &key,
        "reminder",
        json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}],
               "templates": {"email": {"en": {"subject": "Reminder", "body": "Tomorrow at 10."}}}}),
    )
    .await;
    api.put_client(&key, "c1", json!({"email": "ana@example.com"}))
        .await;
    let at = chrono::Utc::now().timestamp_millis() + 4_000;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, v) = api
            .post(
                "/v1/notifications",
                &key,
                &json!({"type": "reminder", "client": "c1", "send_at": rfc(at),
                        "booking": {"id": format!("bk-{i}"), "starts_at": rfc(at + HOUR)}}),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["status"], "scheduled");
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    let (s, v) = api
        .post(
            &format!("/v1/notifications/{}/cancel", ids[0]),
            &key,
            &json!({}),
        )
        .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    let (s, v) = api.post("/v1/bookings/bk-1/cancel", &key, &json!({})).await;
    assert_eq!(s, reqwest::StatusCode::OK, "{v}");
    assert_eq!(v["cancelled"], 1);
    herald.kill().await;
    let herald = Herald::start(dir.path(), 2).await;
    let api = &herald.api;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = {
            let mut all = true;
            for id in &ids[2..] {
                let n = api.notification(&key, id).await;
                all &= n["status"] == "delivered";
            }
            all
        };
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled ones did not go out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids[..2] {
        let n = api.notification(&key, id).await;
        assert_eq!(n["status"], "cancelled", "{n:#}");
        assert!(
            api.outbox(&key, id).await.is_empty(),
            "a cancelled one was sent"
        );
    }
    for id in &ids[2..] {
        let sent = api.outbox(&key, id).await;
        assert_eq!(sent.len(), 1, "{sent:#?}");
        assert_eq!(sent[0]["requests"], 1);
        let received =
            chrono::DateTime::parse_from_rfc3339(sent[0]["received_at"].as_str().expect("at"))
                .expect("a time")
                .timestamp_millis();
        assert!(received >= at, "sent before its time");
    }
}
