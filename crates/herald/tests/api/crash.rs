//! The crash test: the real `herald serve` binary, killed with SIGKILL while
//! hundreds of cascades are in flight, then restarted on the same file.
//! Every accepted notification must reach its outcome, and the simulator's
//! outbox must show that nothing was sent twice.

use crate::helpers::{Api, ADMIN_TOKEN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const CLIENTS: usize = 300;
const IN_FLIGHT: usize = 32;
const RECOVERY_BOUND: Duration = Duration::from_secs(120);

/// A running `herald serve`; killed (SIGKILL) when dropped, so a failing
/// test leaves no server behind.
pub(crate) struct Herald {
    child: tokio::process::Child,
    pub(crate) api: Api,
    pub(crate) log: std::path::PathBuf,
}

impl Herald {
    /// Starts `herald serve` on a free port over `db`, and waits for its
    /// "listening on" line.
    pub(crate) async fn start(dir: &Path, run: u32) -> Herald {
        Herald::start_logging(dir, run, "warn").await
    }

    /// [`Herald::start`], logging at `level` (`HERALD_LOG`) to its log file.
    pub(crate) async fn start_logging(dir: &Path, run: u32, level: &str) -> Herald {
        let log = dir.join(format!("herald-{run}.log"));
        let stderr = std::fs::File::create(&log).expect("a log file");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("serve")
            .current_dir(dir)
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .env(
                "HERALD_DATABASE_URL",
                format!("sqlite://{}", dir.join("herald.db").display()),
            )
            .env("HERALD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("HERALD_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .expect("herald serve starts");
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
                "herald serve did not say where it listens ({other:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        // Keep reading stdout so the child never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Herald {
            child,
            api: Api::new(format!("http://{addr}")),
            log,
        }
    }

    /// SIGKILL, then reap.
    pub(crate) async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL herald");
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn email(i: usize) -> String {
    format!("client{i}@example.com")
}

fn failing(i: usize) -> bool {
    matches!(i % 3, 0)
}

/// Runs `f` over `items` with at most `IN_FLIGHT` at a time.
async fn bounded<T, R, F, Fut>(items: Vec<T>, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut set = JoinSet::new();
    for item in items {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let fut = f(item);
        set.spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_flight_and_mid_recovery_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let first = Herald::start(dir.path(), 1).await;
    let api = first.api.clone();
    let key = api.create_tenant("Crash Salon").await.api_key;

    let outcomes: BTreeMap<String, &str> = (0..CLIENTS)
        .filter(|i| failing(*i))
        .map(|i| (email(i), "rejected"))
        .collect();
    api.simulator(
        &key,
        "email",
        json!({"latency_ms": 50, "outcomes": outcomes}),
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
    bounded((0..CLIENTS).collect(), |i| {
        let api = api.clone();
        let key = key.clone();
        async move {
            api.put_client(
                &key,
                &format!("c{i}"),
                json!({"email": email(i), "phone": format!("+1555{i:07}")}),
            )
            .await;
        }
    })
    .await;

    // Trigger every notification, 32 at a time, and remember each 202.
    let answers = bounded((0..CLIENTS).collect(), |i| {
        let api = api.clone();
        let key = key.clone();
        async move {
            let body = json!({"type": "reminder", "client": format!("c{i}"), "data": {"time": "10:00"},
                              "idempotency_key": format!("crash-{i}")});
            let (status, resp) = api.post("/v1/notifications", &key, &body).await;
            (i, status, resp)
        }
    })
    .await;
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for (i, status, resp) in answers {
        assert_eq!(status, StatusCode::ACCEPTED, "trigger c{i}: {resp}");
        accepted.insert(resp["id"].as_str().expect("id").to_string(), i);
    }
    assert_eq!(
        accepted.len(),
        CLIENTS,
        "every trigger made its own notification"
    );

    // Right after the last 202: look at the newest few, then kill at once.
    let (newest, _) = api.log(&key, "limit=32").await;
    let pending_at_kill = newest.iter().filter(|n| n["status"] == "pending").count();
    first.kill().await;
    assert!(
        pending_at_kill > 0,
        "the kill must come mid-flight, but all of the 32 newest notifications were already final"
    );

    // Restart, and kill again while it is recovering: a crash during
    // recovery is just another crash.
    let second = Herald::start(dir.path(), 2).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    second.kill().await;

    // Restart on the same file; every accepted notification must finish.
    let third = Herald::start(dir.path(), 3).await;
    let api = third.api.clone();
    let start = Instant::now();
    let mut waiting: Vec<String> = accepted.keys().cloned().collect();
    let mut finals: BTreeMap<String, Value> = BTreeMap::new();
    while !waiting.is_empty() {
        let looked = bounded(waiting.clone(), |id| {
            let api = api.clone();
            let key = key.clone();
            async move {
                let (status, n) = api.get(&format!("/v1/notifications/{id}"), &key).await;
                assert_eq!(status, StatusCode::OK, "GET {id} after restart: {n}");
                (id, n)
            }
        })
        .await;
        waiting.clear();
        for (id, n) in looked {
            if n["status"] == "pending" {
                waiting.push(id);
            } else {
                finals.insert(id, n);
            }
        }
        if !waiting.is_empty() {
            assert!(
                start.elapsed() < RECOVERY_BOUND,
                "{} notifications still pending {RECOVERY_BOUND:?} after the restart, e.g. {:#}; log:\n{}",
                waiting.len(),
                api.get(&format!("/v1/notifications/{}", waiting[0]), &key).await.1,
                std::fs::read_to_string(&third.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Every notification reached the outcome its client calls for.
    for (id, n) in &finals {
        let i = accepted[id];
        let status = n["status"].as_str().unwrap_or_default();
        assert!(status == "delivered" || status == "failed", "{n:#}");
        let outcomes: Vec<&str> = n["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| c["outcome"].as_str().unwrap_or_default())
            .collect();
        if failing(i) {
            assert_eq!(
                outcomes,
                ["failed", "delivered"],
                "c{i} falls back to SMS: {n:#}"
            );
        } else {
            assert_eq!(
                outcomes,
                ["delivered", "skipped"],
                "c{i} is reached by e-mail: {n:#}"
            );
        }
        assert_eq!(status, "delivered", "{n:#}");
    }

    // The outbox: nothing twice, and exactly what each notification needed.
    let messages = api.outbox_all(&key).await;
    let mut seen_attempts = BTreeSet::new();
    let mut seen_keys = BTreeSet::new();
    let mut per_notification: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for m in &messages {
        let attempt = (
            m["notification_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            m["channel"].as_str().unwrap_or_default().to_string(),
            m["route"].as_str().unwrap_or_default().to_string(),
            m["to"].as_str().unwrap_or_default().to_string(),
        );
        assert!(
            seen_attempts.insert(attempt.clone()),
            "sent twice: {attempt:?}"
        );
        let ikey = m["idempotency_key"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!ikey.is_empty(), "a message without a key: {m}");
        assert!(
            seen_keys.insert(ikey.clone()),
            "idempotency key {ikey} used twice"
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
        let want_sms = usize::from(failing(*i));
        assert_eq!(sms, want_sms, "c{i} ({id}): SMS messages");
    }
    assert_eq!(
        messages.len(),
        CLIENTS + CLIENTS.div_ceil(3),
        "no message outside the notifications"
    );
    let repeated = messages
        .iter()
        .filter(|m| m["requests"].as_u64().unwrap_or(0) > 1)
        .count();
    eprintln!("crash: {pending_at_kill} of the 32 newest were pending at the kill; {repeated} messages were asked for more than once");

    third.kill().await;
}
