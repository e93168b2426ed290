//! The simulator's messages: dedupe, answers, receipts owed, outbox.

use super::*;
use herald_core::{Channel, Rendered};
use herald_store::{OutboxQuery, SimAnswer, SimFinal, SimSend, SimStore, Store};

pub async fn check_sim_send(config: &dyn Store, store: &dyn SimStore) {
    let tenant = new_tenant(config).await;
    let send = |key: &str, at: i64, record: bool| SimSend {
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
        outcome: "transient:2".into(),
        transient_first: 2,
        final_answer: SimFinal::Accepted {
            receipt: Some((true, at + 5_000)),
        },
        record,
        at,
    };
    assert_eq!(
        store.sim_send(send("k1", T0, true)).await.unwrap(),
        SimAnswer::Transient { requests: 1 }
    );
    assert_eq!(
        store.sim_send(send("k1", T0 + 1_000, true)).await.unwrap(),
        SimAnswer::Transient { requests: 2 }
    );
    assert_eq!(store.sim_next_receipt_at().await.unwrap(), None);
    let SimAnswer::Accepted { message_id } =
        store.sim_send(send("k1", T0 + 2_000, true)).await.unwrap()
    else {
        panic!("third request is accepted");
    };
    // A repeat gets the same id and does not move the receipt.
    assert_eq!(
        store.sim_send(send("k1", T0 + 3_000, true)).await.unwrap(),
        SimAnswer::Accepted {
            message_id: message_id.clone()
        }
    );
    assert_eq!(store.sim_next_receipt_at().await.unwrap(), Some(T0 + 7_000));
    assert!(store
        .sim_due_receipts(T0 + 6_999, 10)
        .await
        .unwrap()
        .is_empty());
    let due = store.sim_due_receipts(T0 + 7_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, message_id);
    assert_eq!(due[0].idempotency_key, "k1");
    assert!(due[0].delivered);
    assert_eq!(due[0].due_at, T0 + 7_000);
    store
        .sim_mark_sent(std::slice::from_ref(&message_id))
        .await
        .unwrap();
    assert!(store
        .sim_due_receipts(T0 + 100_000, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.sim_next_receipt_at().await.unwrap(), None);

    // A refusal; the first answer rule wins for repeats.
    let refuse = SimSend {
        hook_id: "hook-sim".into(),
        transient_first: 0,
        outcome: "unreachable".into(),
        final_answer: SimFinal::Refused {
            unreachable: true,
            error: "not on whatsapp".into(),
        },
        ..send("k2", T0 + 10_000, true)
    };
    let refused = SimAnswer::Refused {
        unreachable: true,
        error: "not on whatsapp".into(),
    };
    assert_eq!(store.sim_send(refuse).await.unwrap(), refused);
    assert_eq!(
        store.sim_send(send("k2", T0 + 11_000, true)).await.unwrap(),
        refused
    );
    // Not recorded: answered and deduplicated, but hidden from the outbox.
    let quiet = SimSend {
        hook_id: "hook-sim".into(),
        transient_first: 0,
        ..send("k3", T0 + 12_000, false)
    };
    assert!(matches!(
        store.sim_send(quiet).await.unwrap(),
        SimAnswer::Accepted { .. }
    ));

    let q = OutboxQuery {
        limit: 10,
        ..OutboxQuery::default()
    };
    let out = store.sim_outbox(&tenant, &q).await.unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].id, message_id);
    assert_eq!(out[0].requests, 4);
    assert_eq!(out[0].received_at, T0);
    assert_eq!(out[0].outcome, "transient:2");
    assert_eq!(out[0].body, "hello");
    assert_eq!(out[1].idempotency_key, "k2");
    assert_eq!(out[1].requests, 2);
    let after = OutboxQuery {
        after: Some(message_id.clone()),
        ..q.clone()
    };
    assert_eq!(store.sim_outbox(&tenant, &after).await.unwrap().len(), 1);
    let email_only = OutboxQuery {
        channel: Some(Channel::Email),
        ..q.clone()
    };
    assert!(store
        .sim_outbox(&tenant, &email_only)
        .await
        .unwrap()
        .is_empty());
    let by_notification = OutboxQuery {
        notification_id: Some("n1".into()),
        ..q.clone()
    };
    assert_eq!(
        store
            .sim_outbox(&tenant, &by_notification)
            .await
            .unwrap()
            .len(),
        2
    );
    let other = new_tenant(config).await;
    assert!(store.sim_outbox(&other, &q).await.unwrap().is_empty());
}
