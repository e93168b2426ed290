//! Several nodes on one database: each `Arc<dyn Store>` of `nodes` is its
//! own handle (its own pool, on PostgreSQL) to the same tables; a backend
//! with one node per database passes the same handle more than once.

use super::*;
use herald_core::{Channel, Status};
use herald_store::{Accepted, ClaimBudget, ReceiptMatch, SimStore, Store};
use std::collections::HashSet;
use std::sync::Arc;

/// Triggers with one idempotency key reaching different nodes at once
/// create one notification, and every other answer names it.
pub async fn check_same_key_on_many_nodes(nodes: Vec<Arc<dyn Store>>) {
    let tenant = new_tenant(&*nodes[0]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = nodes[i % nodes.len()].clone();
        let mut n = notification(&tenant, plan(vec![email()]), T0 + i as i64);
        n.idempotency_key = Some(format!("key-{}", i % 4));
        tasks.spawn(async move { (i % 4, store.accept_notification(n).await.unwrap()) });
    }
    let mut created: Vec<HashSet<String>> = vec![HashSet::new(); 4];
    let mut named: Vec<HashSet<String>> = vec![HashSet::new(); 4];
    while let Some(res) = tasks.join_next().await {
        let (key, answer) = res.unwrap();
        match answer {
            Accepted::Created(id) => {
                created[key].insert(id.clone());
                named[key].insert(id);
            }
            Accepted::Existing(id) => {
                named[key].insert(id);
            }
            Accepted::Conflict(id) => panic!("same body, yet a conflict with {id}"),
        }
    }
    for key in 0..4 {
        assert_eq!(created[key].len(), 1, "key-{key}: {:?}", created[key]);
        assert_eq!(named[key], created[key], "key-{key}");
    }
    let q = herald_store::ListQuery {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        nodes[1 % nodes.len()]
            .list_notifications(&tenant, &q)
            .await
            .unwrap()
            .len(),
        4
    );
    // Only one first attempt each: four attempts due in all.
    let due = nodes[0]
        .claim_attempts(T0 + 1_000, 100, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(due.len(), 4);
}

/// Many claimers on several nodes at once: every due attempt is claimed
/// exactly once, and none is claimed again while its lease holds.
pub async fn check_claimers_never_share(nodes: Vec<Arc<dyn Store>>) {
    const N: usize = 240;
    let tenant = new_tenant(&*nodes[0]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let store = nodes[i % nodes.len()].clone();
        let n = notification(&tenant, plan(vec![email()]), T0 + i as i64);
        tasks.spawn(async move { store.accept_notification(n).await.unwrap() });
    }
    while let Some(res) = tasks.join_next().await {
        assert!(matches!(res.unwrap(), Accepted::Created(_)));
    }
    let now = T0 + 10_000;
    let mut claimers = tokio::task::JoinSet::new();
    for c in 0..8 {
        let store = nodes[c % nodes.len()].clone();
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_attempts(now, 7, 60_000, &ClaimBudget::unbounded())
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        });
    }
    let mut all = Vec::new();
    while let Some(res) = claimers.join_next().await {
        all.extend(res.unwrap());
    }
    // A claimer may stop while another still held rows it skipped: what
    // is left is claimed now, still once.
    all.extend(
        nodes[0]
            .claim_attempts(now, N, 60_000, &ClaimBudget::unbounded())
            .await
            .unwrap(),
    );
    let ids: HashSet<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "an attempt was claimed twice");
    assert_eq!(all.len(), N);
    assert!(all.iter().all(|c| c.requests == 1));
    for node in &nodes {
        assert!(node
            .claim_attempts(now + 1_000, N, 60_000, &ClaimBudget::unbounded())
            .await
            .unwrap()
            .is_empty());
    }
}

/// A receipt reaching one node and the send answer reaching another at
/// the same moment: both facts count, whichever commits first.
pub async fn check_answer_and_receipt_on_two_nodes(nodes: Vec<Arc<dyn Store>>) {
    let tenant = new_tenant(&*nodes[0]).await;
    let sms = receipt_sms();
    let mut ids = Vec::new();
    for i in 0..30 {
        let n = notification(&tenant, plan(vec![sms.clone()]), T0 + i);
        ids.push(accept(&*nodes[0], n).await);
    }
    let claimed = nodes[0]
        .claim_attempts(T0 + 1_000, 100, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 30);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in claimed.iter().enumerate() {
        let answering = nodes[i % nodes.len()].clone();
        let receiving = nodes[(i + 1) % nodes.len()].clone();
        let (id, key) = (c.id.clone(), c.idempotency_key.clone());
        let hook = hook(&tenant, Channel::Sms);
        tasks.spawn(async move {
            answer(&*answering, &id, T0 + 2_000, accepted(&format!("pm-{id}"))).await;
        });
        tasks.spawn(async move {
            // Matched by the attempt's key: the webhook may beat the answer.
            let r = herald_store::IncomingReceipt {
                hook_id: hook,
                provider_message_id: None,
                idempotency_key: Some(key),
                delivered: true,
                error: None,
                at: T0 + 2_000,
            };
            let m = receiving.record_receipt(r).await.unwrap();
            assert_eq!(m, ReceiptMatch::Recorded { late: false });
        });
    }
    while let Some(res) = tasks.join_next().await {
        res.unwrap();
    }
    for id in &ids {
        let rec = get(&*nodes[1 % nodes.len()], &tenant, id).await;
        assert_eq!(rec.status, Status::Delivered, "{rec:?}");
        assert_eq!(rec.attempts[0].receipts.len(), 1);
        assert!(rec.attempts[0].provider_message_id.is_some());
    }
}

/// The simulator's outbox seen from several nodes: requests for one key
/// through any of them are one message, counted once per request, and the
/// first request's answer rule holds for all.
pub async fn check_sim_outbox_across_nodes(config: Arc<dyn Store>, sims: Vec<Arc<dyn SimStore>>) {
    use herald_core::Rendered;
    use herald_store::{OutboxQuery, SimAnswer, SimFinal, SimSend};
    let tenant = new_tenant(&*config).await;
    let send = |key: &str, at: i64| SimSend {
        hook_id: "hook-sim".into(),
        tenant_id: tenant.clone(),
        notification_id: "n1".into(),
        channel: Channel::Sms,
        route: "sms".into(),
        to: "+15550001111".into(),
        content: Rendered {
            subject: None,
            title: None,
            body: "hello".into(),
        },
        idempotency_key: key.to_string(),
        outcome: "transient:1".into(),
        transient_first: 1,
        final_answer: SimFinal::Accepted {
            receipt: Some((true, at + 5_000)),
        },
        record: true,
        at,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..24 {
        let sim = sims[i % sims.len()].clone();
        let s = send(&format!("k{}", i % 3), T0 + i as i64);
        tasks.spawn(async move { sim.sim_send(s).await.unwrap() });
    }
    let mut transient = 0;
    let mut ids = HashSet::new();
    while let Some(res) = tasks.join_next().await {
        match res.unwrap() {
            SimAnswer::Transient { requests } => {
                assert_eq!(requests, 1);
                transient += 1;
            }
            SimAnswer::Accepted { message_id } => {
                ids.insert(message_id);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // One transient answer per key, then the same message id for each.
    assert_eq!((transient, ids.len()), (3, 3));
    let q = OutboxQuery {
        limit: 100,
        ..OutboxQuery::default()
    };
    for sim in &sims {
        let out = sim.sim_outbox(&tenant, &q).await.unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|m| m.requests == 8), "{out:?}");
    }
    assert_eq!(
        sims[0]
            .sim_due_receipts(T0 + 100_000, 100)
            .await
            .unwrap()
            .len(),
        3
    );
}
