//! The simulator's reads on the reader pool: receipts it owes, and its
//! outbox.

use super::codec::{col, col_enum, col_hex, col_u32, col_uuid, int};
use super::compact::uuid_bytes;
use super::error::Db;
use crate::{OutboxQuery, Result, SimMessage, SimReceiptDue, StoreError};
use herald_core::Millis;
use sqlx::sqlite::Sqlite;
use sqlx::{QueryBuilder, SqliteConnection};

/// Simulator receipts whose time has come.
pub(super) async fn sim_due_receipts(
    conn: &mut SqliteConnection,
    now: Millis,
    limit: usize,
) -> Result<Vec<SimReceiptDue>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        "id",
        " AS id, ",
        "idempotency_key",
        " AS idempotency_key, ",
        "hook_id",
        " AS hook_id, receipt_delivered, receipt_due_at FROM sim_messages
         WHERE receipt_sent = 0 AND receipt_due_at IS NOT NULL AND receipt_due_at <= ?1
         ORDER BY receipt_due_at LIMIT ?2"
    ))
    .bind(now)
    .bind(int(limit))
    .fetch_all(conn)
    .await
    .db()?;
    rows.iter()
        .map(|r| {
            let delivered: Option<bool> = col(r, "receipt_delivered")?;
            Ok(SimReceiptDue {
                id: col_uuid(r, "id")?,
                idempotency_key: col_uuid(r, "idempotency_key")?,
                hook_id: col_hex(r, "hook_id")?,
                delivered: delivered.ok_or_else(|| {
                    StoreError::Corrupt("simulator receipt without a kind".into())
                })?,
                due_at: col(r, "receipt_due_at")?,
            })
        })
        .collect()
}

/// The earliest simulator receipt still owed.
pub(super) async fn sim_next_receipt_at(conn: &mut SqliteConnection) -> Result<Option<Millis>> {
    let row = sqlx::query(
        "SELECT MIN(receipt_due_at) AS t FROM sim_messages
         WHERE receipt_sent = 0 AND receipt_due_at IS NOT NULL",
    )
    .fetch_one(conn)
    .await
    .db()?;
    col(&row, "t")
}

/// The tenant's simulator outbox, oldest first.
pub(super) async fn sim_outbox(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    q: &OutboxQuery,
) -> Result<Vec<SimMessage>> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(concat!(
        "SELECT ",
        "id",
        " AS id, notification_id, channel, route, to_addr, subject, title, body, ",
        "idempotency_key",
        " AS idempotency_key, requests, outcome, received_at
         FROM sim_messages WHERE record = 1 AND tenant_id = "
    ));
    qb.push_bind(tenant_id.to_string());
    if let Some(n) = &q.notification_id {
        qb.push(" AND notification_id = ").push_bind(n.clone());
    }
    if let Some(c) = q.channel {
        qb.push(" AND channel = ").push_bind(c.as_str());
    }
    if let Some(a) = &q.after {
        qb.push(" AND id > ");
        match uuid_bytes(a) {
            Some(bytes) => qb.push_bind(bytes),
            None => qb.push_bind(a.clone()),
        };
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(int(q.limit));
    let rows = qb.build().fetch_all(conn).await.db()?;
    rows.iter()
        .map(|r| {
            Ok(SimMessage {
                id: col_uuid(r, "id")?,
                notification_id: col(r, "notification_id")?,
                channel: col_enum(r, "channel")?,
                route: col(r, "route")?,
                to: col(r, "to_addr")?,
                subject: col(r, "subject")?,
                title: col(r, "title")?,
                body: col(r, "body")?,
                idempotency_key: col_uuid(r, "idempotency_key")?,
                requests: col_u32(r, "requests")?,
                outcome: col(r, "outcome")?,
                received_at: col(r, "received_at")?,
            })
        })
        .collect()
}
