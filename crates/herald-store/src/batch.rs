//! What a backend does when a batch of receipts taken in one transaction
//! fails: each is tried alone, so one bad receipt answers with its own
//! error and does not hold back the rest.

use crate::{IncomingReceipt, ReceiptMatch, Result, Store};

/// The answers of a batch, or, if the batch failed, of each receipt
/// recorded alone through `store`.
pub(crate) async fn receipts_or_each<S: Store + ?Sized>(
    store: &S,
    receipts: Vec<IncomingReceipt>,
    batch: Result<Vec<ReceiptMatch>>,
) -> Vec<Result<ReceiptMatch>> {
    match batch {
        Ok(ms) => ms.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::debug!(
                "a batch of {} receipts failed ({e}); each alone",
                receipts.len()
            );
            let mut out = Vec::with_capacity(receipts.len());
            for r in receipts {
                out.push(store.record_receipt(r).await);
            }
            out
        }
    }
}
