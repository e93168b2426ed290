//! The simulator's messages on PostgreSQL: one row per idempotency key
//! across every node (the unique index, with an atomic upsert that counts
//! the request), and every answer computed from the stored row, so the
//! first request's answer rule wins for repeats from any node.

use super::codec::col;
use super::error::Db;
use crate::cascade;
use crate::{Result, SimAnswer, SimFinal, SimSend, StoreError};
use herald_core::Millis;
use sqlx::PgPool;

/// A send's final answer, as stored.
struct Final<'a> {
    kind: &'static str,
    error: Option<&'a str>,
    unreachable: bool,
    /// Whether a receipt follows, and of which kind.
    receipt: Option<bool>,
    /// When it is due, if this request is the first past the transient ones.
    receipt_at: Option<Millis>,
}

fn final_of(s: &SimSend) -> Final<'_> {
    match &s.final_answer {
        SimFinal::Accepted { receipt } => Final {
            kind: "accepted",
            error: None,
            unreachable: false,
            receipt: receipt.map(|(d, _)| d),
            receipt_at: receipt.map(|(_, at)| at),
        },
        SimFinal::Refused { unreachable, error } => Final {
            kind: "refused",
            error: Some(error.as_str()),
            unreachable: *unreachable,
            receipt: None,
            receipt_at: None,
        },
    }
}

/// Stores (or counts again) one simulator send and answers it, in one
/// statement (committed with its group, see `intake`): the upsert's row lock makes concurrent
/// requests for one key count one by one, and the request that first gets
/// past the transient errors sets the receipt's due time in the same row
/// write, by the rule the first request stored.
pub(super) async fn sim_send(conn: &mut sqlx::PgConnection, s: &SimSend) -> Result<SimAnswer> {
    let f = final_of(s);
    let row = sqlx::query(
        "INSERT INTO sim_messages AS m (id, tenant_id, notification_id, channel, route,
             to_addr, subject, title, body, idempotency_key, requests, outcome,
             transient_first, final_kind, final_error, final_unreachable, receipt_delivered,
             receipt_due_at, receipt_sent, record, received_at, hook_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, $14, $15, $16,
             CASE WHEN $16::BOOLEAN IS NOT NULL AND $13 = 'accepted' AND 1 > $12
                  THEN $20::BIGINT END,
             FALSE, $17, $18, $19)
         ON CONFLICT (idempotency_key) DO UPDATE SET requests = m.requests + 1,
             receipt_due_at = CASE
                 WHEN m.receipt_due_at IS NULL AND m.receipt_delivered IS NOT NULL
                      AND m.final_kind = 'accepted' AND m.requests + 1 > m.transient_first
                 THEN $20::BIGINT ELSE m.receipt_due_at END
         RETURNING id, requests, transient_first, final_kind, final_error, final_unreachable",
    )
    .bind(cascade::new_id())
    .bind(&s.tenant_id)
    .bind(&s.notification_id)
    .bind(s.channel.as_str())
    .bind(&s.route)
    .bind(&s.to)
    .bind(s.content.subject.as_deref())
    .bind(s.content.title.as_deref())
    .bind(&s.content.body)
    .bind(&s.idempotency_key)
    .bind(&s.outcome)
    .bind(i64::from(s.transient_first))
    .bind(f.kind)
    .bind(f.error)
    .bind(f.unreachable)
    .bind(f.receipt)
    .bind(s.record)
    .bind(s.at)
    .bind(&s.hook_id)
    .bind(f.receipt_at.unwrap_or(s.at))
    .fetch_one(conn)
    .await
    .db()?;
    let id: String = col(&row, "id")?;
    let requests: i64 = col(&row, "requests")?;
    let transient_first: i64 = col(&row, "transient_first")?;
    if requests <= transient_first {
        return Ok(SimAnswer::Transient {
            requests: u32::try_from(requests)
                .map_err(|_| StoreError::Corrupt(format!("requests {requests}")))?,
        });
    }
    let kind: String = col(&row, "final_kind")?;
    match kind.as_str() {
        "accepted" => Ok(SimAnswer::Accepted { message_id: id }),
        "refused" => Ok(SimAnswer::Refused {
            unreachable: col(&row, "final_unreachable")?,
            error: col::<Option<String>>(&row, "final_error")?.unwrap_or_default(),
        }),
        other => Err(StoreError::Corrupt(format!(
            "simulator message {id}: unknown final answer {other:?}"
        ))),
    }
}

/// Marks simulator receipts as handed over.
pub(super) async fn sim_mark_sent(pool: &PgPool, ids: &[String]) -> Result<()> {
    sqlx::query("UPDATE sim_messages SET receipt_sent = TRUE WHERE id = ANY($1)")
        .bind(ids)
        .execute(pool)
        .await
        .db()?;
    Ok(())
}
