//! Faults of the disk, tried from outside: the database fills up (a real
//! `SQLITE_FULL`, from SQLite's `max_page_count`, without touching the
//! machine's disks), or another process (a backup) holds its write lock.
//! Writes must answer 503 with `Retry-After`, never a 500 or a dropped
//! connection; `/healthz` answers and says it cannot write; reads keep
//! working; when space returns (the other process frees pages) or the lock
//! goes, Herald resumes by itself, everything that got a 202 reaches its
//! outcome, and the file is not damaged.

use crate::helpers::{Api, Tenant, ADMIN_TOKEN};
use herald::server::{self, ServeConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// Room left in the database when the capped server starts: a few dozen
/// notifications' worth.
const SPARE_PAGES: i64 = 40;
/// The filler another process keeps in the file, freed to give space back.
const FILLER_ROWS: usize = 64;

/// Starts Herald in this process over `url`.
async fn start(url: String) -> server::Running {
    let mut cfg = ServeConfig::new(url);
    cfg.admin_token = Some(ADMIN_TOKEN.into());
    server::start(cfg).await.expect("herald starts")
}

/// A connection of "another process" to Herald's file.
fn other_process(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).expect("open the database file");
    c.busy_timeout(Duration::from_secs(30))
        .expect("busy timeout");
    c
}

fn scalar(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// One tenant with an e-mail type delivered by the simulator.
async fn tenant(api: &Api) -> Tenant {
    let t = api.create_tenant("Full Disk Salon").await;
    api.simulator(&t.api_key, "email", json!({"default": "delivered"}))
        .await;
    api.put_type(
        &t.api_key,
        "reminder",
        json!({
            "audience": "client",
            "channels": [{"channel": "email", "scenario": "always"}],
            "templates": {"email": {"en": {"subject": "Reminder", "body": "See you at {{ time }}."}}}
        }),
    )
    .await;
    api.put_client(&t.api_key, "c1", json!({"email": "c1@example.com"}))
        .await;
    t
}

/// What a trigger answered: its status, `Retry-After`, and body.
async fn trigger(
    http: &reqwest::Client,
    base: &str,
    key: &str,
) -> (StatusCode, Option<String>, Value) {
    let resp = http
        .post(format!("{base}/v1/notifications"))
        .bearer_auth(key)
        .json(&json!({"type": "reminder", "client": "c1", "data": {"time": "10:00"}}))
        .send()
        .await
        // A dropped connection is exactly what must not happen.
        .unwrap_or_else(|e| panic!("POST /v1/notifications got no answer: {e}"));
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// A 503 as the contract gives it: `Retry-After`, a code, and no word of
/// the database's internals.
fn assert_unavailable(status: StatusCode, retry_after: &Option<String>, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let secs: u64 = retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a 503 without a Retry-After in seconds: {retry_after:?}"));
    assert!(secs >= 1, "Retry-After {secs}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains("sqlite") && !text.contains("page"),
        "the 503 names the database's internals: {body}"
    );
}

async fn healthz(api: &Api) -> Value {
    let (status, body) = api.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "/healthz while reads work: {body}");
    body
}

/// Waits until every id is `delivered`.
async fn all_delivered(api: &Api, key: &str, ids: &[String]) {
    for id in ids {
        let n = api.wait_final(key, id).await;
        assert_eq!(n["status"], "delivered", "{n:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_then_resumes_by_itself_when_space_returns() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("herald.db");
    let url = format!("sqlite://{}", db.display());

    // First start: the schema is made and the tenant set up.
    let first = start(url.clone()).await;
    let api = Api::new(format!("http://{}", first.addr));
    let t = tenant(&api).await;
    first.stop().await;

    // Another process keeps some filler in the file, to free later.
    let other = other_process(&db);
    other
        .execute_batch("CREATE TABLE filler (b BLOB NOT NULL)")
        .expect("filler table");
    for _ in 0..FILLER_ROWS {
        other
            .execute("INSERT INTO filler (b) VALUES (zeroblob(8000))", [])
            .expect("filler row");
    }
    other
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    let pages = scalar(&other, "PRAGMA page_count");

    // Second start, capped a little above what the file holds now.
    let running = start(format!("{url}?max_page_count={}", pages + SPARE_PAGES)).await;
    let base = format!("http://{}", running.addr);
    let api = Api::new(base.clone());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let mut accepted = Vec::new();
    let mut refused = 0;
    for _ in 0..5_000 {
        let (status, retry_after, body) = trigger(&http, &base, &t.api_key).await;
        if status == StatusCode::ACCEPTED {
            accepted.push(body["id"].as_str().expect("id").to_string());
            continue;
        }
        assert_unavailable(status, &retry_after, &body);
        refused += 1;
        if refused == 5 {
            break;
        }
    }
    assert_eq!(refused, 5, "the capped database never filled up");
    assert!(
        !accepted.is_empty(),
        "nothing was accepted before the disk filled"
    );

    // The node still answers, reads work, and it says it cannot write.
    let h = healthz(&api).await;
    assert_eq!(h["writable"], false, "{h}");
    assert_eq!(h["status"], "degraded", "{h}");
    let n = api.notification(&t.api_key, &accepted[0]).await;
    assert_eq!(n["id"], accepted[0].as_str());

    // Space comes back: the other process frees its filler. No restart.
    other
        .execute("DELETE FROM filler", [])
        .expect("free the filler");
    let started = Instant::now();
    loop {
        let (status, retry_after, body) = trigger(&http, &base, &t.api_key).await;
        if status == StatusCode::ACCEPTED {
            accepted.push(body["id"].as_str().expect("id").to_string());
            break;
        }
        assert_unavailable(status, &retry_after, &body);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "writes did not resume after space came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    all_delivered(&api, &t.api_key, &accepted).await;
    assert_eq!(healthz(&api).await["writable"], true);

    running.stop().await;
    let check: String = other
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_answers_503_then_resumes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("herald.db");
    let running = start(format!("sqlite://{}", db.display())).await;
    let base = format!("http://{}", running.addr);
    let api = Api::new(base.clone());
    let t = tenant(&api).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (status, _, body) = trigger(&http, &base, &t.api_key).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let first = body["id"].as_str().expect("id").to_string();
    api.wait_final(&t.api_key, &first).await;

    // A backup takes the write lock for longer than Herald waits for it.
    let other = other_process(&db);
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let (status, retry_after, body) = trigger(&http, &base, &t.api_key).await;
    assert_unavailable(status, &retry_after, &body);
    assert_eq!(healthz(&api).await["writable"], false);
    // Reads go on beside the lock.
    let n = api.notification(&t.api_key, &first).await;
    assert_eq!(n["status"], "delivered");

    other.execute_batch("COMMIT").expect("release the lock");
    let (status, _, body) = trigger(&http, &base, &t.api_key).await;
    assert_eq!(status, StatusCode::ACCEPTED, "after the lock went: {body}");
    let id = body["id"].as_str().expect("id").to_string();
    all_delivered(&api, &t.api_key, &[id]).await;
    assert_eq!(healthz(&api).await["writable"], true);
    running.stop().await;
}
