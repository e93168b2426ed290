//! Retention: old finished notifications go with their attempts and
//! receipts, unfinished and recent ones stay, idempotency keys expire
//! (also before the pruner comes by), the simulator's outbox is pruned,
//! and batches say when more remain.

use super::*;
use herald_core::{Channel, Rendered, Status};
use herald_store::{
    ClaimBudget, IncomingReceipt, ListQuery, OutboxQuery, PruneLimits, Pruned, SimFinal, SimSend,
    SimStore, Store,
};

pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;

fn limits(batch: usize) -> PruneLimits {
    PruneLimits {
        retention_ms: 30 * DAY,
        idempotency_ms: 48 * HOUR,
        batch,
    }
}

/// Claims everything due at `at` and answers each attempt accepted.
async fn send_all(store: &dyn Store, at: i64) -> Vec<String> {
    let claimed = store
        .claim_attempts(at, 100, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (i, c) in claimed.iter().enumerate() {
        answer(store, &c.id, at + 500, accepted(&format!("pm-{at}-{i}"))).await;
        ids.push(format!("pm-{at}-{i}"));
    }
    ids
}

pub async fn check_prune_finished(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let sms = receipt_sms();
    // Three finished at T0 (two e-mails, an SMS with its receipt).
    let old_a = accept(store, notification(&tenant, plan(vec![email()]), T0)).await;
    let old_b = accept(store, notification(&tenant, plan(vec![email()]), T0)).await;
    send_all(store, T0).await;
    let old_sms = accept(store, notification(&tenant, plan(vec![sms]), T0 + 1_000)).await;
    let pm = send_all(store, T0 + 1_000).await;
    let r = IncomingReceipt {
        hook_id: hook(&tenant, Channel::Sms),
        provider_message_id: Some(pm[0].clone()),
        idempotency_key: None,
        delivered: true,
        error: None,
        at: T0 + 2_000,
    };
    store.record_receipt(r).await.unwrap();
    for id in [&old_a, &old_b, &old_sms] {
        assert_eq!(get(store, &tenant, id).await.status, Status::Delivered);
    }
    // As old, not finished: scheduled far ahead (the one kind of
    // notification that stays unfinished for a month).
    let mut far = notification(&tenant, plan(vec![email()]), T0);
    far.schedule.send_at = Some(T0 + 40 * DAY);
    let old_pending = accept(store, far).await;
    // Finished 20 days later: recent.
    let recent = accept(
        store,
        notification(&tenant, plan(vec![email()]), T0 + 20 * DAY),
    )
    .await;
    let claimed = store
        .claim_attempts(T0 + 20 * DAY, 100, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    let mine: Vec<_> = claimed
        .iter()
        .filter(|c| c.notification_id == recent)
        .collect();
    assert_eq!(mine.len(), 1);
    answer(store, &mine[0].id, T0 + 20 * DAY, accepted("pm-recent")).await;
    assert_eq!(get(store, &tenant, &recent).await.status, Status::Delivered);

    let now = T0 + 31 * DAY;
    // Batches of two: the oldest two e-mails first, and more remain.
    let first = store.prune(now, limits(2)).await.unwrap();
    assert_eq!(
        first,
        Pruned {
            notifications: 2,
            attempts: 2,
            more: true,
            ..Pruned::default()
        }
    );
    let second = store.prune(now, limits(2)).await.unwrap();
    assert_eq!(
        second,
        Pruned {
            notifications: 1,
            attempts: 1,
            receipts: 1,
            more: false,
            ..Pruned::default()
        }
    );
    assert_eq!(
        store.prune(now, limits(2)).await.unwrap(),
        Pruned::default()
    );
    for id in [&old_a, &old_b, &old_sms] {
        assert!(store.get_notification(&tenant, id).await.unwrap().is_none());
    }
    let pending = get(store, &tenant, &old_pending).await;
    assert_eq!(pending.status, Status::Scheduled);
    assert_eq!(get(store, &tenant, &recent).await.status, Status::Delivered);
    let log = store
        .list_notifications(
            &tenant,
            &ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    let mut left: Vec<_> = log.iter().map(|n| n.id.clone()).collect();
    left.sort();
    let mut want = vec![old_pending.clone(), recent.clone()];
    want.sort();
    assert_eq!(left, want);
    // The kept one still goes out at its time and is delivered.
    let at = T0 + 40 * DAY;
    store.wake_due(at, 100).await.unwrap();
    let c = store
        .claim_attempts(at, 100, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].notification_id, old_pending);
    answer(store, &c[0].id, at + 500, accepted("pm-late")).await;
    let done = get(store, &tenant, &old_pending).await;
    assert_eq!(done.status, Status::Delivered);
    assert_eq!(
        done.attempts[0].provider_message_id.as_deref(),
        Some("pm-late")
    );
    // The recent one goes once it is old enough.
    let later = store.prune(T0 + 51 * DAY, limits(10)).await.unwrap();
    assert_eq!((later.notifications, later.attempts), (1, 1));
    assert!(store
        .get_notification(&tenant, &recent)
        .await
        .unwrap()
        .is_none());
}

pub async fn check_idempotency_keys_expire(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let keyed = |key: &str, at: i64| {
        let mut n = notification(&tenant, plan(vec![email()]), at);
        n.idempotency_key = Some(key.to_string());
        n.keys_expire_before = Some(at - 48 * HOUR);
        n
    };
    let first = accept(store, keyed("order-1", T0)).await;
    // Within the window: the same one, and pruning expires nothing.
    assert_eq!(
        store
            .accept_notification(keyed("order-1", T0 + 47 * HOUR))
            .await
            .unwrap(),
        herald_store::Accepted::Existing(first.clone())
    );
    assert_eq!(
        store
            .prune(T0 + 47 * HOUR, limits(10))
            .await
            .unwrap()
            .idempotency_keys,
        0
    );
    // Past it, before any prune: a new notification; the old one stays.
    let second = accept(store, keyed("order-1", T0 + 49 * HOUR)).await;
    assert_ne!(second, first);
    assert!(store
        .get_notification(&tenant, &first)
        .await
        .unwrap()
        .is_some());
    // The key now belongs to the new one.
    assert_eq!(
        store
            .accept_notification(keyed("order-1", T0 + 50 * HOUR))
            .await
            .unwrap(),
        herald_store::Accepted::Existing(second.clone())
    );
    // The pruner takes old keys off in batches; the notifications stay.
    for k in ["order-2", "order-3", "order-4"] {
        accept(store, keyed(k, T0)).await;
    }
    let p = store.prune(T0 + 49 * HOUR, limits(2)).await.unwrap();
    assert_eq!((p.idempotency_keys, p.notifications, p.more), (2, 0, true));
    let p = store.prune(T0 + 49 * HOUR, limits(2)).await.unwrap();
    assert_eq!((p.idempotency_keys, p.more), (1, false));
    // A pruned key is free even for a caller that sets no window.
    let mut again = keyed("order-3", T0 + 49 * HOUR);
    again.keys_expire_before = None;
    accept(store, again).await;
    let log = store
        .list_notifications(
            &tenant,
            &ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(log.len(), 6, "expiring a key removes no notification");
}

pub async fn check_sim_prune(config: &dyn Store, store: &dyn SimStore) {
    let tenant = new_tenant(config).await;
    let send = |key: &str, at: i64, final_answer: SimFinal| SimSend {
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
        outcome: "delivered".into(),
        transient_first: 0,
        final_answer,
        record: true,
        at,
    };
    let receipt_at = |at: i64| SimFinal::Accepted {
        receipt: Some((true, at)),
    };
    // Old with its receipt handed over, old refused, old still owing its
    // receipt, and recent.
    store
        .sim_send(send("sent", T0, receipt_at(T0 + 1_000)))
        .await
        .unwrap();
    let due = store.sim_due_receipts(T0 + 1_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    store.sim_mark_sent(&[due[0].id.clone()]).await.unwrap();
    let refused = SimFinal::Refused {
        unreachable: false,
        error: "no".into(),
    };
    store.sim_send(send("refused", T0, refused)).await.unwrap();
    store
        .sim_send(send("owing", T0, receipt_at(T0 + 40 * DAY)))
        .await
        .unwrap();
    store
        .sim_send(send("recent", T0 + 20 * DAY, receipt_at(T0 + 20 * DAY)))
        .await
        .unwrap();
    let before = T0 + DAY;
    let p = store.sim_prune(before, 1).await.unwrap();
    assert_eq!((p.sim_messages, p.more), (1, true));
    let p = store.sim_prune(before, 10).await.unwrap();
    assert_eq!((p.sim_messages, p.more), (1, false));
    assert_eq!(
        store.sim_prune(before, 10).await.unwrap(),
        Pruned::default()
    );
    let q = OutboxQuery {
        notification_id: None,
        channel: None,
        limit: 100,
        after: None,
    };
    let mut left: Vec<_> = store
        .sim_outbox(&tenant, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.idempotency_key)
        .collect();
    left.sort();
    assert_eq!(left, vec!["owing".to_string(), "recent".to_string()]);
    // The message that still owes its receipt still hands it over.
    let due = store.sim_due_receipts(T0 + 40 * DAY, 10).await.unwrap();
    assert!(due.iter().any(|d| d.idempotency_key == "owing"), "{due:?}");
}

/// Several nodes pruning at once share the work: every old finished
/// notification is removed exactly once and no prune fails. On a fresh
/// database (the counts are of every tenant's rows).
pub async fn check_prune_on_many_nodes(nodes: Vec<std::sync::Arc<dyn Store>>) {
    let first = nodes[0].clone();
    let store = &*first;
    let tenant = new_tenant(store).await;
    let mut ids = Vec::new();
    for _ in 0..60 {
        ids.push(accept(store, notification(&tenant, plan(vec![email()]), T0)).await);
    }
    send_all(store, T0).await;
    let mut tasks = tokio::task::JoinSet::new();
    for node in nodes {
        tasks.spawn(async move {
            let mut total = Pruned::default();
            loop {
                let p = node.prune(T0 + 31 * DAY, limits(7)).await.unwrap();
                total = total.plus(Pruned { more: false, ..p });
                if !p.more {
                    return total;
                }
            }
        });
    }
    let mut removed = (0, 0);
    while let Some(t) = tasks.join_next().await {
        let t = t.unwrap();
        removed.0 += t.notifications;
        removed.1 += t.attempts;
    }
    assert_eq!(removed, (60, 60));
    for id in &ids {
        assert!(store.get_notification(&tenant, id).await.unwrap().is_none());
    }
}
