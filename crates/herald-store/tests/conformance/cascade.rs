//! Accepting, claiming, answering, receipts, wake-ups and the log.

use super::*;
use herald_core::{AppInstall, Audience, Channel, Confirm, Outcome, Recipient, Scenario, Status};
use herald_store::{
    Accepted, AttemptStatus, ListQuery, NewNotification, ReceiptMatch, SendOutcome, SendResult,
    Store,
};

pub async fn check_accept_creates_first_attempts(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let other = new_tenant(store).await;
    let p = plan(vec![
        email(),
        channel(
            Channel::Aunio,
            Scenario::Always,
            &["t1", "t2"],
            Confirm::Accepted,
            300,
        ),
        fallback_sms(),
    ]);
    let n = notification(&tenant, p.clone(), T0);
    let id = accept(store, n.clone()).await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Pending);
    assert_eq!(rec.plan, p);
    assert_eq!(rec.rendered, n.rendered);
    assert_eq!(rec.data, n.data);
    assert_eq!(rec.created_at, T0);
    assert_eq!(rec.verdicts.len(), 3);
    assert_eq!(rec.verdicts[0].outcome, Outcome::Pending);
    assert_eq!(rec.verdicts[2].outcome, Outcome::Pending);
    assert!(
        rec.verdicts[2].reason.contains("waiting"),
        "{}",
        rec.verdicts[2].reason
    );
    assert_eq!(of(&rec, Channel::Email).len(), 1);
    assert_eq!(of(&rec, Channel::Aunio).len(), 2);
    assert!(of(&rec, Channel::Sms).is_empty());
    let keys: std::collections::HashSet<&str> = rec
        .attempts
        .iter()
        .map(|a| a.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), 3);
    for a in &rec.attempts {
        assert_eq!(a.status, AttemptStatus::Queued);
        assert_eq!(a.requests, 0);
        assert_eq!(a.created_at, T0);
        assert_eq!(a.deadline, T0 + 300_000);
    }
    let e = of(&rec, Channel::Email)[0];
    assert_eq!(
        (e.channel_idx, e.route.as_str(), e.to.as_str()),
        (0, "email", "ana@example.com")
    );
    // Another tenant sees nothing.
    assert!(store.get_notification(&other, &id).await.unwrap().is_none());
    let q = ListQuery {
        limit: 10,
        ..ListQuery::default()
    };
    assert!(store
        .list_notifications(&other, &q)
        .await
        .unwrap()
        .is_empty());
    let list = store.list_notifications(&tenant, &q).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(list[0].status, Status::Pending);
}

pub async fn check_idempotency(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let other = new_tenant(store).await;
    let mut n = notification(&tenant, plan(vec![email()]), T0);
    n.idempotency_key = Some("order-42".into());
    let first = accept(store, n.clone()).await;
    let retry = NewNotification {
        id: id(),
        ..n.clone()
    };
    assert_eq!(
        store.accept_notification(retry).await.unwrap(),
        Accepted::Existing(first.clone())
    );
    let different = NewNotification {
        id: id(),
        request_sha256: "another-body".into(),
        ..n.clone()
    };
    assert_eq!(
        store.accept_notification(different).await.unwrap(),
        Accepted::Conflict(first.clone())
    );
    // The same key at another tenant is another notification.
    let elsewhere = NewNotification {
        id: id(),
        tenant_id: other.clone(),
        ..n.clone()
    };
    accept(store, elsewhere).await;
    // No key: never deduplicated.
    let mut a = notification(&tenant, plan(vec![email()]), T0);
    a.idempotency_key = None;
    let b = NewNotification {
        id: id(),
        ..a.clone()
    };
    accept(store, a).await;
    accept(store, b).await;
    let q = ListQuery {
        limit: 100,
        ..ListQuery::default()
    };
    assert_eq!(
        store.list_notifications(&tenant, &q).await.unwrap().len(),
        3
    );
    // Only one email attempt exists for the retried trigger.
    assert_eq!(get(store, &tenant, &first).await.attempts.len(), 1);
}

pub async fn check_claim_and_lease(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let id = accept(store, notification(&tenant, plan(vec![email()]), T0)).await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(T0));
    assert!(store
        .claim_attempts(T0 - 1, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap()
        .is_empty());
    let claimed = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(c.notification_id, id);
    assert_eq!(c.tenant_id, tenant);
    assert_eq!(c.audience, Audience::Client);
    assert_eq!(c.recipient_id, "client-1");
    assert_eq!(c.channel, Channel::Email);
    assert_eq!(c.to, "ana@example.com");
    assert_eq!(c.content.subject.as_deref(), Some("Your visit"));
    assert_eq!(c.content.body, "text for email");
    assert_eq!(c.requests, 1);
    assert_eq!((c.created_at, c.deadline), (T0, T0 + 300_000));
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.attempts[0].status, AttemptStatus::Sending);
    assert_eq!(rec.attempts[0].sent_at, Some(T0));
    // The lease holds: nothing to claim; next due is the lease's end.
    assert!(store
        .claim_attempts(
            T0 + 1_000,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded()
        )
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), Some(T0 + 30_000));
    // A lapsed lease (the worker crashed) is claimed again with the same key.
    let again = store
        .claim_attempts(
            T0 + 30_000,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, c.id);
    assert_eq!(again[0].idempotency_key, c.idempotency_key);
    assert_eq!(again[0].requests, 2);
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.attempts[0].sent_at, Some(T0));
    assert_eq!(rec.attempts[0].requests, 2);

    // A transient error queues it for later; then it is claimed once more.
    answer(
        store,
        &c.id,
        T0 + 31_000,
        SendOutcome::Retry {
            error: "429".into(),
            next_try_at: T0 + 33_000,
        },
    )
    .await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.attempts[0].status, AttemptStatus::Queued);
    assert_eq!(rec.attempts[0].error.as_deref(), Some("429"));
    assert_eq!(rec.status, Status::Pending);
    assert!(store
        .claim_attempts(
            T0 + 32_000,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded()
        )
        .await
        .unwrap()
        .is_empty());
    let third = store
        .claim_attempts(
            T0 + 33_000,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!((third.len(), third[0].requests), (1, 3));
    assert_eq!(third[0].idempotency_key, c.idempotency_key);
    // Giving up fails the channel.
    answer(
        store,
        &c.id,
        T0 + 40_000,
        SendOutcome::GaveUp {
            error: "timeout".into(),
        },
    )
    .await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.attempts[0].status, AttemptStatus::GaveUp);
    assert_eq!(rec.status, Status::Failed);
    assert_eq!(rec.verdicts[0].outcome, Outcome::Failed);
    assert_eq!(rec.wake_at, None);
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

pub async fn check_accepted_email_delivers(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let id = accept(
        store,
        notification(&tenant, plan(vec![email(), fallback_sms()]), T0),
    )
    .await;
    let c = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    answer(store, &c[0].id, T0 + 500, accepted("pm-1")).await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Delivered);
    assert_eq!(rec.verdicts[0].outcome, Outcome::Delivered);
    assert_eq!(rec.verdicts[1].outcome, Outcome::Skipped);
    assert!(of(&rec, Channel::Sms).is_empty());
    let a = &rec.attempts[0];
    assert_eq!(a.status, AttemptStatus::Accepted);
    assert_eq!(a.provider_message_id.as_deref(), Some("pm-1"));
    assert_eq!(a.answered_at, Some(T0 + 500));
    assert_eq!(rec.updated_at, T0 + 500);
    assert_eq!(rec.wake_at, None);
    // Answers for a finished attempt are ignored.
    answer(
        store,
        &c[0].id,
        T0 + 600,
        SendOutcome::Refused {
            error: "late".into(),
            unreachable: false,
        },
    )
    .await;
    assert_eq!(get(store, &tenant, &id).await, rec);
    // Unknown attempts are ignored too.
    answer(store, "no-such-attempt", T0, accepted("x")).await;
    assert!(store
        .claim_attempts(
            T0 + 1_000,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded()
        )
        .await
        .unwrap()
        .is_empty());
}

pub async fn check_refused_email_falls_back_to_sms(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let id = accept(
        store,
        notification(&tenant, plan(vec![email(), fallback_sms()]), T0),
    )
    .await;
    let c = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    let refused = SendOutcome::Refused {
        error: "550 no such user".into(),
        unreachable: false,
    };
    answer(store, &c[0].id, T0 + 200, refused.clone()).await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.verdicts[0].outcome, Outcome::Failed);
    assert_eq!(rec.verdicts[1].outcome, Outcome::Pending);
    let sms = of(&rec, Channel::Sms);
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].status, AttemptStatus::Queued);
    assert_eq!(sms[0].created_at, T0 + 200);
    assert_eq!(sms[0].deadline, T0 + 200 + 600_000);
    assert_eq!(rec.attempts[0].error.as_deref(), Some("550 no such user"));
    // The same answer again creates nothing new.
    answer(store, &c[0].id, T0 + 300, refused).await;
    assert_eq!(get(store, &tenant, &id).await.attempts.len(), 2);
    let c2 = store
        .claim_attempts(
            T0 + 200,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!(c2.len(), 1);
    assert_eq!(c2[0].channel, Channel::Sms);
    assert_eq!(c2[0].content.body, "text for sms");
}

pub async fn check_receipts(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let sms = receipt_sms();
    let id = accept(store, notification(&tenant, plan(vec![sms]), T0)).await;
    let c = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    let unknown = herald_store::IncomingReceipt {
        hook_id: hook(&tenant, Channel::Sms),
        provider_message_id: Some("nope".into()),
        idempotency_key: Some("nope".into()),
        delivered: true,
        error: None,
        at: T0 + 1,
    };
    assert_eq!(
        store.record_receipt(unknown).await.unwrap(),
        ReceiptMatch::Unknown
    );
    // The webhook beats the send answer: matched by key while still sending.
    let r = herald_store::IncomingReceipt {
        hook_id: hook(&tenant, Channel::Sms),
        provider_message_id: Some("pm-7".into()),
        idempotency_key: Some(c[0].idempotency_key.clone()),
        delivered: true,
        error: None,
        at: T0 + 400,
    };
    assert_eq!(
        store.record_receipt(r.clone()).await.unwrap(),
        ReceiptMatch::Recorded { late: false }
    );
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Delivered);
    // The receipt closes the attempt: the provider took the message.
    assert_eq!(rec.attempts[0].status, AttemptStatus::Accepted);
    assert_eq!(rec.attempts[0].receipts.len(), 1);
    // Its lease lapsing (a worker killed before its answer was recorded)
    // sends nothing again: the notification has its outcome.
    let later = store
        .claim_attempts(
            T0 + 60_000,
            10,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert!(
        later.is_empty(),
        "claimed again after its receipt: {later:?}"
    );
    // The same receipt again changes nothing.
    let again = herald_store::IncomingReceipt { at: T0 + 900, ..r };
    assert_eq!(
        store.record_receipt(again).await.unwrap(),
        ReceiptMatch::Duplicate
    );
    // The answer comes after all, with the SMS's cost: the cost is kept.
    answer(
        store,
        &c[0].id,
        T0 + 500,
        SendOutcome::Accepted {
            provider_message_id: Some("pm-7".into()),
            cost_micros: Some(42_000),
        },
    )
    .await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Delivered);
    assert_eq!(rec.attempts[0].status, AttemptStatus::Accepted);
    assert_eq!(rec.attempts[0].cost_micros, Some(42_000));
    assert_eq!(rec.attempts[0].receipts.len(), 1);
    assert_eq!(rec.attempts[0].receipts[0].at, T0 + 400);
    // Now matched by the provider's id too; a failure receipt is another receipt.
    let failed = herald_store::IncomingReceipt {
        hook_id: hook(&tenant, Channel::Sms),
        provider_message_id: Some("pm-7".into()),
        idempotency_key: None,
        delivered: false,
        error: Some("expired".into()),
        at: T0 + 2_000,
    };
    assert_eq!(
        store.record_receipt(failed.clone()).await.unwrap(),
        ReceiptMatch::Recorded { late: false }
    );
    assert_eq!(
        store.record_receipt(failed).await.unwrap(),
        ReceiptMatch::Duplicate
    );
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Delivered, "the first receipt decides");
    let receipts = &rec.attempts[0].receipts;
    assert_eq!(receipts.len(), 2);
    assert!(receipts[0].delivered && !receipts[1].delivered);
    assert_eq!(receipts[1].error.as_deref(), Some("expired"));
}

pub async fn check_receipt_window_and_late_receipt(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let sms = channel(
        Channel::Sms,
        Scenario::Always,
        &["+15550001111"],
        Confirm::Receipt,
        10,
    );
    let id = accept(store, notification(&tenant, plan(vec![sms]), T0)).await;
    let c = store
        .claim_attempts(T0, 10, 5_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    answer(store, &c[0].id, T0 + 1_000, accepted("pm-9")).await;
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Pending);
    assert_eq!(rec.wake_at, Some(T0 + 10_000));
    assert_eq!(store.next_due_at().await.unwrap(), Some(T0 + 10_000));
    assert_eq!(store.wake_due(T0 + 9_999, 100).await.unwrap(), 0);
    assert_eq!(store.wake_due(T0 + 10_000, 100).await.unwrap(), 1);
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Failed);
    assert_eq!(rec.verdicts[0].outcome, Outcome::Failed);
    assert!(
        rec.verdicts[0].reason.contains("no receipt"),
        "{}",
        rec.verdicts[0].reason
    );
    assert_eq!(rec.wake_at, None);
    assert_eq!(store.wake_due(T0 + 20_000, 100).await.unwrap(), 0);
    // A late receipt is recorded, marked late, and changes nothing.
    let late = herald_store::IncomingReceipt {
        hook_id: hook(&tenant, Channel::Sms),
        provider_message_id: Some("pm-9".into()),
        idempotency_key: None,
        delivered: true,
        error: None,
        at: T0 + 20_000,
    };
    assert_eq!(
        store.record_receipt(late).await.unwrap(),
        ReceiptMatch::Recorded { late: true }
    );
    let after = get(store, &tenant, &id).await;
    assert_eq!(after.status, Status::Failed);
    assert_eq!(after.verdicts, rec.verdicts);
    assert_eq!(after.attempts[0].receipts.len(), 1);
    assert!(after.attempts[0].receipts[0].late);
}

pub async fn check_dead_push_token_removed(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let who = Recipient {
        email: Some("ana@example.com".into()),
        apps: vec![
            AppInstall {
                app: Channel::Aunio,
                token: "dead".into(),
                platform: None,
            },
            AppInstall {
                app: Channel::Aunio,
                token: "alive".into(),
                platform: None,
            },
            AppInstall {
                app: Channel::BrandedApp,
                token: "dead".into(),
                platform: None,
            },
        ],
        ..Recipient::default()
    };
    store
        .put_recipient(&tenant, Audience::Client, "client-1", &who)
        .await
        .unwrap();
    let aunio = channel(
        Channel::Aunio,
        Scenario::Always,
        &["dead", "alive"],
        Confirm::Accepted,
        300,
    );
    let id = accept(store, notification(&tenant, plan(vec![aunio]), T0)).await;
    let claimed = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let dead = claimed.iter().find(|c| c.to == "dead").unwrap();
    let alive = claimed.iter().find(|c| c.to == "alive").unwrap();
    store
        .record_send_results(vec![
            SendResult {
                attempt_id: dead.id.clone(),
                at: T0 + 100,
                outcome: SendOutcome::Refused {
                    error: "Unregistered".into(),
                    unreachable: true,
                },
            },
            SendResult {
                attempt_id: alive.id.clone(),
                at: T0 + 150,
                outcome: accepted("fcm-1"),
            },
        ])
        .await
        .unwrap();
    let stored = store
        .get_recipient(&tenant, Audience::Client, "client-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tokens(Channel::Aunio), vec!["alive".to_string()]);
    assert_eq!(stored.tokens(Channel::BrandedApp), vec!["dead".to_string()]);
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.status, Status::Delivered);
    assert_eq!(rec.updated_at, T0 + 150);
}

pub async fn check_list_notifications(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut n = notification(&tenant, plan(vec![email()]), T0 + i);
        if i % 2 == 1 {
            n.type_key = "other_type".into();
        }
        ids.push(accept(store, n).await);
    }
    let c = store
        .claim_attempts(
            T0 + 10,
            100,
            30_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    let first = c.iter().find(|c| c.notification_id == ids[0]).unwrap();
    answer(store, &first.id, T0 + 20, accepted("x")).await;
    let all = ListQuery {
        limit: 100,
        ..ListQuery::default()
    };
    let list = store.list_notifications(&tenant, &all).await.unwrap();
    let got: Vec<String> = list.iter().map(|s| s.id.clone()).collect();
    let mut want = ids.clone();
    want.reverse();
    assert_eq!(got, want, "newest first");
    let page = ListQuery {
        limit: 2,
        before: Some(ids[3].clone()),
        ..ListQuery::default()
    };
    let got: Vec<String> = store
        .list_notifications(&tenant, &page)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(got, vec![ids[2].clone(), ids[1].clone()]);
    let delivered = ListQuery {
        status: Some(Status::Delivered),
        ..all.clone()
    };
    let got = store.list_notifications(&tenant, &delivered).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, ids[0]);
    assert_eq!(got[0].updated_at, T0 + 20);
    let typed = ListQuery {
        type_key: Some("other_type".into()),
        ..all
    };
    assert_eq!(
        store
            .list_notifications(&tenant, &typed)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// A receipt is matched only within the messages of the integration it
/// came through: another tenant's integration (its hook) cannot move an
/// attempt, even with the right message id and key.
pub async fn check_receipts_stay_within_their_integration(store: &dyn Store) {
    let a = new_tenant(store).await;
    let b = new_tenant(store).await;
    let sms = receipt_sms();
    let id = accept(store, notification(&a, plan(vec![sms]), T0)).await;
    let c = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].via_hook.as_deref(),
        Some(hook(&a, Channel::Sms).as_str())
    );
    store
        .record_send_results(vec![SendResult {
            attempt_id: c[0].id.clone(),
            at: T0 + 10,
            outcome: SendOutcome::Accepted {
                provider_message_id: Some("pm-a".into()),
                cost_micros: None,
            },
        }])
        .await
        .unwrap();
    for hook_id in [hook(&b, Channel::Sms), hook(&a, Channel::Email)] {
        let foreign = herald_store::IncomingReceipt {
            hook_id,
            provider_message_id: Some("pm-a".into()),
            idempotency_key: Some(c[0].idempotency_key.clone()),
            delivered: false,
            error: Some("forged".into()),
            at: T0 + 20,
        };
        assert_eq!(
            store.record_receipt(foreign).await.unwrap(),
            ReceiptMatch::Unknown
        );
    }
    let rec = get(store, &a, &id).await;
    assert_eq!(rec.status, Status::Pending);
    assert!(rec.attempts[0].receipts.is_empty());
    let own = herald_store::IncomingReceipt {
        hook_id: hook(&a, Channel::Sms),
        provider_message_id: Some("pm-a".into()),
        idempotency_key: None,
        delivered: true,
        error: None,
        at: T0 + 30,
    };
    assert_eq!(
        store.record_receipt(own).await.unwrap(),
        ReceiptMatch::Recorded { late: false }
    );
    assert_eq!(get(store, &a, &id).await.status, Status::Delivered);
}

/// The claim skips (tenant, channel) keys at their bound and gives no key
/// more than it has left, so one tenant's backlog does not fill a round.
pub async fn check_claim_budget_is_fair(store: &dyn Store) {
    let busy = new_tenant(store).await;
    let quiet = new_tenant(store).await;
    for i in 0..20 {
        accept(store, notification(&busy, plan(vec![email()]), T0 + i)).await;
    }
    accept(store, notification(&quiet, plan(vec![email()]), T0 + 100)).await;
    // `busy` already has 3 of its 4 in flight: one more, then `quiet`'s.
    let mut budget = herald_store::ClaimBudget {
        per_key: 4,
        ..Default::default()
    };
    budget.in_flight.insert((busy.clone(), Channel::Email), 3);
    let c = store
        .claim_attempts(T0 + 1_000, 10, 30_000, &budget)
        .await
        .unwrap();
    let of = |t: &str| c.iter().filter(|a| a.tenant_id == t).count();
    assert_eq!((of(&busy), of(&quiet)), (1, 1), "{c:?}");
    // At its bound, `busy` is skipped altogether.
    budget.in_flight.insert((busy.clone(), Channel::Email), 4);
    let c = store
        .claim_attempts(T0 + 1_000, 10, 30_000, &budget)
        .await
        .unwrap();
    assert!(c.is_empty(), "{c:?}");
    budget.in_flight.clear();
    let c = store
        .claim_attempts(T0 + 1_000, 10, 30_000, &budget)
        .await
        .unwrap();
    assert_eq!(c.len(), 4, "{c:?}");
}

pub async fn check_dispatch_round(store: &dyn Store) {
    use herald_store::{ClaimBudget, Round};
    let tenant = new_tenant(store).await;
    let id = accept(
        store,
        notification(&tenant, plan(vec![email(), fallback_sms()]), T0),
    )
    .await;
    let round = |results: Vec<SendResult>, now: i64| Round {
        results,
        now,
        wake_limit: Some(100),
        limit: 10,
        lease_ms: 30_000,
        budget: ClaimBudget::unbounded(),
    };
    // The first round claims the e-mail and says its lease is next due.
    let first = store.dispatch_round(round(vec![], T0)).await.unwrap();
    first.recorded.unwrap();
    let claimed = first.claimed.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].channel, Channel::Email);
    assert_eq!(first.next_due_at.unwrap(), Some(T0 + 30_000));
    // The next round records the refusal, and the SMS it starts is claimed
    // in the same round.
    let refused = SendResult {
        attempt_id: claimed[0].id.clone(),
        at: T0 + 10,
        outcome: SendOutcome::Refused {
            error: "bounced".into(),
            unreachable: false,
        },
    };
    let second = store
        .dispatch_round(round(vec![refused], T0 + 10))
        .await
        .unwrap();
    second.recorded.unwrap();
    let sms = second.claimed.unwrap();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].channel, Channel::Sms);
    assert_eq!(sms[0].notification_id, id);
    assert_eq!(second.next_due_at.unwrap(), Some(T0 + 10 + 30_000));
    let rec = get(store, &tenant, &id).await;
    assert_eq!(of(&rec, Channel::Email)[0].status, AttemptStatus::Refused);
    assert_eq!(of(&rec, Channel::Sms)[0].status, AttemptStatus::Sending);
    // With nothing to claim the round is empty but still answers.
    let third = store.dispatch_round(round(vec![], T0 + 20)).await.unwrap();
    assert!(third.claimed.unwrap().is_empty());
    assert_eq!(third.woken.unwrap(), 0);
}
