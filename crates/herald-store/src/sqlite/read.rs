//! Queries that only read. They take a plain connection, so the same code
//! serves the reader pool (the `Store` read methods) and the writer (which
//! must see its own uncommitted batch when it runs a cascade step).

use super::codec::{
    col, col_attempt_status, col_enum, col_hex, col_json, col_u32, col_usize, col_uuid,
    col_uuid_opt, int,
};
use super::compact::uuid_bytes;
use super::docs;
use super::error::Db;
use crate::{
    AttemptRecord, Integration, ListQuery, NotificationRecord, NotificationSummary,
    NotificationType, OutboxQuery, ReceiptRecord, Result, SimMessage, SimReceiptDue, StoreError,
    Tenant,
};
use crate::{HookedIntegration, Owner};
use herald_core::{Audience, Channel, Millis};
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{QueryBuilder, SqliteConnection};

/// An operator setting.
pub(super) async fn get_meta(conn: &mut SqliteConnection, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = ?1")
        .bind(key)
        .fetch_optional(conn)
        .await
        .db()?;
    row.map(|r| col(&r, "value")).transpose()
}

/// The tenant an API key hash belongs to.
pub(super) async fn tenant_by_key(
    conn: &mut SqliteConnection,
    sha: &str,
) -> Result<Option<Tenant>> {
    let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE api_key_sha256 = ?1")
        .bind(sha)
        .fetch_optional(conn)
        .await
        .db()?;
    row.map(|r| {
        Ok(Tenant {
            id: col(&r, "id")?,
            name: col(&r, "name")?,
            created_at: col(&r, "created_at")?,
        })
    })
    .transpose()
}

fn integration(r: &SqliteRow) -> Result<Integration> {
    Ok(Integration {
        channel: col_enum(r, "channel")?,
        provider: col(r, "provider")?,
        settings: col_json(r, "settings")?,
        confirm: col_enum(r, "confirm")?,
        window_s: col_u32(r, "window_s")?,
        updated_at: col(r, "updated_at")?,
        hook_id: col::<Option<String>>(r, "hook_id")?.unwrap_or_default(),
        max_per_second: col(r, "max_per_second")?,
        price_per_segment: col(r, "price_per_segment")?,
        inherited: false,
    })
}

const INTEGRATION_COLS: &str =
    "channel, provider, settings, confirm, window_s, updated_at, hook_id, max_per_second, \
     price_per_segment";

/// The table and owner filter of an owner's integrations (`?1` is the
/// tenant id; the operator's table ignores it).
fn integrations_of(owner: Owner<'_>) -> (&'static str, &str) {
    match owner {
        Owner::Tenant(t) => ("integrations WHERE tenant_id = ?1", t),
        Owner::Operator => ("operator_integrations WHERE ?1 = ?1", ""),
    }
}

/// One integration.
pub(super) async fn get_integration(
    conn: &mut SqliteConnection,
    owner: Owner<'_>,
    channel: Channel,
) -> Result<Option<Integration>> {
    let (from, tenant) = integrations_of(owner);
    let sql = format!("SELECT {INTEGRATION_COLS} FROM {from} AND channel = ?2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(channel.as_str())
        .fetch_optional(conn)
        .await
        .db()?;
    row.as_ref().map(integration).transpose()
}

/// All integrations, in channel order.
pub(super) async fn list_integrations(
    conn: &mut SqliteConnection,
    owner: Owner<'_>,
) -> Result<Vec<Integration>> {
    let (from, tenant) = integrations_of(owner);
    let sql = format!("SELECT {INTEGRATION_COLS} FROM {from}");
    let rows = sqlx::query(&sql).bind(tenant).fetch_all(conn).await.db()?;
    let mut out = rows.iter().map(integration).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|i| i.channel);
    Ok(out)
}

/// Every integration of one provider, the tenants' and the operator's.
pub(super) async fn integrations_of_provider(
    conn: &mut SqliteConnection,
    provider: &str,
) -> Result<Vec<HookedIntegration>> {
    let sql = format!(
        "SELECT tenant_id, {INTEGRATION_COLS} FROM integrations WHERE provider = ?1
         UNION ALL SELECT NULL AS tenant_id, {INTEGRATION_COLS} FROM operator_integrations
         WHERE provider = ?1"
    );
    let rows = sqlx::query(&sql)
        .bind(provider)
        .fetch_all(conn)
        .await
        .db()?;
    rows.iter()
        .map(|r| {
            Ok(HookedIntegration {
                tenant_id: col(r, "tenant_id")?,
                integration: integration(r)?,
            })
        })
        .collect()
}

/// The integration a hook id belongs to, the tenants' first.
pub(super) async fn integration_by_hook(
    conn: &mut SqliteConnection,
    hook_id: &str,
) -> Result<Option<HookedIntegration>> {
    let sql = format!(
        "SELECT tenant_id, {INTEGRATION_COLS} FROM integrations WHERE hook_id = ?1
         UNION ALL SELECT NULL AS tenant_id, {INTEGRATION_COLS} FROM operator_integrations
         WHERE hook_id = ?1 LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(hook_id)
        .fetch_optional(conn)
        .await
        .db()?;
    row.map(|r| {
        Ok(HookedIntegration {
            tenant_id: col(&r, "tenant_id")?,
            integration: integration(&r)?,
        })
    })
    .transpose()
}

fn notification_type(r: &SqliteRow) -> Result<NotificationType> {
    Ok(NotificationType {
        key: col(r, "key")?,
        config: col_json(r, "config")?,
        updated_at: col(r, "updated_at")?,
    })
}

/// One notification type.
pub(super) async fn get_type(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    key: &str,
) -> Result<Option<NotificationType>> {
    let row = sqlx::query(
        "SELECT key, config, updated_at FROM notification_types WHERE tenant_id = ?1 AND key = ?2",
    )
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(conn)
    .await
    .db()?;
    row.as_ref().map(notification_type).transpose()
}

/// All notification types, by key.
pub(super) async fn list_types(
    conn: &mut SqliteConnection,
    tenant_id: &str,
) -> Result<Vec<NotificationType>> {
    let rows = sqlx::query(
        "SELECT key, config, updated_at FROM notification_types WHERE tenant_id = ?1 ORDER BY key",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await
    .db()?;
    rows.iter().map(notification_type).collect()
}

/// A client or staff member.
pub(super) async fn get_recipient(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    kind: Audience,
    id: &str,
) -> Result<Option<herald_core::Recipient>> {
    let row =
        sqlx::query("SELECT doc FROM recipients WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3")
            .bind(tenant_id)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(conn)
            .await
            .db()?;
    row.map(|r| col_json(&r, "doc")).transpose()
}

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
        plan: docs::plan_from(
            &docs::shape_from(&col::<String>(&r, "plan")?)?,
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

/// The tenant's time zone, if set.
pub(super) async fn tenant_timezone(
    conn: &mut SqliteConnection,
    tenant_id: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT timezone FROM tenants WHERE id = ?1")
        .bind(tenant_id)
        .fetch_optional(conn)
        .await
        .db()?;
    Ok(row
        .map(|r| col::<Option<String>>(&r, "timezone"))
        .transpose()?
        .flatten())
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

/// The earliest time anything is due: a queued attempt, a lapsed lease, a
/// pending or scheduled notification's wake time (a final one has none).
pub(super) const NEXT_DUE_SQL: &str = "SELECT MIN(t) AS t FROM (
         SELECT MIN(next_try_at) AS t FROM attempts WHERE status = 'queued'
         UNION ALL SELECT MIN(lease_until) FROM attempts WHERE status = 'sending'
         UNION ALL SELECT MIN(wake_at) FROM notifications WHERE wake_at IS NOT NULL)";

/// The earliest time anything is due.
pub(super) async fn next_due_at(conn: &mut SqliteConnection) -> Result<Option<Millis>> {
    let row = sqlx::query(NEXT_DUE_SQL).fetch_one(conn).await.db()?;
    col(&row, "t")
}

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
