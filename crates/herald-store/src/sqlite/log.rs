//! The log on the reader pool: a notification with its attempts and
//! receipts, and the tenant's notifications newest first.

use super::codec::{
    col, col_attempt_status, col_enum, col_json, col_u32, col_usize, col_uuid, col_uuid_opt, int,
};
use super::compact::uuid_bytes;
use super::docs;
use super::error::Db;
use crate::{
    AttemptRecord, ListQuery, NotificationRecord, NotificationSummary, ReceiptRecord, Result,
    StoreError,
};
use herald_core::Millis;
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{QueryBuilder, SqliteConnection};

const ATTEMPT_COLS: &str = concat!(
    "SELECT a.id, a.channel_idx, a.channel, a.route, a.to_addr, ",
    "a.idempotency_key",
    " AS idempotency_key, ",
    "a.provider_message_id",
    " AS provider_message_id, a.status, a.error, a.unreachable,
        a.requests, a.created_at, a.deadline, a.sent_at, a.answered_at, a.cost_micros,
        r.delivered AS r_delivered, r.at AS r_at, r.late AS r_late, r.error AS r_error
    FROM attempts a LEFT JOIN receipts r ON r.attempt_id = a.id"
);

/// Adds one row of `ATTEMPT_COLS` to `attempts`: a new attempt, or one
/// more receipt of the last one (rows come ordered by attempt, then receipt).
fn push_attempt_row(attempts: &mut Vec<AttemptRecord>, r: &SqliteRow) -> Result<()> {
    let id = super::compact::attempt_id(col(r, "id")?);
    if attempts.last().is_none_or(|a| a.id != id) {
        attempts.push(AttemptRecord {
            id,
            channel_idx: col_usize(r, "channel_idx")?,
            channel: col_enum(r, "channel")?,
            route: col(r, "route")?,
            to: col(r, "to_addr")?,
            idempotency_key: col_uuid(r, "idempotency_key")?,
            provider_message_id: col_uuid_opt(r, "provider_message_id")?,
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
    if let (Some(at), Some(a)) = (at, attempts.last_mut()) {
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

/// Every attempt of a notification, oldest first, each with its receipts
/// in arrival order (one query: attempts left-joined with receipts).
pub(super) async fn load_attempts(
    conn: &mut SqliteConnection,
    notification_id: &str,
) -> Result<Vec<AttemptRecord>> {
    let sql = format!(
        "{ATTEMPT_COLS} WHERE a.notification_no = (SELECT no FROM notifications WHERE id = ?1)
         ORDER BY a.created_at, a.id, r.at, r.delivered DESC"
    );
    let q = sqlx::query(&sql);
    let q = match uuid_bytes(notification_id) {
        Some(b) => q.bind(b),
        None => q.bind(notification_id),
    };
    let rows = q.fetch_all(conn).await.db()?;
    let mut attempts: Vec<AttemptRecord> = Vec::with_capacity(rows.len());
    for r in &rows {
        push_attempt_row(&mut attempts, r)?;
    }
    Ok(attempts)
}

/// A notification with its attempts and receipts, if the tenant owns it.
pub(super) async fn get_notification(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<NotificationRecord>> {
    let q = sqlx::query(concat!(
        "SELECT ",
        "n.id",
        " AS id, t.id AS tenant_id, type_key, audience, recipient_id, data,
                idempotency_key, status, n.created_at, updated_at, p.doc AS plan, reach,
                rendered, verdicts, wake_at, schedule, booking_id, booking_starts_at,
                send_before_start_ms, deadline_from_booking
         FROM notifications n JOIN tenants t ON t.no = n.tenant_no
             JOIN plans p ON p.no = n.plan_no
         WHERE n.id = ?1 AND t.id = ?2"
    ));
    let q = match uuid_bytes(id) {
        Some(b) => q.bind(b),
        None => q.bind(id),
    };
    let row = q.bind(tenant_id).fetch_optional(&mut *conn).await.db()?;
    let Some(r) = row else { return Ok(None) };
    let attempts = load_attempts(conn, id).await?;
    Ok(Some(NotificationRecord {
        id: col_uuid(&r, "id")?,
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
            &crate::reach::shape_from(&col::<String>(&r, "plan")?)?,
            col::<Option<String>>(&r, "reach")?.as_deref(),
        )?,
        rendered: docs::rendered_from(&col::<String>(&r, "rendered")?)?,
        verdicts: docs::verdicts_from(&col::<String>(&r, "verdicts")?)?,
        wake_at: col(&r, "wake_at")?,
        attempts,
        schedule: match col::<Option<String>>(&r, "schedule")? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("column schedule: {e}")))?,
            None => Default::default(),
        },
        booking: match col::<Option<String>>(&r, "booking_id")? {
            Some(id) => Some(crate::BookingLink {
                id,
                starts_at: col(&r, "booking_starts_at")?,
                send_before_start_ms: col(&r, "send_before_start_ms")?,
                deadline_from_booking: col(&r, "deadline_from_booking")?,
            }),
            None => None,
        },
    }))
}

/// The log, newest first.
pub(super) async fn list_notifications(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    q: &ListQuery,
) -> Result<Vec<NotificationSummary>> {
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(concat!(
        "SELECT ",
        "id",
        " AS id, type_key, audience, recipient_id, status, created_at, updated_at
         FROM notifications WHERE tenant_no = (SELECT no FROM tenants WHERE id = "
    ));
    qb.push_bind(tenant_id.to_string()).push(")");
    if let Some(s) = q.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(t) = &q.type_key {
        qb.push(" AND type_key = ").push_bind(t.clone());
    }
    if let Some(b) = &q.before {
        qb.push(" AND id < ");
        match uuid_bytes(b) {
            Some(bytes) => qb.push_bind(bytes),
            None => qb.push_bind(b.clone()),
        };
    }
    if let Some(t) = q.created_from {
        qb.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = q.created_before {
        qb.push(" AND created_at < ").push_bind(t);
    }
    if let Some(p) = q.recipient_pattern() {
        qb.push(" AND recipient_id LIKE ")
            .push_bind(p)
            .push(" ESCAPE '\\'");
    }
    if let Some(c) = q.channel {
        // Through the attempts' notification_no index.
        qb.push(
            " AND EXISTS (SELECT 1 FROM attempts a \
             WHERE a.notification_no = notifications.no AND a.channel = ",
        )
        .push_bind(c.as_str())
        .push(")");
    }
    qb.push(" ORDER BY id DESC LIMIT ").push_bind(int(q.limit));
    let rows = qb.build().fetch_all(conn).await.db()?;
    rows.iter()
        .map(|r| {
            Ok(NotificationSummary {
                id: col_uuid(r, "id")?,
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
