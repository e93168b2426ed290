//! Many callers at once: group commit, multi-row statements, races.

use super::*;
use herald_core::{Channel, Rendered, Status};
use herald_store::{
    Accepted, AttemptStatus, ListQuery, OutboxQuery, ReceiptMatch, SendOutcome, SendResult,
    SimAnswer, SimFinal, SimSend, SimStore, Store,
};
use std::sync::Arc;

pub async fn check_concurrent_accepts(store: Arc<dyn Store>) {
    let tenant = new_tenant(&*store).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let store = store.clone();
        let mut n = notification(&tenant, plan(vec![email(), fallback_sms()]), T0 + i);
        if i % 20 == 0 {
            // Ten triggers share one key: exactly one is created.
            n.idempotency_key = Some("shared".into());
        }
        tasks.spawn(async move { store.accept_notification(n).await });
    }
    // Two triggers with one notification id among them (a caller's bug):
    // one is created, the other is refused, and neither holds up the rest
    // (a backend that commits accepts in groups must not fail the group).
    let dup_id = "0190c6e0-0000-7000-8000-00000000d00d".to_string();
    for i in 0..2 {
        let store = store.clone();
        let mut n = notification(&tenant, plan(vec![email(), fallback_sms()]), T0 + 500 + i);
        n.id = dup_id.clone();
        tasks.spawn(async move { store.accept_notification(n).await });
    }
    let (mut created, mut existing, mut refused) = (0, 0, 0);
    while let Some(res) = tasks.join_next().await {
        match res.unwrap() {
            Ok(Accepted::Created(_)) => created += 1,
            Ok(Accepted::Existing(_)) => existing += 1,
            Ok(Accepted::Conflict(id)) => panic!("unexpected conflict with {id}"),
            Err(herald_store::StoreError::Conflict(_)) => refused += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((created, existing, refused), (192, 9, 1));
    let q = ListQuery {
        limit: 1_000,
        ..ListQuery::default()
    };
    assert_eq!(
        store.list_notifications(&tenant, &q).await.unwrap().len(),
        192
    );
    let claimed = store
        .claim_attempts(
            T0 + 1_000,
            1_000,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 192);
}

pub async fn check_answers_in_bulk(store: Arc<dyn Store>) {
    let tenant = new_tenant(&*store).await;
    // More notifications than one multi-row statement holds.
    let mut ids = Vec::new();
    for i in 0..150 {
        ids.push(
            accept(
                &*store,
                notification(&tenant, plan(vec![email(), fallback_sms()]), T0 + i),
            )
            .await,
        );
    }
    let claimed = store
        .claim_attempts(
            T0 + 1_000,
            1_000,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 150);
    let attempt_of = |nid: &str| {
        claimed
            .iter()
            .find(|c| c.notification_id == nid)
            .unwrap()
            .id
            .clone()
    };
    let refused = |e: &str| SendOutcome::Refused {
        error: e.into(),
        unreachable: false,
    };
    // Several answers for one attempt count as if applied in order.
    let mut results = vec![
        SendResult {
            attempt_id: attempt_of(&ids[0]),
            at: T0 + 2_000,
            outcome: SendOutcome::Retry {
                error: "429".into(),
                next_try_at: T0 + 3_000,
            },
        },
        SendResult {
            attempt_id: attempt_of(&ids[0]),
            at: T0 + 2_001,
            outcome: accepted("pm-0"),
        },
        SendResult {
            attempt_id: attempt_of(&ids[1]),
            at: T0 + 2_000,
            outcome: refused("550"),
        },
        SendResult {
            attempt_id: attempt_of(&ids[1]),
            at: T0 + 2_001,
            outcome: accepted("too late"),
        },
    ];
    for (i, nid) in ids.iter().enumerate().skip(2) {
        results.push(SendResult {
            attempt_id: attempt_of(nid),
            at: T0 + 2_000,
            outcome: if i % 2 == 0 {
                accepted(&format!("pm-{i}"))
            } else {
                refused("bounced")
            },
        });
    }
    store.record_send_results(results).await.unwrap();
    let first = get(&*store, &tenant, &ids[0]).await;
    assert_eq!(first.status, Status::Delivered);
    assert_eq!(
        first.attempts[0].provider_message_id.as_deref(),
        Some("pm-0")
    );
    let second = get(&*store, &tenant, &ids[1]).await;
    assert_eq!(second.attempts[0].status, AttemptStatus::Refused);
    assert_eq!(second.attempts[0].provider_message_id, None);
    assert_eq!(of(&second, Channel::Sms).len(), 1);
    for (i, nid) in ids.iter().enumerate().skip(2) {
        let rec = get(&*store, &tenant, nid).await;
        if i % 2 == 0 {
            assert_eq!(rec.status, Status::Delivered, "{i}");
            assert!(of(&rec, Channel::Sms).is_empty());
        } else {
            assert_eq!(rec.status, Status::Pending, "{i}");
            assert_eq!(of(&rec, Channel::Sms).len(), 1, "{i}");
            assert_eq!(rec.updated_at, T0 + 2_000);
        }
    }
    // 75 fallback SMS are due now.
    let sms = store
        .claim_attempts(
            T0 + 2_000,
            1_000,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!(sms.len(), 75);
    assert!(sms.iter().all(|c| c.channel == Channel::Sms));

    // Answers sent at the same moment from many tasks.
    let mut tasks = tokio::task::JoinSet::new();
    for c in sms.iter().cloned() {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .record_send_results(vec![SendResult {
                    attempt_id: c.id.clone(),
                    at: T0 + 2_500,
                    outcome: accepted(&format!("sms-{}", c.id)),
                }])
                .await
        });
    }
    while let Some(res) = tasks.join_next().await {
        res.unwrap().unwrap();
    }
    // The same receipt from many tasks at once: recorded exactly once.
    let target = sms[0].clone();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        let r = herald_store::IncomingReceipt {
            hook_id: hook(&tenant, Channel::Sms),
            provider_message_id: Some(format!("sms-{}", target.id)),
            idempotency_key: None,
            delivered: true,
            error: None,
            at: T0 + 3_000,
        };
        tasks.spawn(async move { store.record_receipt(r).await });
    }
    let mut answers = Vec::new();
    while let Some(res) = tasks.join_next().await {
        answers.push(res.unwrap().unwrap());
    }
    let recorded = answers
        .iter()
        .filter(|a| matches!(a, ReceiptMatch::Recorded { late: false }))
        .count();
    let duplicate = answers
        .iter()
        .filter(|a| **a == ReceiptMatch::Duplicate)
        .count();
    assert_eq!((recorded, duplicate), (1, 9));
    let rec = get(&*store, &tenant, &target.notification_id).await;
    assert_eq!(rec.status, Status::Delivered);
    assert_eq!(of(&rec, Channel::Sms)[0].receipts.len(), 1);

    // Receipts in one batch: answered one by one, in order, as if recorded
    // one after the other (a repeat within the batch is a duplicate).
    let receipt =
        |c: &herald_store::ClaimedAttempt, delivered: bool| herald_store::IncomingReceipt {
            hook_id: hook(&tenant, Channel::Sms),
            provider_message_id: Some(format!("sms-{}", c.id)),
            idempotency_key: None,
            delivered,
            error: (!delivered).then(|| "no phone".to_string()),
            at: T0 + 4_000,
        };
    let mut unknown = receipt(&sms[1], true);
    unknown.provider_message_id = Some("nobody-sent-this".into());
    let batch = vec![
        receipt(&sms[1], true),
        unknown,
        receipt(&sms[2], false),
        receipt(&sms[1], true),
        receipt(&target, true),
    ];
    let answers: Vec<ReceiptMatch> = store
        .record_receipts(batch)
        .await
        .into_iter()
        .map(|a| a.unwrap())
        .collect();
    assert_eq!(
        answers,
        vec![
            ReceiptMatch::Recorded { late: false },
            ReceiptMatch::Unknown,
            ReceiptMatch::Recorded { late: false },
            ReceiptMatch::Duplicate,
            ReceiptMatch::Duplicate,
        ]
    );
    let delivered = get(&*store, &tenant, &sms[1].notification_id).await;
    assert_eq!(delivered.status, Status::Delivered);
    let failed = get(&*store, &tenant, &sms[2].notification_id).await;
    assert_eq!(failed.status, Status::Failed);
}

pub async fn check_sim_sends_at_once(config: Arc<dyn Store>, store: Arc<dyn SimStore>) {
    let tenant = new_tenant(&*config).await;
    let send = |key: String, at: i64| SimSend {
        hook_id: "hook-sim".into(),
        tenant_id: tenant.clone(),
        notification_id: "n1".into(),
        channel: Channel::Email,
        route: "email".into(),
        to: "ana@example.com".into(),
        content: Rendered {
            subject: Some("s".into()),
            title: None,
            body: "b".into(),
        },
        idempotency_key: key,
        outcome: "transient:2".into(),
        transient_first: 2,
        final_answer: SimFinal::Accepted {
            receipt: Some((true, at + 1_000)),
        },
        record: true,
        at,
    };
    // Ten requests for one key and one for each of ten others, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        let key = if i % 2 == 0 {
            "same".to_string()
        } else {
            format!("k{i}")
        };
        let s = send(key.clone(), T0 + i);
        tasks.spawn(async move { (key, store.sim_send(s).await) });
    }
    let mut same = Vec::new();
    while let Some(res) = tasks.join_next().await {
        let (key, answer) = res.unwrap();
        let answer = answer.unwrap();
        if key == "same" {
            same.push(answer);
        } else {
            assert_eq!(answer, SimAnswer::Transient { requests: 1 });
        }
    }
    let mut transient: Vec<u32> = same
        .iter()
        .filter_map(|a| match a {
            SimAnswer::Transient { requests } => Some(*requests),
            _ => None,
        })
        .collect();
    transient.sort_unstable();
    assert_eq!(transient, vec![1, 2]);
    let ids: std::collections::HashSet<&String> = same
        .iter()
        .filter_map(|a| match a {
            SimAnswer::Accepted { message_id } => Some(message_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "{same:?}");
    let q = OutboxQuery {
        limit: 100,
        ..OutboxQuery::default()
    };
    let out = store.sim_outbox(&tenant, &q).await.unwrap();
    assert_eq!(out.len(), 11);
    let row = out.iter().find(|m| m.idempotency_key == "same").unwrap();
    assert_eq!(row.requests, 10);
    assert_eq!(Some(&row.id), ids.into_iter().next());
    // One receipt owed, for the one accepted message.
    let due = store.sim_due_receipts(T0 + 100_000, 100).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, row.id);
}
