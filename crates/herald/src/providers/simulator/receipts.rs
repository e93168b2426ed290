//! The simulator's receipts, handed to the service as webhooks would be.

use crate::service::App;
use herald_store::{IncomingReceipt, SimStore};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// What one pass over the due receipts did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handed {
    /// Receipts the service took and that were marked sent.
    pub taken: usize,
    /// Whether some could not be handed over or marked (they stay due).
    pub failed: bool,
}

/// Hands over the receipts due at the service's `now` (at most `limit`),
/// all at once, as a provider's webhooks would arrive, in one batch the
/// store records in one transaction. Receipts are handed over before they are marked
/// sent, so a crash repeats one rather than losing it (receipts are
/// idempotent).
pub async fn hand_over_due(
    app: &Arc<App>,
    store: &Arc<dyn SimStore>,
    limit: usize,
) -> herald_store::Result<Handed> {
    let now = app.now();
    let due = store.sim_due_receipts(now, limit).await?;
    if due.is_empty() {
        return Ok(Handed::default());
    }
    let receipts = due
        .iter()
        .map(|r| IncomingReceipt {
            hook_id: r.hook_id.clone(),
            provider_message_id: Some(r.id.clone()),
            idempotency_key: Some(r.idempotency_key.clone()),
            delivered: r.delivered,
            error: (!r.delivered).then(|| "simulated failure receipt".to_string()),
            at: now,
        })
        .collect();
    let answers = app.ingest_receipts(receipts).await;
    let mut done = Vec::with_capacity(due.len());
    let mut failed = false;
    for (r, m) in due.into_iter().zip(answers) {
        match m {
            Ok(_) => done.push(r.id),
            Err(e) => {
                tracing::warn!("simulator receipt {}: {e}", r.id);
                failed = true;
            }
        }
    }
    if let Err(e) = store.sim_mark_sent(&done).await {
        tracing::warn!("simulator receipts: {e}");
        return Ok(Handed {
            taken: 0,
            failed: true,
        });
    }
    Ok(Handed {
        taken: done.len(),
        failed,
    })
}

/// Hands the simulator's due receipts to the service, as a provider's
/// webhooks would, until the service is dropped.
pub async fn run_receipts(
    app: Weak<App>,
    store: Arc<dyn SimStore>,
    wake: Arc<Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(app) = app.upgrade() else { return };
        match hand_over_due(&app, &store, 512).await {
            Ok(h) if h.failed => {
                // Undelivered receipts stay due; try again shortly.
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Ok(h) if h.taken > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!("simulator receipts: {e}"),
        }
        let next = store.sim_next_receipt_at().await.ok().flatten();
        let wait = next.map_or(1_000, |t| (t - app.now()).clamp(1, 1_000));
        drop(app);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = shutdown.changed() => {}
        }
    }
}
