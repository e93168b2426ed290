//! The dispatcher's side of the writer: claiming due attempts, recording
//! providers' answers (and removing dead push tokens), and receipts. Each
//! records its facts and then runs the cascade step of `flow` for the
//! notifications it touched.

use super::codec::{add, col, col_enum, col_u32, int, to_json, CHUNK};
use super::flow::decide_many;
use super::read;
use crate::cascade;
use crate::{
    ClaimBudget, ClaimedAttempt, IncomingReceipt, ReceiptMatch, Result, SendOutcome, SendResult,
    StoreError,
};
use herald_core::{Channel, Millis, Rendered};
use sqlx::sqlite::Sqlite;
use sqlx::{QueryBuilder, SqliteConnection};
use std::collections::HashMap;

/// Claims due attempts (queued and due, or sending with a lapsed lease).
pub(super) async fn claim(
    conn: &mut SqliteConnection,
    now: Millis,
    limit: usize,
    lease_ms: Millis,
    budget: &ClaimBudget,
) -> Result<Vec<ClaimedAttempt>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let ids = claim_candidates(conn, now, limit, budget).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The hook is the integration's the worker will send through: the
    // tenant's own for the channel, else the operator's.
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("UPDATE attempts SET status = 'sending', lease_until = ");
    qb.push_bind(add(now, lease_ms))
        .push(", requests = requests + 1, sent_at = COALESCE(sent_at, ")
        .push_bind(now)
        .push(
            "), via_hook = COALESCE(
                 (SELECT i.hook_id FROM integrations i
                  WHERE i.tenant_id = attempts.tenant_id AND i.channel = attempts.channel),
                 (SELECT o.hook_id FROM operator_integrations o WHERE o.channel = attempts.channel))
             WHERE id IN (",
        );
    let mut sep = qb.separated(", ");
    for id in &ids {
        sep.push_bind(id.as_str());
    }
    qb.push(
        ") RETURNING id, notification_id, tenant_id, channel, route, to_addr, idempotency_key,
             subject, title, body, requests, created_at, deadline, via_hook",
    );
    let rows = qb.build().fetch_all(&mut *conn).await?;
    let nids: Vec<String> = rows
        .iter()
        .map(|r| col(r, "notification_id"))
        .collect::<Result<_>>()?;
    let mut distinct: Vec<&str> = nids.iter().map(String::as_str).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut owners = HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(CHUNK) {
        owners.extend(read::notification_owners(conn, chunk).await?);
    }
    let mut out = Vec::with_capacity(rows.len());
    for (r, notification_id) in rows.iter().zip(nids) {
        let (_, audience, recipient_id) =
            owners.get(&notification_id).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("attempt of unknown notification {notification_id}"))
            })?;
        out.push(ClaimedAttempt {
            id: col(r, "id")?,
            notification_id,
            tenant_id: col(r, "tenant_id")?,
            audience,
            recipient_id,
            channel: col_enum(r, "channel")?,
            route: col(r, "route")?,
            to: col(r, "to_addr")?,
            idempotency_key: col(r, "idempotency_key")?,
            content: Rendered {
                subject: col(r, "subject")?,
                title: col(r, "title")?,
                body: col(r, "body")?,
            },
            requests: col_u32(r, "requests")?,
            created_at: col(r, "created_at")?,
            deadline: col(r, "deadline")?,
            via_hook: col(r, "via_hook")?,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The ids to claim: due attempts in due order (queued and due, or sending
/// with a lapsed lease), skipping keys at their budget, and no more per key
/// than it has left. Each arm is bounded by its index order.
async fn claim_candidates(
    conn: &mut SqliteConnection,
    now: Millis,
    limit: usize,
    budget: &ClaimBudget,
) -> Result<Vec<String>> {
    // Rows of keys with some budget left may still exceed it; read a few
    // more than asked so one busy key does not leave the round short.
    let scan = limit.saturating_mul(4).min(4_096);
    let saturated: Vec<&(String, Channel)> = budget.saturated().collect();
    let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT id, tenant_id, channel FROM (");
    for (i, (status, col)) in [("queued", "next_try_at"), ("sending", "lease_until")]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            qb.push(" UNION ALL ");
        }
        qb.push(format!(
            "SELECT * FROM (SELECT id, tenant_id, channel, {col} AS due FROM attempts
             WHERE status = '{status}' AND {col} <= "
        ));
        qb.push_bind(now);
        for (tenant, channel) in &saturated {
            qb.push(" AND NOT (tenant_id = ")
                .push_bind(tenant.as_str())
                .push(" AND channel = ")
                .push_bind(channel.as_str())
                .push(")");
        }
        qb.push(format!(" ORDER BY {col} LIMIT "));
        qb.push_bind(int(scan));
        qb.push(")");
    }
    qb.push(") ORDER BY due LIMIT ");
    qb.push_bind(int(scan));
    let rows = qb.build().fetch_all(&mut *conn).await?;
    let mut taken: HashMap<(String, Channel), usize> = HashMap::new();
    let mut ids = Vec::with_capacity(limit.min(rows.len()));
    for r in &rows {
        let tenant: String = col(r, "tenant_id")?;
        let channel: Channel = col_enum(r, "channel")?;
        let left = budget.remaining(&tenant, channel);
        let n = taken.entry((tenant, channel)).or_insert(0);
        if *n < left {
            *n += 1;
            ids.push(col(r, "id")?);
            if ids.len() == limit {
                break;
            }
        }
    }
    Ok(ids)
}

/// Records providers' answers, removes dead push tokens, then decides once
/// per touched notification. Per attempt the answers count as if applied
/// in order: the first final one wins, else the last retry; answers for
/// attempts already final (or unknown) change nothing.
pub(super) async fn record_send_results(
    conn: &mut SqliteConnection,
    results: &[&SendResult],
) -> Result<()> {
    let mut chosen: Vec<&SendResult> = Vec::with_capacity(results.len());
    let mut pos: HashMap<&str, usize> = HashMap::with_capacity(results.len());
    for r in results {
        match pos.get(r.attempt_id.as_str()) {
            Some(&i) => {
                if matches!(chosen[i].outcome, SendOutcome::Retry { .. }) {
                    chosen[i] = r;
                }
            }
            None => {
                pos.insert(&r.attempt_id, chosen.len());
                chosen.push(r);
            }
        }
    }
    let mut touched: Vec<(String, Millis)> = Vec::new();
    let mut dead: Vec<(String, Channel, String)> = Vec::new();
    for chunk in chosen.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "WITH v (id, status, at, pm, error, unreachable, next_try_at, cost) AS (",
        );
        qb.push_values(chunk, |mut b, r| {
            let (status, pm, error, unreachable, next, cost) = match &r.outcome {
                SendOutcome::Accepted {
                    provider_message_id,
                    cost_micros,
                } => (
                    "accepted",
                    provider_message_id.as_deref(),
                    None,
                    false,
                    None,
                    *cost_micros,
                ),
                SendOutcome::Refused { error, unreachable } => (
                    "refused",
                    None,
                    Some(error.as_str()),
                    *unreachable,
                    None,
                    None,
                ),
                SendOutcome::Retry { error, next_try_at } => (
                    "queued",
                    None,
                    Some(error.as_str()),
                    false,
                    Some(*next_try_at),
                    None,
                ),
                SendOutcome::GaveUp { error } => {
                    ("gave_up", None, Some(error.as_str()), false, None, None)
                }
            };
            b.push_bind(r.attempt_id.as_str())
                .push_bind(status)
                .push_bind(r.at)
                .push_bind(pm)
                .push_bind(error)
                .push_bind(unreachable)
                .push_bind(next)
                .push_bind(cost);
        });
        qb.push(
            ") UPDATE attempts SET status = v.status,
                 answered_at = CASE v.status WHEN 'queued' THEN attempts.answered_at ELSE v.at END,
                 lease_until = NULL,
                 provider_message_id = COALESCE(v.pm, attempts.provider_message_id),
                 error = CASE v.status WHEN 'accepted' THEN NULL
                     ELSE COALESCE(v.error, attempts.error) END,
                 unreachable = CASE v.status WHEN 'refused' THEN v.unreachable
                     ELSE attempts.unreachable END,
                 next_try_at = COALESCE(v.next_try_at, attempts.next_try_at),
                 cost_micros = COALESCE(v.cost, attempts.cost_micros)
             FROM v WHERE attempts.id = v.id AND attempts.status IN ('queued', 'sending')
             RETURNING id, notification_id, channel, to_addr",
        );
        for row in qb.build().fetch_all(&mut *conn).await? {
            let id: String = col(&row, "id")?;
            let r = pos
                .get(id.as_str())
                .and_then(|&i| chosen.get(i))
                .ok_or_else(|| StoreError::Corrupt(format!("update of unasked attempt {id}")))?;
            let notification_id: String = col(&row, "notification_id")?;
            let channel: Channel = col_enum(&row, "channel")?;
            if channel.is_push()
                && matches!(
                    r.outcome,
                    SendOutcome::Refused {
                        unreachable: true,
                        ..
                    }
                )
            {
                dead.push((notification_id.clone(), channel, col(&row, "to_addr")?));
            }
            touched.push((notification_id, r.at));
        }
    }
    for (notification_id, app, token) in &dead {
        remove_dead_token(conn, notification_id, *app, token).await?;
    }
    decide_many(conn, &touched).await
}

/// Removes an unregistered device token from the notification's recipient.
async fn remove_dead_token(
    conn: &mut SqliteConnection,
    notification_id: &str,
    app: Channel,
    token: &str,
) -> Result<()> {
    let owners = read::notification_owners(conn, &[notification_id]).await?;
    let Some((tenant_id, kind, recipient_id)) = owners.get(notification_id) else {
        return Ok(());
    };
    let Some(mut who) = read::get_recipient(conn, tenant_id, *kind, recipient_id).await? else {
        return Ok(());
    };
    if cascade::remove_token(&mut who, app, token) {
        sqlx::query(
            "UPDATE recipients SET doc = ?4, updated_at = ?5
             WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3",
        )
        .bind(tenant_id)
        .bind(kind.as_str())
        .bind(recipient_id)
        .bind(to_json(&who)?)
        .bind(super::codec::wall_now())
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// An attempt sent through one integration (its hook), by a column.
async fn find_attempt(
    conn: &mut SqliteConnection,
    hook_id: &str,
    column: &str,
    value: &str,
) -> Result<Option<(String, String, Millis)>> {
    // `column` is one of two fixed names chosen below, never user input.
    let sql =
        format!("SELECT id, notification_id, deadline FROM attempts WHERE {column} = ?1 AND via_hook = ?2 LIMIT 1");
    let row = sqlx::query(&sql)
        .bind(value)
        .bind(hook_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok((
            col(&r, "id")?,
            col(&r, "notification_id")?,
            col(&r, "deadline")?,
        ))
    })
    .transpose()
}

/// Records receipts idempotently (matched by the provider's message id,
/// else the attempt's key), then decides once per touched notification.
pub(super) async fn record_receipts(
    conn: &mut SqliteConnection,
    receipts: &[&IncomingReceipt],
) -> Result<Vec<ReceiptMatch>> {
    let mut out = Vec::with_capacity(receipts.len());
    let mut touched: Vec<(String, Millis)> = Vec::new();
    for r in receipts {
        let mut found = None;
        if let Some(pm) = &r.provider_message_id {
            found = find_attempt(conn, &r.hook_id, "provider_message_id", pm).await?;
        }
        if found.is_none() {
            if let Some(key) = &r.idempotency_key {
                found = find_attempt(conn, &r.hook_id, "idempotency_key", key).await?;
            }
        }
        let Some((attempt_id, notification_id, deadline)) = found else {
            out.push(ReceiptMatch::Unknown);
            continue;
        };
        let late = cascade::is_late(deadline, r.at);
        let done = sqlx::query(
            "INSERT INTO receipts (attempt_id, delivered, at, late, error)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .bind(&attempt_id)
        .bind(r.delivered)
        .bind(r.at)
        .bind(late)
        .bind(&r.error)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            out.push(ReceiptMatch::Duplicate);
        } else {
            out.push(ReceiptMatch::Recorded { late });
            touched.push((notification_id, r.at));
        }
    }
    decide_many(conn, &touched).await?;
    Ok(out)
}
