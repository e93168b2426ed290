//! A rough throughput probe of the SQLite store, not a pass/fail test:
//! `cargo test --release -p herald-store --test throughput -- --ignored --nocapture`
//! prints accepts/s, claim+answer/s and simulator sends/s on this machine.

use herald_core::{
    Audience, Channel, ChannelPlan, Confirm, FallbackWhen, Plan, Reach, Rendered, Scenario,
};
use herald_store::sqlite::SqliteStore;
use herald_store::{
    NewNotification, SendOutcome, SendResult, SimFinal, SimSend, SimStore, Store, Tenant,
};
use std::sync::Arc;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run with --release -- --ignored --nocapture"]
async fn throughput() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    let tenant = Tenant {
        id: "t".into(),
        name: "n".into(),
        created_at: 0,
    };
    store.create_tenant(&tenant, "k").await.unwrap();

    let start = Instant::now();
    for i in 0..300 {
        store.set_meta("x", &i.to_string()).await.unwrap();
    }
    println!("one commit at a time: {:?} each", start.elapsed() / 300);

    let (total, callers) = (20_000usize, 1_000usize);
    let channel = |ch: Channel, scenario, to: &str, confirm, window_s| ChannelPlan {
        channel: ch,
        scenario,
        reach: Reach::Addresses {
            to: vec![to.to_string()],
        },
        routes: vec![ch.as_str().into()],
        confirm,
        window_s,
    };
    let p = Plan {
        fallback_when: FallbackWhen::NoneDelivered,
        channels: vec![
            channel(
                Channel::Email,
                Scenario::Always,
                "ana@example.com",
                Confirm::Accepted,
                300,
            ),
            channel(
                Channel::Sms,
                Scenario::Fallback,
                "+15550001111",
                Confirm::Receipt,
                600,
            ),
        ],
    };
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..callers {
        let (store, p) = (store.clone(), p.clone());
        tasks.spawn(async move {
            for i in 0..total / callers {
                let n = NewNotification {
                    id: uuid::Uuid::now_v7().to_string(),
                    tenant_id: "t".into(),
                    type_key: "reminder".into(),
                    audience: Audience::Client,
                    recipient_id: "c".into(),
                    data: serde_json::json!({"client_name": "Ana"}),
                    idempotency_key: Some(format!("{c}-{i}")),
                    keys_expire_before: None,
                    request_sha256: "sha".into(),
                    plan: p.clone(),
                    rendered: vec![
                        Some(Rendered {
                            subject: Some("Your visit".into()),
                            title: None,
                            body: "See you tomorrow at 10:00.".into(),
                        }),
                        Some(Rendered::default()),
                    ],
                    created_at: 1_000,
                    schedule: Default::default(),
                    booking: None,
                };
                store.accept_notification(n).await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let took = start.elapsed();
    println!(
        "accepts: {total} in {took:?} = {:.0}/s ({:?})",
        total as f64 / took.as_secs_f64(),
        store.writer_stats()
    );

    let start = Instant::now();
    let mut answered = 0;
    let mut sent = 0;
    loop {
        let claimed = store
            .claim_attempts(2_000, 500, 30_000, &herald_store::ClaimBudget::unbounded())
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        // The simulator's side, one call per message, all at once.
        let mut sims = tokio::task::JoinSet::new();
        for a in &claimed {
            let (store, a) = (store.clone(), a.clone());
            sims.spawn(async move {
                let s = SimSend {
                    hook_id: "hook-sim".into(),
                    tenant_id: a.tenant_id,
                    notification_id: a.notification_id,
                    channel: a.channel,
                    route: a.route,
                    to: a.to,
                    content: a.content,
                    idempotency_key: a.idempotency_key,
                    outcome: "delivered".into(),
                    transient_first: 0,
                    final_answer: SimFinal::Accepted { receipt: None },
                    record: true,
                    at: 2_000,
                };
                store.sim_send(s).await.unwrap()
            });
        }
        while let Some(r) = sims.join_next().await {
            r.unwrap();
            sent += 1;
        }
        answered += claimed.len();
        let results = claimed
            .iter()
            .map(|a| SendResult {
                attempt_id: a.id.clone(),
                at: 2_000,
                outcome: SendOutcome::Accepted {
                    provider_message_id: Some(a.id.clone()),
                    cost_micros: None,
                },
            })
            .collect();
        store.record_send_results(results).await.unwrap();
    }
    let took = start.elapsed();
    println!(
        "claim + simulator send + answer: {answered} cascades ({sent} sends) in {took:?} = {:.0}/s",
        answered as f64 / took.as_secs_f64()
    );
}
