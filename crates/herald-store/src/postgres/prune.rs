//! Retention on PostgreSQL. Any number of nodes may prune at once: each
//! batch takes its rows with `FOR UPDATE SKIP LOCKED`, so two nodes never
//! wait on (or delete) the same rows, and a notification a cascade step is
//! holding (`FOR NO KEY UPDATE`) is left for a later batch. One short
//! transaction per batch.

use super::error::Db;
use super::PgStore;
use crate::codec::int;
use crate::{PruneLimits, Pruned, Result};
use herald_core::Millis;
use std::sync::atomic::Ordering;

impl PgStore {
    /// One batch of `Store::prune`.
    pub(super) async fn prune_batch(&self, now: Millis, limits: PruneLimits) -> Result<Pruned> {
        let batch = limits.batch.max(1);
        let mut tx = self.pool.begin().await.db()?;
        let victims: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM notifications
             WHERE finished_at < $1
             ORDER BY finished_at LIMIT $2
             FOR UPDATE SKIP LOCKED",
        )
        .bind(limits.finished_before(now))
        .bind(int(batch))
        .fetch_all(&mut *tx)
        .await
        .db()?;
        let mut out = Pruned {
            more: victims.len() >= batch,
            ..Pruned::default()
        };
        if !victims.is_empty() {
            out.receipts = sqlx::query(
                "DELETE FROM receipts WHERE attempt_id IN
                     (SELECT id FROM attempts WHERE notification_id = ANY($1))",
            )
            .bind(&victims)
            .execute(&mut *tx)
            .await
            .db()?
            .rows_affected();
            out.attempts = sqlx::query("DELETE FROM attempts WHERE notification_id = ANY($1)")
                .bind(&victims)
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
            out.notifications = sqlx::query("DELETE FROM notifications WHERE id = ANY($1)")
                .bind(&victims)
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
        }
        let keys = sqlx::query(
            "UPDATE notifications SET idempotency_key = NULL WHERE id IN
                 (SELECT id FROM notifications
                  WHERE idempotency_key IS NOT NULL AND created_at < $1
                  LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(limits.keys_before(now))
        .bind(int(batch))
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        out.idempotency_keys = keys;
        out.more |= keys >= batch as u64;
        tx.commit().await.db()?;
        self.cx.commits.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    /// One batch of `SimStore::sim_prune`: old messages whose receipt is
    /// not still owed.
    pub(super) async fn sim_prune_batch(&self, before: Millis, limit: usize) -> Result<Pruned> {
        let limit = limit.max(1);
        let n = sqlx::query(
            "DELETE FROM sim_messages WHERE id IN
                 (SELECT id FROM sim_messages
                  WHERE received_at < $1
                    AND NOT (NOT receipt_sent AND receipt_due_at IS NOT NULL)
                  LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(before)
        .bind(int(limit))
        .execute(&self.pool)
        .await
        .db()?
        .rows_affected();
        Ok(Pruned {
            sim_messages: n,
            more: n >= limit as u64,
            ..Pruned::default()
        })
    }
}
