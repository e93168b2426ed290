//! The simulator's messages, as the writer stores them: one row per
//! idempotency key, requests counted, and every answer computed from the
//! stored row (so the first request's answer rule wins for repeats). Sends
//! queued together are upserted with one multi-row statement.

use super::codec::{col, col_u32, CHUNK};
use super::read::push_in_list;
use crate::cascade;
use crate::{Result, SimAnswer, SimFinal, SimSend, StoreError};
use herald_core::Millis;
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{QueryBuilder, SqliteConnection};
use std::collections::{HashMap, HashSet};

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

/// Stores and answers simulator sends in order. Each statement takes a run
/// of sends with distinct keys, so every row it touches is one send's.
pub(super) async fn sim_send_many(
    conn: &mut SqliteConnection,
    sends: &[&SimSend],
) -> Result<Vec<SimAnswer>> {
    let mut out = Vec::with_capacity(sends.len());
    let mut start = 0;
    while start < sends.len() {
        let mut keys = HashSet::new();
        let mut end = start;
        while end < sends.len()
            && end - start < CHUNK
            && keys.insert(sends[end].idempotency_key.as_str())
        {
            end += 1;
        }
        out.extend(upsert_run(conn, &sends[start..end]).await?);
        start = end;
    }
    Ok(out)
}

async fn upsert_run(conn: &mut SqliteConnection, run: &[&SimSend]) -> Result<Vec<SimAnswer>> {
    let rows: Vec<(&SimSend, String, Final<'_>)> = run
        .iter()
        .map(|s| (*s, cascade::new_id(), final_of(s)))
        .collect();
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO sim_messages (id, tenant_id, notification_id, channel, route, to_addr,
             subject, title, body, idempotency_key, requests, outcome, transient_first,
             final_kind, final_error, final_unreachable, receipt_delivered, receipt_due_at,
             receipt_sent, record, received_at, hook_id) ",
    );
    qb.push_values(&rows, |mut b, (s, id, f)| {
        b.push_bind(id.as_str())
            .push_bind(s.tenant_id.as_str())
            .push_bind(s.notification_id.as_str())
            .push_bind(s.channel.as_str())
            .push_bind(s.route.as_str())
            .push_bind(s.to.as_str())
            .push_bind(s.content.subject.as_deref())
            .push_bind(s.content.title.as_deref())
            .push_bind(s.content.body.as_str())
            .push_bind(s.idempotency_key.as_str())
            .push("1")
            .push_bind(s.outcome.as_str())
            .push_bind(i64::from(s.transient_first))
            .push_bind(f.kind)
            .push_bind(f.error)
            .push_bind(f.unreachable)
            .push_bind(f.receipt)
            .push("NULL")
            .push("0")
            .push_bind(s.record)
            .push_bind(s.at)
            .push_bind(s.hook_id.as_str());
    });
    qb.push(
        " ON CONFLICT (idempotency_key) DO UPDATE SET requests = requests + 1
         RETURNING idempotency_key, id, requests, transient_first, final_kind, final_error,
             final_unreachable, receipt_delivered, receipt_due_at",
    );
    let stored = qb.build().fetch_all(&mut *conn).await?;
    let mut by_key: HashMap<String, &SqliteRow> = HashMap::with_capacity(stored.len());
    for r in &stored {
        by_key.insert(col(r, "idempotency_key")?, r);
    }
    let mut answers = Vec::with_capacity(rows.len());
    let mut due: Vec<(String, Millis)> = Vec::new();
    for (s, _, f) in &rows {
        let row = by_key.get(&s.idempotency_key).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "simulator message {} not stored",
                s.idempotency_key
            ))
        })?;
        let (answer, due_at) = answer(row, f, s.at)?;
        if let (SimAnswer::Accepted { message_id }, Some(at)) = (&answer, due_at) {
            due.push((message_id.clone(), at));
        }
        answers.push(answer);
    }
    if !due.is_empty() {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("WITH v (id, due) AS (");
        qb.push_values(&due, |mut b, (id, at)| {
            b.push_bind(id.as_str()).push_bind(*at);
        });
        qb.push(
            ") UPDATE sim_messages SET receipt_due_at = v.due FROM v
             WHERE sim_messages.id = v.id AND sim_messages.receipt_due_at IS NULL",
        );
        qb.build().execute(&mut *conn).await?;
    }
    Ok(answers)
}

/// The answer the stored row gives this request, and the receipt's due
/// time if this request is the first to get past the transient errors.
fn answer(row: &SqliteRow, f: &Final<'_>, at: Millis) -> Result<(SimAnswer, Option<Millis>)> {
    let id: String = col(row, "id")?;
    let requests = col_u32(row, "requests")?;
    if requests <= col_u32(row, "transient_first")? {
        return Ok((SimAnswer::Transient { requests }, None));
    }
    let kind: String = col(row, "final_kind")?;
    match kind.as_str() {
        "accepted" => {
            let receipt: Option<bool> = col(row, "receipt_delivered")?;
            let due_at: Option<Millis> = col(row, "receipt_due_at")?;
            let due = (receipt.is_some() && due_at.is_none()).then(|| f.receipt_at.unwrap_or(at));
            Ok((SimAnswer::Accepted { message_id: id }, due))
        }
        "refused" => Ok((
            SimAnswer::Refused {
                unreachable: col(row, "final_unreachable")?,
                error: col::<Option<String>>(row, "final_error")?.unwrap_or_default(),
            },
            None,
        )),
        other => Err(StoreError::Corrupt(format!(
            "simulator message {id}: unknown final answer {other:?}"
        ))),
    }
}

/// Marks simulator receipts as handed over.
pub(super) async fn sim_mark_sent(conn: &mut SqliteConnection, ids: &[String]) -> Result<()> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for chunk in ids.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("UPDATE sim_messages SET receipt_sent = 1 WHERE id IN ");
        push_in_list(&mut qb, chunk);
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}
