//! Many processes on one PostgreSQL: `herald migrate`, one API node
//! (`herald serve --no-workers`) and three `herald worker` processes, one
//! of them killed with SIGKILL while hundreds of cascades are in flight.
//! Every accepted notification must reach its outcome, the simulator's
//! outbox (shared by the workers in the database) must show nothing sent
//! twice, and a message asked for more than once must be one the killed
//! worker held.
//!
//! Runs when `HERALD_TEST_DATABASE_URL` is set (in a schema of its own,
//! dropped at the end); says `SKIPPED` otherwise, and fails under `CI=true`.

use crate::helpers::{Api, ADMIN_TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENTS: usize = 240;
const LEASE_S: u64 = 5;
const BOUND: Duration = Duration::from_secs(120);
const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The test database's URL, or `None` (after saying so) to skip.
fn database_url() -> Option<String> {
    match std::env::var("HERALD_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_TEST_DATABASE_URL is not set and CI=true: the PostgreSQL tests must run"
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: HERALD_TEST_DATABASE_URL is not set"
            );
            None
        }
    }
}

/// A fresh schema, dropped (after ending the sessions named after it) when
/// the test ends, passed or not.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn create(url: &str) -> Schema {
        let name = format!("herald_nodes_{}", uuid::Uuid::now_v7().simple());
        // Made here, migrated by `herald migrate`.
        herald_store::postgres::create_schema(url, &name)
            .await
            .expect("the test schema");
        Schema {
            url: url.to_string(),
            name,
        }
    }

    /// The URL the processes use: in the schema, and named after it.
    fn node_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-csearch_path%3D{n}&application_name={n}",
            self.url,
            n = self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            if let Err(e) = rt.block_on(herald_store::postgres::drop_schema(
                &url,
                &name,
                Duration::from_secs(5),
            )) {
                eprintln!("test schema {name} was not dropped: {e}");
            }
        })
        .join();
    }
}

/// One `herald` process; SIGKILLed when dropped.
struct Node {
    child: tokio::process::Child,
    api: Api,
    log: std::path::PathBuf,
}

impl Node {
    /// Runs `herald ARGS` and waits for its "listening on" line.
    async fn start(dir: &Path, name: &str, args: &[&str], url: &str) -> Node {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("a log file");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(args)
            .arg("--no-migrate")
            .current_dir(dir)
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .env("HERALD_DATABASE_URL", url)
            .env("HERALD_DATABASE_POOL", "6")
            .env("HERALD_SECRET_KEY", SECRET_KEY)
            .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("HERALD_LEASE_S", LEASE_S.to_string())
            .env("HERALD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("herald starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.split_whitespace().next().map(str::to_string);
                }
            }
            None
        })
        .await;
        let addr = match found {
            Ok(Some(addr)) => addr,
            other => panic!(
                "{name} did not say where it listens ({other:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node {
            child,
            api: Api::new(format!("http://{addr}")),
            log,
        }
    }

    async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL herald");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn email(i: usize) -> String {
    format!("client{i}@example.com")
}

fn failing(i: usize) -> bool {
    i.is_multiple_of(3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_lose_nothing_and_double_nothing() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    let node_url = schema.node_url();
    let dir = tempfile::tempdir().expect("a temp dir");
    let migrated = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("migrate")
        .env("HERALD_DATABASE_URL", &node_url)
        .output()
        .await
        .expect("herald migrate runs");
    assert!(migrated.status.success(), "herald migrate: {migrated:?}");

    let api_node = Node::start(dir.path(), "api", &["serve", "--no-workers"], &node_url).await;
    let mut workers = Vec::new();
    for w in 0..3 {
        workers.push(Node::start(dir.path(), &format!("worker-{w}"), &["worker"], &node_url).await);
    }
    // A worker answers monitoring, not the API.
    let (status, _) = workers[0]
        .api
        .call(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = workers[0]
        .api
        .call(reqwest::Method::GET, "/v1/notifications", Some("k"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let api = api_node.api.clone();
    let key = api.create_tenant("Nodes Salon").await.api_key;
    let outcomes: BTreeMap<String, &str> = (0..CLIENTS)
        .filter(|i| failing(*i))
        .map(|i| (email(i), "rejected"))
        .collect();
    api.simulator(
        &key,
        "email",
        json!({"latency_ms": 400, "outcomes": outcomes}),
    )
    .await;
    api.integration(
        &key,
        "sms",
        json!({"provider": "simulator", "settings": {"receipt_ms": 300}, "confirm": "receipt", "window_s": 60}),
    )
    .await;
    api.put_type(
        &key,
        "reminder",
        json!({"audience": "client",
               "channels": [{"channel": "email", "scenario": "always"}, {"channel": "sms", "scenario": "fallback"}],
               "templates": {"email": {"en": {"subject": "Reminder", "body": "See you at {{ time }}"}},
                             "sms": {"en": {"body": "See you at {{ time }}"}}}}),
    )
    .await;
    for i in 0..CLIENTS {
        api.put_client(
            &key,
            &format!("c{i}"),
            json!({"email": email(i), "phone": format!("+1555{i:07}")}),
        )
        .await;
    }

    // Trigger them all at the API node, then kill one worker mid-flight.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CLIENTS {
        let (api, key) = (api.clone(), key.clone());
        tasks.spawn(async move {
            let body = json!({"type": "reminder", "client": format!("c{i}"),
                              "data": {"time": "10:00"}, "idempotency_key": format!("nodes-{i}")});
            let (status, resp) = api.post("/v1/notifications", &key, &body).await;
            assert_eq!(status, StatusCode::ACCEPTED, "trigger c{i}: {resp}");
            (resp["id"].as_str().expect("id").to_string(), i)
        });
    }
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (id, i) = r.expect("trigger task");
        accepted.insert(id, i);
    }
    assert_eq!(accepted.len(), CLIENTS);
    let (newest, _) = api.log(&key, "limit=32").await;
    let pending_at_kill = newest.iter().filter(|n| n["status"] == "pending").count();
    workers.remove(0).kill().await;
    assert!(
        pending_at_kill > 0,
        "the kill must come mid-flight, but all of the 32 newest notifications were already final"
    );

    // Every accepted notification finishes on the two workers left (what
    // the dead one held comes back when its lease lapses).
    let start = Instant::now();
    let mut finals: BTreeMap<String, Value> = BTreeMap::new();
    loop {
        for id in accepted.keys() {
            if finals.contains_key(id) {
                continue;
            }
            let n = api.notification(&key, id).await;
            if n["status"] != "pending" {
                finals.insert(id.clone(), n);
            }
        }
        if finals.len() == accepted.len() {
            break;
        }
        assert!(
            start.elapsed() < BOUND,
            "{} notifications still pending after {BOUND:?}; a worker's log:\n{}",
            accepted.len() - finals.len(),
            std::fs::read_to_string(&workers[0].log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (id, n) in &finals {
        let i = accepted[id];
        let outcomes: Vec<&str> = n["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| c["outcome"].as_str().unwrap_or_default())
            .collect();
        let want = if failing(i) {
            ["failed", "delivered"]
        } else {
            ["delivered", "skipped"]
        };
        assert_eq!(outcomes, want, "c{i}: {n:#}");
        assert_eq!(n["status"], "delivered", "{n:#}");
    }

    // The shared outbox: one message per attempt and key, exactly what
    // each notification needed.
    let messages = api.outbox_all(&key).await;
    let mut seen_attempts = BTreeSet::new();
    let mut seen_keys = BTreeSet::new();
    let mut per_notification: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in &messages {
        let s = |f: &str| m[f].as_str().unwrap_or_default().to_string();
        let attempt = (s("notification_id"), s("channel"), s("route"), s("to"));
        assert!(
            seen_attempts.insert(attempt.clone()),
            "sent twice: {attempt:?}"
        );
        assert!(
            seen_keys.insert(s("idempotency_key")),
            "key used twice: {m}"
        );
        let e = per_notification.entry(attempt.0).or_default();
        match attempt.1.as_str() {
            "email" => e.0 += 1,
            "sms" => e.1 += 1,
            other => panic!("a message on {other}: {m}"),
        }
    }
    for (id, i) in &accepted {
        let (emails, sms) = per_notification.get(id).copied().unwrap_or_default();
        assert_eq!(emails, 1, "c{i} ({id}): exactly one e-mail");
        assert_eq!(sms, usize::from(failing(*i)), "c{i} ({id}): SMS messages");
    }
    assert_eq!(messages.len(), CLIENTS + CLIENTS.div_ceil(3));
    // A message is asked for twice only when the killed worker held it
    // (its lease lapsed and another worker sent it again, same key): never
    // more than twice, and never more of them than it could hold.
    let repeated: Vec<&Value> = messages
        .iter()
        .filter(|m| m["requests"].as_u64().unwrap_or(0) > 1)
        .collect();
    assert!(
        repeated.iter().all(|m| m["requests"].as_u64() == Some(2)),
        "a message asked for more than a lapsed lease explains: {repeated:?}"
    );
    assert!(
        repeated.len() <= herald::worker::WorkerConfig::default().concurrency,
        "{} repeated messages",
        repeated.len()
    );
    // Herald's side: an attempt is claimed again only after the killed
    // worker's lease lapsed, once.
    let reclaimed = finals
        .values()
        .flat_map(|n| n["channels"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["attempts"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["requests"].as_u64().unwrap_or(0) > 1)
        .inspect(|a| assert_eq!(a["requests"], 2, "claimed more than twice: {a}"))
        .count();
    eprintln!(
        "nodes: {pending_at_kill} of the 32 newest were pending at the kill; {reclaimed} \
         attempts were taken back after the dead worker's lease; {} messages reached the \
         simulator twice",
        repeated.len()
    );
    drop(workers);
    drop(api_node);
    drop(schema);
}
