//! What the claim does with an attempt its channel's window has already
//! judged: it gives it up instead of sending it.

use super::*;
use herald_store::{AttemptStatus, ClaimBudget, Store};

/// A backlog kept an e-mail queued past its window: the claim sends
/// nothing, the attempt gives up, and the channel is failed.
pub async fn check_window_lapsed_attempt_is_not_sent(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let id = accept(store, notification(&tenant, plan(vec![email()]), T0)).await;
    let window_end = get(store, &tenant, &id).await.attempts[0].deadline;
    let claimed = store
        .claim_attempts(window_end, 10, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    assert!(claimed.is_empty(), "sent after its window: {claimed:?}");
    let rec = get(store, &tenant, &id).await;
    assert_eq!(rec.attempts[0].status, AttemptStatus::GaveUp);
    assert_eq!(rec.status, herald_core::Status::Failed);
    // Just before the window's end it is still sent.
    let other = accept(store, notification(&tenant, plan(vec![email()]), T0)).await;
    let end = get(store, &tenant, &other).await.attempts[0].deadline;
    let claimed = store
        .claim_attempts(end - 1, 10, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
}
