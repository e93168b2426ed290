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

/// Stores (or counts again) one simulator send and answers it. The upsert
/// and the receipt's due time go in one transaction: the row lock the
/// upsert takes makes concurrent requests for one key count one by one.
pub(super) async fn sim_send(pool: &PgPool, s: &SimSend) -> Result<SimAnswer> {
    let f = final_of(s);
    let mut tx = pool.begin().await.db()?;
    let row = sqlx::query(
        "INSERT INTO sim_messages (id, tenant_id, notification_id, channel, route, to_addr,
             subject, title, body, idempotency_key, requests, outcome, transient_first,
             final_kind, final_error, final_unreachable, receipt_delivered, receipt_due_at,
             receipt_sent, record, received_at, hook_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, $14, $15, $16,
             NULL, FALSE, $17, $18, $19)
         ON CONFLICT (idempotency_key) DO UPDATE SET requests = sim_messages.requests + 1
         RETURNING id, requests, transient_first, final_kind, final_error, final_unreachable,
             receipt_delivered, receipt_due_at",
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
    .fetch_one(&mut *tx)
    .await
    .db()?;
    let id: String = col(&row, "id")?;
    let requests: i64 = col(&row, "requests")?;
    let transient_first: i64 = col(&row, "transient_first")?;
    let answer = if requests <= transient_first {
        SimAnswer::Transient {
            requests: u32::try_from(requests)
                .map_err(|_| StoreError::Corrupt(format!("requests {requests}")))?,
        }
    } else {
        let kind: String = col(&row, "final_kind")?;
        match kind.as_str() {
            "accepted" => {
                let delivered: Option<bool> = col(&row, "receipt_delivered")?;
                let due_at: Option<Millis> = col(&row, "receipt_due_at")?;
                if delivered.is_some() && due_at.is_none() {
                    sqlx::query(
                        "UPDATE sim_messages SET receipt_due_at = $2
                         WHERE id = $1 AND receipt_due_at IS NULL",
                    )
                    .bind(&id)
                    .bind(f.receipt_at.unwrap_or(s.at))
                    .execute(&mut *tx)
                    .await
                    .db()?;
                }
                SimAnswer::Accepted { message_id: id }
            }
            "refused" => SimAnswer::Refused {
                unreachable: col(&row, "final_unreachable")?,
                error: col::<Option<String>>(&row, "final_error")?.unwrap_or_default(),
            },
            other => {
                return Err(StoreError::Corrupt(format!(
                    "simulator message {id}: unknown final answer {other:?}"
                )))
            }
        }
    };
    tx.commit().await.db()?;
    Ok(answer)
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
