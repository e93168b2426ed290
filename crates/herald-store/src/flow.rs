//! The cascade step, written once for every backend over the primitives of
//! `CascadeTx`: accepting a notification, recording providers' answers
//! (and removing dead push tokens), recording receipts, waking due
//! notifications and claiming due attempts. Each records its facts and
//! then runs `herald_core::decide` on the notification's facts inside the
//! same transaction, storing what it decided (verdicts, status, wake time,
//! new attempts).

use crate::cascade::{self, Step};
use crate::primitives::{CascadeTx, Loaded};
use crate::{
    Accepted, ClaimBudget, ClaimedAttempt, IncomingReceipt, NewNotification, ReceiptMatch, Result,
    SendOutcome, SendResult, StoreError,
};
use herald_core::{Channel, Millis, Status};
use std::collections::{HashMap, HashSet};

/// Stores a notification with its first decision (at `created_at`) and
/// first attempts, or answers with the one that has its idempotency key
/// (`Existing` for the same request, `Conflict` for another).
pub async fn accept<T: CascadeTx>(tx: &mut T, n: &NewNotification) -> Result<Accepted> {
    let mut answers = accept_many(tx, std::slice::from_ref(n)).await?;
    answers
        .pop()
        .ok_or_else(|| StoreError::Corrupt("an accept got no answer".into()))
}

/// `accept` for several in one transaction, as if one after the other:
/// the notifications are inserted in one batch and their first attempts
/// in another (one statement each where the backend batches).
pub async fn accept_many<T: CascadeTx>(
    tx: &mut T,
    ns: &[NewNotification],
) -> Result<Vec<Accepted>> {
    let mut steps = Vec::with_capacity(ns.len());
    for n in ns {
        steps.push(cascade::step(&n.plan, &n.schedule, &[], n.created_at)?);
    }
    // An expired key dedupes nothing, whether or not the pruner came by.
    for n in ns {
        if let (Some(key), Some(before)) = (&n.idempotency_key, n.keys_expire_before) {
            tx.release_expired_key(&n.tenant_id, key, before).await?;
        }
    }
    let rows: Vec<(&NewNotification, &Step)> = ns.iter().zip(&steps).collect();
    let inserted = tx.insert_notifications(&rows).await?;
    let mut out = Vec::with_capacity(ns.len());
    let mut attempts = Vec::new();
    for ((n, step), created) in rows.into_iter().zip(inserted) {
        if created {
            crate::transitions::record(Status::Pending, step.status);
            let new = cascade::new_attempts(
                &n.plan,
                &n.schedule,
                &n.rendered,
                &step.start,
                n.created_at,
            )?;
            attempts.push((n.id.clone(), n.tenant_id.clone(), new));
            out.push(Accepted::Created(n.id.clone()));
            continue;
        }
        let found = match &n.idempotency_key {
            Some(key) => tx.notification_by_key(&n.tenant_id, key).await?,
            None => None,
        };
        out.push(match found {
            Some((id, sha)) if sha == n.request_sha256 => Accepted::Existing(id),
            Some((id, _)) => Accepted::Conflict(id),
            None => {
                return Err(StoreError::Conflict(format!(
                    "notification {} already exists",
                    n.id
                )))
            }
        });
    }
    tx.insert_attempts_many(&attempts).await?;
    Ok(out)
}

/// Decides again for one notification at `now` and stores the result.
pub async fn decide<T: CascadeTx>(tx: &mut T, id: &str, now: Millis) -> Result<()> {
    decide_each(tx, vec![(id.to_string(), now)]).await
}

/// Decides once per notification, at the latest time it was named with,
/// in the order they were first named: the facts of all are loaded, the
/// steps written and the new attempts inserted batch by batch (one
/// statement each where the backend batches).
async fn decide_each<T: CascadeTx>(tx: &mut T, targets: Vec<(String, Millis)>) -> Result<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let mut order: Vec<(String, Millis)> = Vec::with_capacity(targets.len());
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(targets.len());
    for (id, now) in targets {
        match seen.get(&id) {
            Some(&i) => order[i].1 = order[i].1.max(now),
            None => {
                seen.insert(id.clone(), order.len());
                order.push((id, now));
            }
        }
    }
    let ids: Vec<String> = order.iter().map(|(id, _)| id.clone()).collect();
    let mut loaded: HashMap<String, Loaded> =
        tx.load_notifications(&ids).await?.into_iter().collect();
    let mut steps = Vec::with_capacity(order.len());
    let mut starting = Vec::new();
    for (id, now) in order {
        let l = loaded.remove(&id).ok_or_else(|| {
            StoreError::Corrupt(format!("notification {id} vanished during a cascade step"))
        })?;
        let step = cascade::step(&l.plan, &l.schedule, &l.attempts, now)?;
        crate::transitions::record(l.status, step.status);
        if !step.start.is_empty() {
            starting.push((steps.len(), l));
        }
        steps.push((id, step, now));
    }
    tx.write_steps(&steps).await?;
    if starting.is_empty() {
        return Ok(());
    }
    // The texts are read (and parsed) only when attempts start.
    let starting_ids: Vec<String> = starting.iter().map(|(i, _)| steps[*i].0.clone()).collect();
    let rendered = tx.load_rendered_many(&starting_ids).await?;
    let mut batch = Vec::with_capacity(starting.len());
    for ((i, l), texts) in starting.into_iter().zip(rendered) {
        let (id, step, now) = &steps[i];
        let new = cascade::new_attempts(&l.plan, &l.schedule, &texts, &step.start, *now)?;
        batch.push((id.clone(), l.tenant_id, new));
    }
    tx.insert_attempts_many(&batch).await
}

/// Records providers' answers, removes dead push tokens, then decides once
/// per touched notification. Per attempt the answers count as if applied
/// in order: the first final one wins, else the last retry; answers for
/// attempts already final (or unknown) change nothing.
pub async fn record_results<T: CascadeTx>(tx: &mut T, results: &[SendResult]) -> Result<()> {
    let mut chosen: Vec<&SendResult> = Vec::with_capacity(results.len());
    let mut pos: HashMap<&str, usize> = HashMap::with_capacity(results.len());
    for r in results {
        match pos.get(r.attempt_id.as_str()) {
            Some(&i) => {
                if matches!(chosen[i].outcome, SendOutcome::Retry { .. }) {
                    chosen[i] = r;
                }
            }
            None => {
                pos.insert(&r.attempt_id, chosen.len());
                chosen.push(r);
            }
        }
    }
    let answered = tx.record_answers(&chosen).await?;
    let mut touched = Vec::with_capacity(chosen.len());
    for (r, a) in chosen.into_iter().zip(answered) {
        let Some(a) = a else {
            continue;
        };
        let dead = matches!(
            r.outcome,
            SendOutcome::Refused {
                unreachable: true,
                ..
            }
        );
        if dead && a.channel.is_push() {
            remove_device_token(tx, &a.notification_id, a.channel, &a.to, r.at).await?;
        }
        touched.push((a.notification_id, r.at));
    }
    decide_each(tx, touched).await
}

/// Removes an unregistered device token from the notification's recipient.
async fn remove_device_token<T: CascadeTx>(
    tx: &mut T,
    notification_id: &str,
    app: Channel,
    token: &str,
    now: Millis,
) -> Result<()> {
    let Some(mut who) = tx.recipient_of(notification_id).await? else {
        return Ok(());
    };
    if cascade::remove_token(&mut who.doc, app, token) {
        tx.put_recipient_doc(&who, now).await?;
    }
    Ok(())
}

/// Records a receipt idempotently (matched, among the attempts sent
/// through its hook, by the provider's message id, else the attempt's
/// key), then decides for its notification.
pub async fn record_receipt<T: CascadeTx>(tx: &mut T, r: &IncomingReceipt) -> Result<ReceiptMatch> {
    let mut m = record_receipts(tx, std::slice::from_ref(r)).await?;
    m.pop()
        .ok_or_else(|| StoreError::Corrupt("a receipt got no answer".into()))
}

/// Records receipts as `record_receipt` does, one after the other, then
/// decides once for each notification they moved; one answer per receipt.
pub async fn record_receipts<T: CascadeTx>(
    tx: &mut T,
    receipts: &[IncomingReceipt],
) -> Result<Vec<ReceiptMatch>> {
    let found = tx.attempts_of_receipts(receipts).await?;
    let mut out = vec![ReceiptMatch::Unknown; receipts.len()];
    let mut rows = Vec::with_capacity(receipts.len());
    let mut at = Vec::with_capacity(receipts.len());
    for (i, (r, a)) in receipts.iter().zip(&found).enumerate() {
        if let Some(a) = a {
            rows.push((a.id.as_str(), r, cascade::is_late(a.deadline, r.at)));
            at.push((i, a));
        }
    }
    let inserted = tx.insert_receipts(&rows).await?;
    let mut closes: Vec<SendResult> = Vec::new();
    let mut closing: HashSet<&str> = HashSet::new();
    let mut touched = Vec::new();
    for (((i, a), (_, r, late)), recorded) in at.into_iter().zip(&rows).zip(inserted) {
        if !recorded {
            out[i] = ReceiptMatch::Duplicate;
            continue;
        }
        // A receipt proves the provider took the message, even when its
        // answer was never recorded (a worker killed after sending): the
        // attempt is closed as accepted, so no lapsed lease sends it again
        // once its notification has its outcome. A no-op for an attempt
        // already answered; once per attempt.
        if closing.insert(a.id.as_str()) {
            closes.push(SendResult {
                attempt_id: a.id.clone(),
                at: r.at,
                outcome: SendOutcome::Accepted {
                    provider_message_id: r.provider_message_id.clone(),
                    cost_micros: None,
                },
            });
        }
        touched.push((a.notification_id.clone(), r.at));
        out[i] = ReceiptMatch::Recorded { late: *late };
    }
    let closes: Vec<&SendResult> = closes.iter().collect();
    tx.close_by_receipts(&closes).await?;
    decide_each(tx, touched).await?;
    Ok(out)
}

/// Decides again for pending notifications whose wake time has come;
/// answers how many.
pub async fn wake_due<T: CascadeTx>(tx: &mut T, now: Millis, limit: usize) -> Result<usize> {
    let ids = tx.due_notifications(now, limit).await?;
    let n = ids.len();
    decide_each(tx, ids.into_iter().map(|id| (id, now)).collect()).await?;
    Ok(n)
}

/// Claims up to `limit` due attempts (see `Store::claim_attempts`): keys
/// at their budget are skipped, no key gets more than it has left, and the
/// claimed come back in id order.
pub async fn claim<T: CascadeTx>(
    tx: &mut T,
    now: Millis,
    limit: usize,
    lease_ms: Millis,
    budget: &ClaimBudget,
) -> Result<Vec<ClaimedAttempt>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let taken = tx
        .claim_due(now, limit, now.saturating_add(lease_ms), budget)
        .await?;
    // The deadline is checked in the transaction that claims: what is due
    // at or after it is never handed to a worker, it ends `expired`.
    let (late, lapsed): (Vec<_>, Vec<_>) = taken
        .overdue
        .into_iter()
        .partition(|c| c.not_after.is_some_and(|d| now >= d));
    if !late.is_empty() {
        let ids: Vec<String> = late.iter().map(|c| c.id.clone()).collect();
        tx.expire_attempts(&ids).await?;
        decide_each(
            tx,
            late.into_iter().map(|c| (c.notification_id, now)).collect(),
        )
        .await?;
    }
    // Nor is what its channel's window has already judged (a backlog kept
    // it queued past the window, or a dead worker's lease lapsed after it):
    // the channel failed at the window's end and its fallback may have gone,
    // so sending it now would only reach the person twice. It gives up.
    if !lapsed.is_empty() {
        let results: Vec<SendResult> = lapsed
            .iter()
            .map(|c| SendResult {
                attempt_id: c.id.clone(),
                at: now,
                outcome: SendOutcome::GaveUp {
                    error: "not sent before its window closed".into(),
                },
            })
            .collect();
        record_results(tx, &results).await?;
    }
    let mut out = taken.claimed;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
