//! What every test needs: a real Herald on a port-0 listener over a fresh
//! SQLite file, and a small HTTP client that speaks API.md and nothing else.
//!
//! With `HERALD_TEST_E2E_DATABASE_URL=postgres://…` set, every test server
//! runs on PostgreSQL instead, in a fresh schema of its own (dropped when
//! the test ends).

use herald::server::{self, Running, ServeConfig};
use herald::worker::WorkerConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::ops::Deref;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The operator token every test server is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// How long a cascade may take to finish before a test gives up. A bound
/// against hangs, not a timing assertion.
pub const FINAL_BOUND: Duration = Duration::from_secs(30);

/// How often `wait_final` looks.
const POLL: Duration = Duration::from_millis(20);

/// A tenant as `POST /v1/tenants` answers it.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant's id.
    pub id: String,
    /// Its API key.
    pub api_key: String,
}

/// An HTTP client for one Herald.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

/// A Herald started in this process for one test.
pub struct TestApp {
    api: Api,
    _running: Running,
    _dir: TempDir,
    _schema: Option<Schema>,
}

/// The env var that puts the test servers on PostgreSQL.
const E2E_DATABASE: &str = "HERALD_TEST_E2E_DATABASE_URL";

/// A test's PostgreSQL schema, dropped with it.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// A fresh, migrated schema, and the URL of a server working in it.
    async fn create(url: &str) -> (Schema, String) {
        let name = format!("herald_e2e_{}", uuid::Uuid::now_v7().simple());
        herald_store::postgres::PgStore::open_in_schema(url, &name)
            .await
            .expect("a test schema")
            .close()
            .await;
        let sep = if url.contains('?') { '&' } else { '?' };
        // Named after the schema, so the drop can end the server's sessions.
        let in_schema = format!("{url}{sep}options=-csearch_path%3D{name}&application_name={name}");
        (
            Schema {
                url: url.to_string(),
                name,
            },
            in_schema,
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // On a thread of its own with its own runtime: this runs inside the
        // test's runtime, which cannot be blocked on. The server still runs
        // (its tasks wait on this runtime): its sessions are ended first.
        let (url, name) = (self.url.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(herald_store::postgres::drop_schema(
                &url,
                &name,
                Duration::from_secs(5),
            ))
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("test schema {} was not dropped: {done:?}", self.name);
        }
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Starts a real Herald on port 0 over a new SQLite file in a temp dir.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a real Herald as `spawn_app` does, with its configuration
/// changed first (extra trusted roots, a public URL, worker tuning).
pub async fn spawn_app_with(change: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("herald.db");
    let mut cfg = ServeConfig::new(format!("sqlite://{}", path.display()));
    let mut schema = None;
    if let Ok(url) = std::env::var(E2E_DATABASE) {
        let (s, in_schema) = Schema::create(&url).await;
        schema = Some(s);
        cfg.database_url = in_schema;
        cfg.secret_key = Some("ab".repeat(32));
    }
    cfg.admin_token = Some(ADMIN_TOKEN.into());
    cfg.worker = WorkerConfig::default();
    change(&mut cfg);
    let running = server::start(cfg).await.expect("herald starts");
    let api = Api::new(format!("http://{}", running.addr));
    TestApp {
        api,
        _running: running,
        _dir: dir,
        _schema: schema,
    }
}

/// A JSON body as a `Value`: `Null` when empty, a string when not JSON.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl Api {
    /// A client for the Herald at `base`.
    pub fn new(base: String) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Api { base, http }
    }

    /// Sends a request with an optional bearer key and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: body unreadable: {e}"));
        (status, parse_body(&bytes))
    }

    /// Sends raw bytes with an optional `Content-Type`; transport errors are returned.
    pub async fn try_raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value), reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        Ok((status, parse_body(&bytes)))
    }

    /// Sends raw bytes; panics on a transport error.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        self.try_raw(method.clone(), path, key, content_type, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
    }

    /// `GET path` with a tenant key.
    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    /// `PUT path` with a tenant key and a JSON body.
    pub async fn put(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }

    /// `POST path` with a tenant key and a JSON body.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Creates a tenant with the operator token.
    pub async fn create_tenant(&self, name: &str) -> Tenant {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/tenants",
                Some(ADMIN_TOKEN),
                Some(&json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "POST /v1/tenants: {body}");
        assert_eq!(body["name"], name, "POST /v1/tenants: {body}");
        Tenant {
            id: body["id"].as_str().expect("tenant id").to_string(),
            api_key: body["api_key"]
                .as_str()
                .expect("tenant api_key")
                .to_string(),
        }
    }

    /// Sets an integration of a channel from a whole body.
    pub async fn integration(&self, key: &str, channel: &str, body: Value) {
        let (status, resp) = self
            .put(&format!("/v1/integrations/{channel}"), key, &body)
            .await;
        assert!(
            status.is_success(),
            "PUT /v1/integrations/{channel} {body}: {status} {resp}"
        );
    }

    /// Connects the simulator to a channel with these settings.
    pub async fn simulator(&self, key: &str, channel: &str, settings: Value) {
        self.integration(
            key,
            channel,
            json!({"provider": "simulator", "settings": settings}),
        )
        .await;
    }

    /// Connects a simulator that delivers everything to every channel; SMS
    /// waits for a receipt that comes 20 ms after the send.
    pub async fn simulators_everywhere(&self, key: &str) {
        for channel in ["email", "admin_app", "aunio", "branded_app"] {
            self.simulator(key, channel, json!({"default": "delivered"}))
                .await;
        }
        self.integration(
            key,
            "sms",
            json!({"provider": "simulator", "settings": {"default": "delivered", "receipt_ms": 20}, "confirm": "receipt"}),
        )
        .await;
    }

    /// Creates or replaces a notification type.
    pub async fn put_type(&self, key: &str, type_key: &str, body: Value) {
        let (status, resp) = self
            .put(&format!("/v1/notification-types/{type_key}"), key, &body)
            .await;
        assert!(
            status.is_success(),
            "PUT /v1/notification-types/{type_key} {body}: {status} {resp}"
        );
    }

    /// Puts the help article's example type: e-mail and Aunio always, then
    /// the branded app and SMS as fallbacks.
    pub async fn put_seed_type(&self, key: &str, type_key: &str) {
        self.put_type(key, type_key, seed_type()).await;
    }

    /// Creates or replaces a client.
    pub async fn put_client(&self, key: &str, id: &str, body: Value) {
        let (status, resp) = self.put(&format!("/v1/clients/{id}"), key, &body).await;
        assert!(
            status.is_success(),
            "PUT /v1/clients/{id} {body}: {status} {resp}"
        );
    }

    /// Creates or replaces a staff member.
    pub async fn put_staff(&self, key: &str, id: &str, body: Value) {
        let (status, resp) = self.put(&format!("/v1/staff/{id}"), key, &body).await;
        assert!(
            status.is_success(),
            "PUT /v1/staff/{id} {body}: {status} {resp}"
        );
    }

    /// Triggers a notification and expects `202 pending`; returns its id.
    pub async fn trigger(&self, key: &str, body: Value) -> String {
        let (status, resp) = self.post("/v1/notifications", key, &body).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "POST /v1/notifications {body}: {resp}"
        );
        assert_eq!(
            resp["status"], "pending",
            "POST /v1/notifications {body}: {resp}"
        );
        resp["id"].as_str().expect("notification id").to_string()
    }

    /// `GET /v1/notifications/{id}`, expecting 200.
    pub async fn notification(&self, key: &str, id: &str) -> Value {
        let (status, body) = self.get(&format!("/v1/notifications/{id}"), key).await;
        assert_eq!(status, StatusCode::OK, "GET /v1/notifications/{id}: {body}");
        body
    }

    /// Polls a notification every 20 ms until its status is no longer
    /// `pending`, and returns it.
    pub async fn wait_final(&self, key: &str, id: &str) -> Value {
        let start = Instant::now();
        loop {
            let n = self.notification(key, id).await;
            if n["status"] != "pending" {
                return n;
            }
            if start.elapsed() > FINAL_BOUND {
                panic!("notification {id} still pending after {FINAL_BOUND:?}: {n:#}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The simulator's outbox for one notification, oldest first.
    pub async fn outbox(&self, key: &str, notification_id: &str) -> Vec<Value> {
        let path = format!("/v1/simulator/outbox?notification={notification_id}&limit=1000");
        let (status, body) = self.get(&path, key).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body["messages"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: no messages: {body}"))
            .clone()
    }

    /// The tenant's whole outbox, paged with `after`.
    pub async fn outbox_all(&self, key: &str) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/simulator/outbox?limit=1000&after={a}"),
                None => "/v1/simulator/outbox?limit=1000".to_string(),
            };
            let (status, body) = self.get(&path, key).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
            let page = body["messages"]
                .as_array()
                .unwrap_or_else(|| panic!("GET {path}: {body}"))
                .clone();
            let Some(last) = page.last() else {
                return all;
            };
            let last_id = id_string(&last["id"]);
            assert_ne!(
                after.as_deref(),
                Some(last_id.as_str()),
                "outbox paging does not advance"
            );
            after = Some(last_id);
            all.extend(page);
            assert!(all.len() < 1_000_000, "outbox paging does not end");
        }
    }

    /// The log: `GET /v1/notifications?{query}`, expecting 200; returns the
    /// notifications and the `next` cursor.
    pub async fn log(&self, key: &str, query: &str) -> (Vec<Value>, Option<String>) {
        let path = format!("/v1/notifications?{query}");
        let (status, body) = self.get(&path, key).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        let list = body["notifications"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {path}: {body}"))
            .clone();
        let next = match &body["next"] {
            Value::Null => None,
            v => Some(id_string(v)),
        };
        (list, next)
    }
}

/// An id or cursor as it goes into a query string.
pub fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The help article's example type (seed/notification-sending-scenarios.txt).
pub fn seed_type() -> Value {
    json!({
        "audience": "client",
        "channels": [
            {"channel": "email", "scenario": "always"},
            {"channel": "aunio", "scenario": "always"},
            {"channel": "branded_app", "scenario": "fallback"},
            {"channel": "sms", "scenario": "fallback"}
        ],
        "templates": {
            "email": {"en": {"subject": "Your appointment at {{ time }}",
                             "body": "Hello {{ client_name }}, see you at {{ time }}."}},
            "aunio": {"en": {"title": "Appointment at {{ time }}",
                             "body": "Hello {{ client_name }}, see you at {{ time }}."}},
            "branded_app": {"en": {"title": "Salon One: {{ time }}",
                                   "body": "{{ client_name }}, see you at {{ time }}."}},
            "sms": {"en": {"body": "{{ client_name }}: appointment at {{ time }}"}}
        }
    })
}

/// The data the seed type's templates need.
pub fn seed_data() -> Value {
    json!({"client_name": "Ana", "time": "10:00"})
}

/// One channel of a notification (or a preview) by name.
pub fn channel<'a>(n: &'a Value, name: &str) -> &'a Value {
    n["channels"]
        .as_array()
        .unwrap_or_else(|| panic!("no channels in {n:#}"))
        .iter()
        .find(|c| c["channel"] == name)
        .unwrap_or_else(|| panic!("no channel {name} in {n:#}"))
}

/// A channel's outcome.
pub fn outcome<'a>(n: &'a Value, name: &str) -> &'a str {
    channel(n, name)["outcome"]
        .as_str()
        .unwrap_or_else(|| panic!("channel {name} has no outcome: {n:#}"))
}

/// A channel's reason, lower-cased.
pub fn reason(n: &Value, name: &str) -> String {
    channel(n, name)["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("channel {name} has no reason: {n:#}"))
        .to_lowercase()
}

/// A channel's attempts.
pub fn attempts<'a>(n: &'a Value, name: &str) -> &'a Vec<Value> {
    channel(n, name)["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("channel {name} has no attempts array: {n:#}"))
}

/// Outbox messages of one channel.
pub fn of_channel<'a>(messages: &'a [Value], name: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["channel"] == name).collect()
}

/// Checks an error answer: the status, never a 5xx, `error.code` and
/// `error.message` present, and the field when one is expected.
pub fn assert_error(
    what: &str,
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    field: Option<&str>,
) {
    assert!(
        !status.is_server_error(),
        "{what}: a 5xx for bad input: {status} {body}"
    );
    assert_eq!(status, expected, "{what}: {body}");
    let e = &body["error"];
    assert!(
        e["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: error.code missing: {body}"
    );
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: error.message missing: {body}"
    );
    if let Some(f) = field {
        assert_eq!(e["field"], f, "{what}: wrong field: {body}");
    }
}

/// Whether any string anywhere inside `v` contains `needle`.
pub fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_text(x, needle)),
        Value::Object(o) => o.values().any(|x| contains_text(x, needle)),
        _ => false,
    }
}

/// An `App` on a fresh SQLite file in `dir`, on a manual clock at `t0`,
/// with the simulator and the admin token: for tests that drive the
/// dispatcher themselves (`run_until_idle`) and never wait in real time.
pub async fn manual_app(
    dir: &std::path::Path,
    t0: i64,
) -> (
    std::sync::Arc<herald::service::App>,
    std::sync::Arc<herald::clock::ManualClock>,
) {
    use herald::providers::{simulator::Simulator, Registry};
    let url = format!("sqlite://{}", dir.join("herald.db").display());
    let backend = herald_store::open(&url).await.expect("store");
    let clock = std::sync::Arc::new(herald::clock::ManualClock::at(t0));
    let providers = Registry::real().with(std::sync::Arc::new(Simulator::new(backend.sim.clone())));
    let app = herald::service::App::with_clock(
        backend.store,
        backend.sim,
        providers,
        herald::service::Env::ephemeral(),
        clock.clone(),
    );
    app.ensure_admin_token(Some(ADMIN_TOKEN))
        .await
        .expect("admin token");
    (app, clock)
}
