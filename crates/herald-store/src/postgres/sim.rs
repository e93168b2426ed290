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
use std::collections::HashMap;

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

/// Stores (or counts again) one simulator send and answers it (see
/// `sim_send_many`).
pub(super) async fn sim_send(conn: &mut sqlx::PgConnection, s: &SimSend) -> Result<SimAnswer> {
    sim_send_many(conn, std::slice::from_ref(s))
        .await?
        .pop()
        .ok_or_else(|| StoreError::Corrupt("a simulator send got no answer".into()))
}

/// Stores (or counts again) simulator sends and answers each, in one
/// statement (committed with its group, see `intake`): the upsert's row
/// lock makes concurrent requests for one key count one by one, and the
/// request that first gets past the transient errors sets the receipt's
/// due time in the same row write, by the rule the first request stored.
/// Two sends of one key in one batch fail it (PostgreSQL will not upsert a
/// row twice in one statement); `intake` then runs each alone.
pub(super) async fn sim_send_many(
    conn: &mut sqlx::PgConnection,
    sends: &[SimSend],
) -> Result<Vec<SimAnswer>> {
    if sends.is_empty() {
        return Ok(Vec::new());
    }
    let n = sends.len();
    let finals: Vec<Final<'_>> = sends.iter().map(final_of).collect();
    let ids: Vec<String> = (0..n).map(|_| cascade::new_id()).collect();
    let col_of = |f: fn(&SimSend) -> &str| sends.iter().map(f).collect::<Vec<&str>>();
    let rows = sqlx::query(
        "INSERT INTO sim_messages AS m (id, tenant_id, notification_id, channel, route,
             to_addr, subject, title, body, idempotency_key, requests, outcome,
             transient_first, final_kind, final_error, final_unreachable, receipt_delivered,
             receipt_due_at, receipt_sent, record, received_at, hook_id)
         SELECT id, tid, nid, channel, route, to_addr, subject, title, body, key, 1, outcome,
             tf, kind, error, unreachable, rd,
             CASE WHEN rd IS NOT NULL AND kind = 'accepted' AND 1 > tf THEN rat END,
             FALSE, record, at, hook
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[],
             $13::text[], $14::text[], $15::bool[], $16::bool[], $17::bool[], $18::bigint[],
             $19::text[], $20::bigint[])
             WITH ORDINALITY AS u(id, tid, nid, channel, route, to_addr, subject, title, body,
                 key, outcome, tf, kind, error, unreachable, rd, record, at, hook, rat, ord)
         ORDER BY ord
         ON CONFLICT (idempotency_key) DO UPDATE SET requests = m.requests + 1,
             receipt_due_at = CASE
                 WHEN m.receipt_due_at IS NULL AND m.receipt_delivered IS NOT NULL
                      AND m.final_kind = 'accepted' AND m.requests + 1 > m.transient_first
                 THEN (SELECT v.rat FROM UNNEST($10::text[], $20::bigint[]) AS v(key, rat)
                       WHERE v.key = m.idempotency_key LIMIT 1)
                 ELSE m.receipt_due_at END
         RETURNING idempotency_key, id, requests, transient_first, final_kind, final_error,
             final_unreachable",
    )
    .bind(&ids)
    .bind(col_of(|s| &s.tenant_id))
    .bind(col_of(|s| &s.notification_id))
    .bind(col_of(|s| s.channel.as_str()))
    .bind(col_of(|s| &s.route))
    .bind(col_of(|s| &s.to))
    .bind(
        sends
            .iter()
            .map(|s| s.content.subject.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        sends
            .iter()
            .map(|s| s.content.title.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(col_of(|s| &s.content.body))
    .bind(col_of(|s| &s.idempotency_key))
    .bind(col_of(|s| &s.outcome))
    .bind(
        sends
            .iter()
            .map(|s| i64::from(s.transient_first))
            .collect::<Vec<_>>(),
    )
    .bind(finals.iter().map(|f| f.kind).collect::<Vec<_>>())
    .bind(finals.iter().map(|f| f.error).collect::<Vec<_>>())
    .bind(finals.iter().map(|f| f.unreachable).collect::<Vec<_>>())
    .bind(finals.iter().map(|f| f.receipt).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.record).collect::<Vec<_>>())
    .bind(sends.iter().map(|s| s.at).collect::<Vec<_>>())
    .bind(col_of(|s| &s.hook_id))
    .bind(
        sends
            .iter()
            .zip(&finals)
            .map(|(s, f)| f.receipt_at.unwrap_or(s.at))
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await
    .db()?;
    let mut by_key: HashMap<String, SimAnswer> = HashMap::with_capacity(rows.len());
    for row in &rows {
        by_key.insert(col(row, "idempotency_key")?, answer_of(row)?);
    }
    sends
        .iter()
        .map(|s| {
            by_key.remove(&s.idempotency_key).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "simulator send {} got no answer",
                    s.idempotency_key
                ))
            })
        })
        .collect()
}

/// The answer a stored simulator message gives the request just counted.
fn answer_of(row: &sqlx::postgres::PgRow) -> Result<SimAnswer> {
    let id: String = col(row, "id")?;
    let requests: i64 = col(row, "requests")?;
    let transient_first: i64 = col(row, "transient_first")?;
    if requests <= transient_first {
        return Ok(SimAnswer::Transient {
            requests: u32::try_from(requests)
                .map_err(|_| StoreError::Corrupt(format!("requests {requests}")))?,
        });
    }
    let kind: String = col(row, "final_kind")?;
    match kind.as_str() {
        "accepted" => Ok(SimAnswer::Accepted { message_id: id }),
        "refused" => Ok(SimAnswer::Refused {
            unreachable: col(row, "final_unreachable")?,
            error: col::<Option<String>>(row, "final_error")?.unwrap_or_default(),
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
