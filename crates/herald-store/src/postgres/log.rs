//! The log and the simulator's records, read on the pool: a notification
//! with its attempts (from one snapshot), the list, the next due time, the
//! receipts the simulator owes and its outbox.

use super::attempts::attempts_of;
use super::codec::{col, col_enum, col_json, col_u32, int};
use super::error::Db;
use crate::{
    ListQuery, NotificationRecord, NotificationSummary, OutboxQuery, Result, SimMessage,
    SimReceiptDue, StoreError,
};
use herald_core::Millis;
use sqlx::postgres::Postgres;
use sqlx::{PgPool, QueryBuilder};

/// A notification with its attempts and receipts, if the tenant owns it,
/// read in one REPEATABLE READ snapshot so the two queries agree.
pub(super) async fn get_notification(
    pool: &PgPool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<NotificationRecord>> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .db()?;
    let row = sqlx::query(
        "SELECT n.id, n.tenant_id, n.type_key, n.audience, n.recipient_id, n.data,
                n.idempotency_key, n.status, n.created_at, n.updated_at, p.plan, n.reach,
                n.rendered,
                n.verdicts, n.wake_at, n.schedule, n.booking_id, n.booking_starts_at,
                n.send_before_start_ms, n.deadline_from_booking
         FROM notifications n JOIN plans p ON p.id = n.plan_id
         WHERE n.id = $1 AND n.tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await
    .db()?;
    let Some(r) = row else {
        tx.commit().await.db()?;
        return Ok(None);
    };
    let attempts = attempts_of(&mut tx, id).await?;
    tx.commit().await.db()?;
    Ok(Some(NotificationRecord {
        id: col(&r, "id")?,
        tenant_id: col(&r, "tenant_id")?,
        type_key: col(&r, "type_key")?,
        audience: col_enum(&r, "audience")?,
        recipient_id: col(&r, "recipient_id")?,
        data: col_json(&r, "data")?,
        idempotency_key: col(&r, "idempotency_key")?,
        status: col_enum(&r, "status")?,
        created_at: col(&r, "created_at")?,
        updated_at: col(&r, "updated_at")?,
        plan: crate::reach::plan_from(
            &crate::reach::shape_from(col(&r, "plan")?)?,
            col(&r, "reach")?,
        )?,
        rendered: col_json(&r, "rendered")?,
        verdicts: col_json(&r, "verdicts")?,
        wake_at: col(&r, "wake_at")?,
        attempts,
        schedule: super::notifications::schedule_of(&r)?,
        booking: super::notifications::booking_of(&r)?,
    }))
}

/// The log, newest first.
pub(super) async fn list_notifications(
    pool: &PgPool,
    tenant_id: &str,
    q: &ListQuery,
) -> Result<Vec<NotificationSummary>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, type_key, audience, recipient_id, status, created_at, updated_at
         FROM notifications WHERE tenant_id = ",
    );
    qb.push_bind(tenant_id.to_string());
    if let Some(s) = q.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(t) = &q.type_key {
        qb.push(" AND type_key = ").push_bind(t.clone());
    }
    if let Some(b) = &q.before {
        qb.push(" AND id < ").push_bind(b.clone());
    }
    if let Some(t) = q.created_from {
        qb.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = q.created_before {
        qb.push(" AND created_at < ").push_bind(t);
    }
    if let Some(p) = q.recipient_pattern() {
        qb.push(" AND recipient_id ILIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    if let Some(c) = q.channel {
        // Through the attempts' (notification_id, …) unique index.
        qb.push(
            " AND EXISTS (SELECT 1 FROM attempts a \
             WHERE a.notification_id = notifications.id AND a.channel = ",
        )
        .push_bind(c.as_str())
        .push(")");
    }
    qb.push(" ORDER BY id DESC LIMIT ").push_bind(int(q.limit));
    let rows = qb.build().fetch_all(pool).await.db()?;
    rows.iter()
        .map(|r| {
            Ok(NotificationSummary {
                id: col(r, "id")?,
                type_key: col(r, "type_key")?,
                audience: col_enum(r, "audience")?,
                recipient_id: col(r, "recipient_id")?,
                status: col_enum(r, "status")?,
                created_at: col(r, "created_at")?,
                updated_at: col(r, "updated_at")?,
            })
        })
        .collect()
}

/// The earliest time anything is due: a queued attempt, a lapsed lease, a
/// pending or scheduled notification's wake time (each from its partial
/// index).
pub(super) const NEXT_DUE_SQL: &str = "SELECT LEAST(
         (SELECT MIN(next_try_at) FROM attempts WHERE status = 'queued'),
         (SELECT MIN(lease_until) FROM attempts WHERE status = 'sending'),
         (SELECT MIN(wake_at) FROM notifications WHERE wake_at IS NOT NULL)) AS t";

/// The earliest time anything is due.
pub(super) async fn next_due_at<'c, E>(conn: E) -> Result<Option<Millis>>
where
    E: sqlx::PgExecutor<'c>,
{
    let row = sqlx::query(NEXT_DUE_SQL).fetch_one(conn).await.db()?;
    col(&row, "t")
}

/// Simulator receipts whose time has come.
pub(super) async fn sim_due_receipts(
    pool: &PgPool,
    now: Millis,
    limit: usize,
) -> Result<Vec<SimReceiptDue>> {
    let rows = sqlx::query(
        "SELECT id, idempotency_key, hook_id, receipt_delivered, receipt_due_at FROM sim_messages
         WHERE NOT receipt_sent AND receipt_due_at IS NOT NULL AND receipt_due_at <= $1
         ORDER BY receipt_due_at LIMIT $2",
    )
    .bind(now)
    .bind(int(limit))
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter()
        .map(|r| {
            let delivered: Option<bool> = col(r, "receipt_delivered")?;
            Ok(SimReceiptDue {
                id: col(r, "id")?,
                idempotency_key: col(r, "idempotency_key")?,
                hook_id: col(r, "hook_id")?,
                delivered: delivered.ok_or_else(|| {
                    StoreError::Corrupt("simulator receipt without a kind".into())
                })?,
                due_at: col(r, "receipt_due_at")?,
            })
        })
        .collect()
}

/// The earliest simulator receipt still owed.
pub(super) async fn sim_next_receipt_at(pool: &PgPool) -> Result<Option<Millis>> {
    let row = sqlx::query(
        "SELECT MIN(receipt_due_at) AS t FROM sim_messages
         WHERE NOT receipt_sent AND receipt_due_at IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .db()?;
    col(&row, "t")
}

/// The tenant's simulator outbox, oldest first.
pub(super) async fn sim_outbox(
    pool: &PgPool,
    tenant_id: &str,
    q: &OutboxQuery,
) -> Result<Vec<SimMessage>> {
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT id, notification_id, channel, route, to_addr, subject, title, body,
                idempotency_key, requests, outcome, received_at
         FROM sim_messages WHERE record AND tenant_id = ",
    );
    qb.push_bind(tenant_id.to_string());
    if let Some(n) = &q.notification_id {
        qb.push(" AND notification_id = ").push_bind(n.clone());
    }
    if let Some(c) = q.channel {
        qb.push(" AND channel = ").push_bind(c.as_str());
    }
    if let Some(a) = &q.after {
        qb.push(" AND id > ").push_bind(a.clone());
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(int(q.limit));
    let rows = qb.build().fetch_all(pool).await.db()?;
    rows.iter()
        .map(|r| {
            Ok(SimMessage {
                id: col(r, "id")?,
                notification_id: col(r, "notification_id")?,
                channel: col_enum(r, "channel")?,
                route: col(r, "route")?,
                to: col(r, "to_addr")?,
                subject: col(r, "subject")?,
                title: col(r, "title")?,
                body: col(r, "body")?,
                idempotency_key: col(r, "idempotency_key")?,
                requests: col_u32(r, "requests")?,
                outcome: col(r, "outcome")?,
                received_at: col(r, "received_at")?,
            })
        })
        .collect()
}
