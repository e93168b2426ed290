//! `cargo bench -p herald --bench throughput`: measures, on this machine,
//! (1) the pure cascade decision, (2) trigger acceptance through the HTTP
//! API (each 202 is durably committed), and (3) whole cascades end to end
//! with the simulator (e-mail always + SMS fallback, half the e-mails
//! rejected so half the cascades fall back to SMS). Prints one line per
//! figure and the process's peak RSS. Sizes can be set with
//! HERALD_BENCH_N (notifications, default 20000) and HERALD_BENCH_CONC
//! (concurrent HTTP clients, default 64); HERALD_BENCH_PER_KEY sets the
//! bound on sends in flight per tenant and channel (default 64), and
//! HERALD_BENCH_FAIR_N the fairness run's backlog (default 1000).

use herald::server::{self, ServeConfig};
use herald::worker::WorkerConfig;
use herald_core::{
    decide, AttemptFacts, AttemptState, ChannelPlan, Confirm, FallbackWhen, Plan, Reach, Scenario,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_decide() {
    let plan = Plan {
        fallback_when: FallbackWhen::NoneDelivered,
        channels: vec![
            ChannelPlan {
                channel: herald_core::Channel::Email,
                scenario: Scenario::Always,
                reach: Reach::Addresses {
                    to: vec!["a@example.com".into()],
                },
                routes: vec!["email".into()],
                confirm: Confirm::Accepted,
                window_s: 300,
            },
            ChannelPlan {
                channel: herald_core::Channel::Aunio,
                scenario: Scenario::Always,
                reach: Reach::Unreachable {
                    reason: "client has no Aunio app installed".into(),
                },
                routes: vec!["aunio".into()],
                confirm: Confirm::Accepted,
                window_s: 300,
            },
            ChannelPlan {
                channel: herald_core::Channel::Sms,
                scenario: Scenario::Fallback,
                reach: Reach::Addresses {
                    to: vec!["+15550001111".into()],
                },
                routes: vec!["whatsapp".into(), "sms".into()],
                confirm: Confirm::Receipt,
                window_s: 600,
            },
        ],
    };
    let attempts = vec![AttemptFacts {
        channel_idx: 0,
        route: "email".into(),
        to: "a@example.com".into(),
        created_at: 0,
        state: AttemptState::Refused {
            at: 10,
            error: "rejected".into(),
            unreachable: false,
        },
        receipts: vec![],
    }];
    let n = 1_000_000;
    let t = Instant::now();
    let mut starts = 0;
    for i in 0..n {
        starts += decide(
            std::hint::black_box(&plan),
            std::hint::black_box(&attempts),
            20 + i,
        )
        .start
        .len();
    }
    let el = t.elapsed();
    assert_eq!(starts, n as usize);
    println!(
        "decide (3 channels, fallback due): {:.0} ns/call, {:.0} calls/s",
        el.as_nanos() as f64 / n as f64,
        n as f64 / el.as_secs_f64()
    );
}

async fn call(
    c: &reqwest::Client,
    m: reqwest::Method,
    url: String,
    key: &str,
    body: Value,
) -> (u16, Value) {
    let r = c
        .request(m, url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

async fn bench_service(n: usize, conc: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ServeConfig::new(format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ));
    cfg.admin_token = Some("bench-admin".into());
    cfg.worker = WorkerConfig::default();
    // HERALD_BENCH_PER_KEY: sends in flight per (tenant, channel).
    cfg.worker.per_integration = env_usize("HERALD_BENCH_PER_KEY", cfg.worker.per_integration);
    let running = server::start(cfg).await.expect("start");
    let base = format!("http://{}", running.addr);
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(conc)
        .build()
        .expect("client");
    let (_, t) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/tenants"),
        "bench-admin",
        json!({"name": "Bench"}),
    )
    .await;
    let key = t["api_key"].as_str().expect("api key").to_string();
    for (ch, settings, confirm) in [
        (
            "email",
            json!({"record": false, "default": "delivered", "outcomes": {}}),
            "accepted",
        ),
        ("sms", json!({"record": false, "receipt_ms": 0}), "receipt"),
    ] {
        let (s, b) = call(
            &c,
            reqwest::Method::PUT,
            format!("{base}/v1/integrations/{ch}"),
            &key,
            json!({"provider": "simulator", "settings": settings, "confirm": confirm}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    // Half the clients have an e-mail the simulator rejects.
    let mut outcomes = serde_json::Map::new();
    for i in (0..1000).step_by(2) {
        outcomes.insert(format!("c{i}@example.com"), json!("rejected"));
    }
    let (s, b) = call(
        &c,
        reqwest::Method::PUT,
        format!("{base}/v1/integrations/email"),
        &key,
        json!({"provider": "simulator", "settings": {"record": false, "outcomes": outcomes}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(&c, reqwest::Method::PUT, format!("{base}/v1/notification-types/reminder"), &key, json!({
        "audience": "client",
        "channels": [{"channel": "email", "scenario": "always"}, {"channel": "sms", "scenario": "fallback"}],
        "templates": {"email": {"en": {"subject": "At {{ time }}", "body": "Hi {{ name }}"}}, "sms": {"en": {"body": "{{ time }}"}}}
    })).await;
    assert_eq!(s, 200, "{b}");
    for i in 0..1000 {
        let (s, b) = call(
            &c,
            reqwest::Method::PUT,
            format!("{base}/v1/clients/c{i}"),
            &key,
            json!({"email": format!("c{i}@example.com"), "phone": format!("+1555{i:07}")}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }

    let t0 = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (c, base, key, next) = (c.clone(), base.clone(), key.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (s, b) = call(&c, reqwest::Method::POST, format!("{base}/v1/notifications"), &key,
                    json!({"type": "reminder", "client": format!("c{}", i % 1000), "data": {"time": "10:00", "name": "Ana"}})).await;
                assert_eq!(s, 202, "{b}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let accepted = t0.elapsed();
    println!(
        "triggers accepted over HTTP ({conc} clients): {n} in {:.2} s = {:.0}/s",
        accepted.as_secs_f64(),
        n as f64 / accepted.as_secs_f64()
    );
    loop {
        let (_, b) = call(
            &c,
            reqwest::Method::GET,
            format!("{base}/v1/notifications?status=pending&limit=1"),
            &key,
            Value::Null,
        )
        .await;
        if b["notifications"].as_array().is_some_and(|a| a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = t0.elapsed();
    println!(
        "cascades finished end to end (half falling back to SMS): {n} in {:.2} s = {:.0}/s",
        done.as_secs_f64(),
        n as f64 / done.as_secs_f64()
    );
    running.stop().await;
    if let Some(kib) = peak_rss_kib() {
        println!(
            "peak RSS of the bench process (server + clients): {} MiB",
            kib / 1024
        );
    }
}

/// Fairness: one tenant's backlog on a provider that takes 2 s per send
/// (the simulator's latency), then another tenant's single e-mail. Prints
/// how long that e-mail took from trigger to delivered, and how much of
/// the backlog was still waiting then.
async fn bench_fairness(backlog: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = ServeConfig::new(format!("sqlite://{}", dir.path().join("fair.db").display()));
    cfg.admin_token = Some("bench-admin".into());
    let per_key = cfg.worker.per_integration;
    let running = server::start(cfg).await.expect("start");
    let base = format!("http://{}", running.addr);
    let c = reqwest::Client::new();
    let mut keys = Vec::new();
    for (name, latency) in [("Slow", 2_000), ("Quick", 0)] {
        let (_, t) = call(
            &c,
            reqwest::Method::POST,
            format!("{base}/v1/tenants"),
            "bench-admin",
            json!({ "name": name }),
        )
        .await;
        let key = t["api_key"].as_str().expect("api key").to_string();
        for (path, body) in [
            (
                "integrations/email",
                json!({"provider": "simulator", "settings": {"latency_ms": latency, "record": false}}),
            ),
            (
                "notification-types/t",
                json!({"audience": "client", "channels": [{"channel": "email", "scenario": "always"}]}),
            ),
            ("clients/ana", json!({"email": "ana@example.com"})),
        ] {
            let (s, b) = call(
                &c,
                reqwest::Method::PUT,
                format!("{base}/v1/{path}"),
                &key,
                body,
            )
            .await;
            assert_eq!(s, 200, "{b}");
        }
        keys.push(key);
    }
    for _ in 0..backlog {
        let (s, b) = call(
            &c,
            reqwest::Method::POST,
            format!("{base}/v1/notifications"),
            &keys[0],
            json!({"type": "t", "client": "ana"}),
        )
        .await;
        assert_eq!(s, 202, "{b}");
    }
    let t0 = Instant::now();
    let (_, b) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/notifications"),
        &keys[1],
        json!({"type": "t", "client": "ana"}),
    )
    .await;
    let id = b["id"].as_str().expect("id").to_string();
    loop {
        let (_, n) = call(
            &c,
            reqwest::Method::GET,
            format!("{base}/v1/notifications/{id}"),
            &keys[1],
            Value::Null,
        )
        .await;
        if n["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = t0.elapsed();
    let (_, p) = call(
        &c,
        reqwest::Method::GET,
        format!("{base}/v1/notifications?status=pending&limit=1000"),
        &keys[0],
        Value::Null,
    )
    .await;
    println!(
        "fairness: another tenant's e-mail delivered {:.0} ms after its trigger, while {} of a {backlog}-send backlog at 2 s per send ({per_key} in flight per integration) still waited",
        took.as_secs_f64() * 1_000.0,
        p["notifications"].as_array().map_or(0, Vec::len),
    );
    running.stop().await;
}

fn main() {
    // `cargo bench` passes --bench; `cargo test` runs benches only with --benches.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    bench_decide();
    let n = env_usize("HERALD_BENCH_N", 20_000);
    let conc = env_usize("HERALD_BENCH_CONC", 64);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            bench_service(n, conc).await;
            bench_fairness(env_usize("HERALD_BENCH_FAIR_N", 1_000)).await;
        });
}
