//! The simulator's messages, as the writer stores them: one row per
//! idempotency key, requests counted, and every answer computed from the
//! stored row (so the first request's answer rule wins for repeats).

use super::compact::{hex_value, uuid_value, UuidText};
use super::error::Db;
use super::tx::WriteTx;
use crate::cascade;
use crate::{Result, SimAnswer, SimFinal, SimSend, StoreError};
use herald_core::Millis;
use rusqlite::{params, OptionalExtension};

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

/// The stored row's answer inputs, as the upsert returns them.
struct Stored {
    id: String,
    requests: u32,
    transient_first: u32,
    final_kind: String,
    final_error: Option<String>,
    final_unreachable: bool,
    receipt_delivered: Option<bool>,
    receipt_due_at: Option<Millis>,
}

/// Stores (or counts again) one simulator send and answers it.
pub(super) fn sim_send(tx: &mut WriteTx<'_>, s: &SimSend) -> Result<SimAnswer> {
    let f = final_of(s);
    // What only the outbox shows is stored only for a recording
    // integration (an unrecorded message is never listed): the rest of
    // the row answers repeats and owes the receipt.
    let shown = |v: &str| {
        if s.record {
            v.to_string()
        } else {
            String::new()
        }
    };
    let shown_opt = |v: &Option<String>| if s.record { v.clone() } else { None };
    let stored = tx
        .conn
        .prepare_cached(
            "INSERT INTO sim_messages (id, tenant_id, notification_id, channel, route, to_addr,
                 subject, title, body, idempotency_key, requests, outcome, transient_first,
                 final_kind, final_error, final_unreachable, receipt_delivered, receipt_due_at,
                 receipt_sent, record, received_at, hook_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?13, ?14, ?15, ?16,
                 NULL, 0, ?17, ?18, ?19)
             ON CONFLICT (idempotency_key) DO UPDATE SET requests = requests + 1
             RETURNING id, requests, transient_first, final_kind, final_error,
                 final_unreachable, receipt_delivered, receipt_due_at",
        )
        .db()?
        .query_row(
            params![
                uuid_value(&cascade::new_id()),
                shown(&s.tenant_id),
                shown(&s.notification_id),
                s.channel.as_str(),
                shown(&s.route),
                shown(&s.to),
                shown_opt(&s.content.subject),
                shown_opt(&s.content.title),
                shown(&s.content.body),
                uuid_value(&s.idempotency_key),
                s.outcome,
                i64::from(s.transient_first),
                f.kind,
                f.error,
                f.unreachable,
                f.receipt,
                s.record,
                s.at,
                hex_value(&s.hook_id),
            ],
            |r| {
                Ok(Stored {
                    id: r.get::<_, UuidText>(0)?.0,
                    requests: r.get(1)?,
                    transient_first: r.get(2)?,
                    final_kind: r.get(3)?,
                    final_error: r.get(4)?,
                    final_unreachable: r.get(5)?,
                    receipt_delivered: r.get(6)?,
                    receipt_due_at: r.get(7)?,
                })
            },
        )
        .optional()
        .db()?
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "simulator message {} not stored",
                s.idempotency_key
            ))
        })?;
    let (answer, due_at) = answer(stored, &f, s.at)?;
    if let (SimAnswer::Accepted { message_id }, Some(at)) = (&answer, due_at) {
        tx.conn
            .prepare_cached(
                "UPDATE sim_messages SET receipt_due_at = ?2
                 WHERE id = ?1 AND receipt_due_at IS NULL",
            )
            .db()?
            .execute(params![uuid_value(message_id), at])
            .db()?;
    }
    Ok(answer)
}

/// The answer the stored row gives this request, and the receipt's due
/// time if this request is the first to get past the transient errors.
fn answer(row: Stored, f: &Final<'_>, at: Millis) -> Result<(SimAnswer, Option<Millis>)> {
    if row.requests <= row.transient_first {
        return Ok((
            SimAnswer::Transient {
                requests: row.requests,
            },
            None,
        ));
    }
    match row.final_kind.as_str() {
        "accepted" => {
            let due = (row.receipt_delivered.is_some() && row.receipt_due_at.is_none())
                .then(|| f.receipt_at.unwrap_or(at));
            Ok((SimAnswer::Accepted { message_id: row.id }, due))
        }
        "refused" => Ok((
            SimAnswer::Refused {
                unreachable: row.final_unreachable,
                error: row.final_error.unwrap_or_default(),
            },
            None,
        )),
        other => Err(StoreError::Corrupt(format!(
            "simulator message {}: unknown final answer {other:?}",
            row.id
        ))),
    }
}

/// Marks simulator receipts as handed over.
pub(super) fn sim_mark_sent(tx: &mut WriteTx<'_>, ids: &[String]) -> Result<()> {
    let mut stmt = tx
        .conn
        .prepare_cached("UPDATE sim_messages SET receipt_sent = 1 WHERE id = ?1")
        .db()?;
    for id in ids {
        stmt.execute(params![uuid_value(id)]).db()?;
    }
    Ok(())
}
