//! A batch of receipts on PostgreSQL in two statements: the attempts they
//! are about, then the receipts themselves (the provided forms would run
//! two or three statements per receipt).

use super::codec::col;
use super::error::Db;
use super::tx::PgTx;
use crate::primitives::AttemptRef;
use crate::{IncomingReceipt, Result};
use std::collections::HashMap;

impl PgTx {
    /// `CascadeTx::attempts_of_receipts` in one statement: per receipt,
    /// the attempt of its hook with its provider message id, else with its
    /// key (each an index lookup).
    pub(super) async fn receipt_attempts_many(
        &mut self,
        receipts: &[IncomingReceipt],
    ) -> Result<Vec<Option<AttemptRef>>> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let hooks: Vec<&str> = receipts.iter().map(|r| r.hook_id.as_str()).collect();
        let pms: Vec<Option<&str>> = receipts
            .iter()
            .map(|r| r.provider_message_id.as_deref())
            .collect();
        let keys: Vec<Option<&str>> = receipts
            .iter()
            .map(|r| r.idempotency_key.as_deref())
            .collect();
        let rows = sqlx::query(
            "SELECT u.ord, m.id, m.notification_id, m.deadline
             FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(hook, pm, key, ord)
             CROSS JOIN LATERAL (
                 SELECT x.* FROM (
                     (SELECT id, notification_id, deadline, 0 AS pref FROM attempts
                      WHERE provider_message_id = u.pm AND via_hook = u.hook LIMIT 1)
                     UNION ALL
                     (SELECT id, notification_id, deadline, 1 AS pref FROM attempts
                      WHERE idempotency_key = u.key AND via_hook = u.hook LIMIT 1)
                 ) x ORDER BY x.pref LIMIT 1
             ) m",
        )
        .bind(hooks)
        .bind(pms)
        .bind(keys)
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        let mut out: Vec<Option<AttemptRef>> = vec![None; receipts.len()];
        for r in &rows {
            let ord: i64 = col(r, "ord")?;
            let Some(slot) = usize::try_from(ord - 1).ok().and_then(|i| out.get_mut(i)) else {
                continue;
            };
            *slot = Some(AttemptRef {
                id: col(r, "id")?,
                notification_id: col(r, "notification_id")?,
                deadline: col(r, "deadline")?,
            });
        }
        Ok(out)
    }

    /// `CascadeTx::insert_receipts` in one statement, rows in order: of
    /// two of one kind for one attempt the first goes in.
    pub(super) async fn receipts_many(
        &mut self,
        rows: &[(&str, &IncomingReceipt, bool)],
    ) -> Result<Vec<bool>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let delivered: Vec<bool> = rows.iter().map(|r| r.1.delivered).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.1.at).collect();
        let late: Vec<bool> = rows.iter().map(|r| r.2).collect();
        let errors: Vec<Option<&str>> = rows.iter().map(|r| r.1.error.as_deref()).collect();
        let returned = sqlx::query(
            "INSERT INTO receipts (attempt_id, delivered, at, late, error)
             SELECT id, delivered, at, late, error
             FROM UNNEST($1::text[], $2::bool[], $3::bigint[], $4::bool[], $5::text[])
                 WITH ORDINALITY AS u(id, delivered, at, late, error, ord)
             ORDER BY ord
             ON CONFLICT DO NOTHING
             RETURNING attempt_id, delivered",
        )
        .bind(ids)
        .bind(delivered)
        .bind(at)
        .bind(late)
        .bind(errors)
        .fetch_all(&mut *self.tx)
        .await
        .db()?;
        // Each returned key answers `true` once: for the first row with it.
        let mut went_in: HashMap<(String, bool), bool> = HashMap::with_capacity(returned.len());
        for r in &returned {
            went_in.insert((col(r, "attempt_id")?, col(r, "delivered")?), true);
        }
        Ok(rows
            .iter()
            .map(|(id, r, _)| {
                went_in
                    .get_mut(&(id.to_string(), r.delivered))
                    .is_some_and(|fresh| std::mem::replace(fresh, false))
            })
            .collect())
    }
}
