//! Attempts as rows: a notification's attempts with their receipts, shared
//! by the transaction's primitives, the batched statements and the
//! readers.

use super::codec::{col, col_attempt_status, col_channel, col_u32, col_usize};
use super::error::Db;
use crate::{AttemptRecord, ReceiptRecord, Result};
use herald_core::Millis;
use sqlx::postgres::PgRow;

/// A notification's attempts with their receipts. The receipts are looked up
/// per attempt (`LATERAL … OFFSET 0`, its primary key) so the plan does not
/// depend on statistics: planned on a fresh schema as a plain join, and
/// kept by the prepared statement, it scanned `receipts` whole on every
/// cascade step (herald-bench --database-url found 55 M rows read in one
/// run; BENCHMARKS.md "PostgreSQL").
const ATTEMPTS_OF: &str = "SELECT a.id, a.channel_idx, a.channel, a.route, a.to_addr,
        a.idempotency_key, a.provider_message_id, a.status, a.error, a.unreachable,
        a.requests, a.created_at, a.deadline, a.sent_at, a.answered_at, a.cost_micros,
        r.delivered AS r_delivered, r.at AS r_at, r.late AS r_late, r.error AS r_error
    FROM attempts a
    LEFT JOIN LATERAL (
        SELECT x.delivered, x.at, x.late, x.error FROM receipts x
        WHERE x.attempt_id = a.id OFFSET 0
    ) r ON true
    WHERE a.notification_id = $1
    ORDER BY a.created_at, a.id, r.at, r.delivered DESC";

/// Adds one row of `ATTEMPTS_OF` to `out`: a new attempt, or one more
/// receipt of the last one (rows come ordered by attempt, then receipt).
pub(super) fn push_attempt_row(out: &mut Vec<AttemptRecord>, r: &PgRow) -> Result<()> {
    let id: &str = col(r, "id")?;
    if out.last().is_none_or(|a| a.id != id) {
        out.push(AttemptRecord {
            id: id.to_string(),
            channel_idx: col_usize(r, "channel_idx")?,
            channel: col_channel(r, "channel")?,
            route: col(r, "route")?,
            to: col(r, "to_addr")?,
            idempotency_key: col(r, "idempotency_key")?,
            provider_message_id: col(r, "provider_message_id")?,
            status: col_attempt_status(r, "status")?,
            error: col(r, "error")?,
            unreachable: col(r, "unreachable")?,
            requests: col_u32(r, "requests")?,
            created_at: col(r, "created_at")?,
            deadline: col(r, "deadline")?,
            sent_at: col(r, "sent_at")?,
            answered_at: col(r, "answered_at")?,
            cost_micros: col(r, "cost_micros")?,
            receipts: Vec::new(),
        });
    }
    let at: Option<Millis> = col(r, "r_at")?;
    if let (Some(at), Some(a)) = (at, out.last_mut()) {
        let delivered: Option<bool> = col(r, "r_delivered")?;
        let late: Option<bool> = col(r, "r_late")?;
        a.receipts.push(ReceiptRecord {
            delivered: delivered.unwrap_or(false),
            at,
            late: late.unwrap_or(false),
            error: col(r, "r_error")?,
        });
    }
    Ok(())
}

/// Every attempt of a notification, oldest first, with its receipts.
pub(super) async fn attempts_of(
    conn: &mut sqlx::PgConnection,
    id: &str,
) -> Result<Vec<AttemptRecord>> {
    let rows = sqlx::query(ATTEMPTS_OF)
        .bind(id)
        .fetch_all(conn)
        .await
        .db()?;
    let mut out: Vec<AttemptRecord> = Vec::with_capacity(rows.len());
    for r in &rows {
        push_attempt_row(&mut out, r)?;
    }
    Ok(out)
}
