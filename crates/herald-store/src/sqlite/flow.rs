//! The cascade step, as it runs on the writer's connection inside the
//! batch transaction: accepting notifications, deciding again for touched
//! ones, and wake-ups (`sends` has claims, send answers and receipts).
//! Each operation records its facts, then `decide_many` reads the touched
//! notifications' facts back (earlier commands of the same batch included),
//! applies `herald_core::decide` through `crate::cascade`, and stores the
//! verdicts, status, wake time and new attempts (`INSERT OR IGNORE` under
//! the one-attempt-per-channel-route-address rule).
//!
//! Every call to SQLite is a round trip to the connection's worker thread,
//! which costs far more than the statement itself; so work is done with
//! multi-row statements wherever a batch allows (a few round trips per
//! batch instead of a few per notification).

use super::codec::{col, col_json, int, is_unique_violation, to_json, CHUNK};
use super::read::{self, push_in_list};
use crate::cascade::{self, NewAttempt};
use crate::{Accepted, NewNotification, Result, StoreError};
use herald_core::{Millis, Plan, Rendered};
use sqlx::sqlite::Sqlite;
use sqlx::{QueryBuilder, SqliteConnection};
use std::collections::{HashMap, HashSet};

/// The notification with this idempotency key, as an `Existing` or a
/// `Conflict` answer depending on the request hash.
async fn find_by_key(
    conn: &mut SqliteConnection,
    n: &NewNotification,
    key: &str,
) -> Result<Option<Accepted>> {
    let row = sqlx::query(
        "SELECT id, request_sha256 FROM notifications WHERE tenant_id = ?1 AND idempotency_key = ?2",
    )
    .bind(&n.tenant_id)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = col(&row, "id")?;
    let sha: String = col(&row, "request_sha256")?;
    Ok(Some(if sha == n.request_sha256 {
        Accepted::Existing(id)
    } else {
        Accepted::Conflict(id)
    }))
}

/// A notification ready to insert: its documents and its first decision.
struct Prepared<'a> {
    n: &'a NewNotification,
    data: String,
    plan: String,
    rendered: String,
    step: cascade::Step,
    attempts: Vec<NewAttempt>,
}

/// Stores notifications, each with its first decision (at `created_at`)
/// and first attempts. A taken idempotency key (also one taken earlier in
/// the same batch or list) answers `Existing` or `Conflict` instead. Any
/// error fails the whole list; the writer then retries each alone.
pub(super) async fn accept_many(
    conn: &mut SqliteConnection,
    ns: &[&NewNotification],
) -> Result<Vec<Accepted>> {
    let mut prepared = Vec::with_capacity(ns.len());
    for &n in ns {
        let step = cascade::step(&n.plan, &[], n.created_at)?;
        let attempts = cascade::new_attempts(&n.plan, &n.rendered, &step.start, n.created_at)?;
        prepared.push(Prepared {
            n,
            data: to_json(&n.data)?,
            plan: to_json(&n.plan)?,
            rendered: to_json(&n.rendered)?,
            step,
            attempts,
        });
    }
    let mut inserted: HashSet<String> = HashSet::with_capacity(ns.len());
    for chunk in prepared.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO notifications (id, tenant_id, type_key, audience, recipient_id, data,
                 idempotency_key, request_sha256, status, plan, rendered, verdicts, wake_at,
                 created_at, updated_at) ",
        );
        qb.push_values(chunk, |mut b, p| {
            b.push_bind(p.n.id.as_str())
                .push_bind(p.n.tenant_id.as_str())
                .push_bind(p.n.type_key.as_str())
                .push_bind(p.n.audience.as_str())
                .push_bind(p.n.recipient_id.as_str())
                .push_bind(p.data.as_str())
                .push_bind(p.n.idempotency_key.as_deref())
                .push_bind(p.n.request_sha256.as_str())
                .push_bind(p.step.status.as_str())
                .push_bind(p.plan.as_str())
                .push_bind(p.rendered.as_str())
                .push_bind(p.step.verdicts_json.as_str())
                .push_bind(p.step.wake_at)
                .push_bind(p.n.created_at)
                .push_bind(p.n.created_at);
        });
        qb.push(" ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id");
        let rows = match qb.build().fetch_all(&mut *conn).await {
            Ok(rows) => rows,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "a notification with this id already exists".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        for r in &rows {
            inserted.insert(col(r, "id")?);
        }
    }
    let mut answers = Vec::with_capacity(ns.len());
    let mut rows: Vec<(&str, &str, &NewAttempt)> = Vec::new();
    for p in &prepared {
        if inserted.remove(&p.n.id) {
            let (id, tenant) = (p.n.id.as_str(), p.n.tenant_id.as_str());
            rows.extend(p.attempts.iter().map(|a| (id, tenant, a)));
            answers.push(Accepted::Created(p.n.id.clone()));
            continue;
        }
        let found = match &p.n.idempotency_key {
            Some(key) => find_by_key(conn, p.n, key).await?,
            None => None,
        };
        answers.push(found.ok_or_else(|| {
            StoreError::Conflict(format!("notification {} already exists", p.n.id))
        })?);
    }
    insert_attempts(conn, &rows).await?;
    Ok(answers)
}

/// Inserts attempts `(notification id, tenant id, attempt)`, ignoring any
/// that already exist for the same channel, route and address.
pub(super) async fn insert_attempts(
    conn: &mut SqliteConnection,
    rows: &[(&str, &str, &NewAttempt)],
) -> Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT OR IGNORE INTO attempts (id, notification_id, tenant_id, channel_idx, channel,
                 route, to_addr, idempotency_key, status, requests, created_at, deadline,
                 next_try_at, subject, title, body) ",
        );
        qb.push_values(chunk, |mut b, row| {
            let (notification_id, tenant_id, a) = *row;
            b.push_bind(a.id.as_str())
                .push_bind(notification_id)
                .push_bind(tenant_id)
                .push_bind(int(a.channel_idx))
                .push_bind(a.channel.as_str())
                .push_bind(a.route.as_str())
                .push_bind(a.to.as_str())
                .push_bind(a.idempotency_key.as_str())
                .push("'queued'")
                .push("0")
                .push_bind(a.created_at)
                .push_bind(a.deadline)
                .push_bind(a.next_try_at)
                .push_bind(a.content.subject.as_deref())
                .push_bind(a.content.title.as_deref())
                .push_bind(a.content.body.as_str());
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Decides again for each notification at its time and stores the result.
/// A notification named twice is decided once, at the later time.
pub(super) async fn decide_many(
    conn: &mut SqliteConnection,
    targets: &[(String, Millis)],
) -> Result<()> {
    let mut uniq: Vec<(&str, Millis)> = Vec::with_capacity(targets.len());
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(targets.len());
    for (id, now) in targets {
        match seen.get(id.as_str()) {
            Some(&i) => uniq[i].1 = uniq[i].1.max(*now),
            None => {
                seen.insert(id, uniq.len());
                uniq.push((id, *now));
            }
        }
    }
    for chunk in uniq.chunks(CHUNK) {
        decide_chunk(conn, chunk).await?;
    }
    Ok(())
}

async fn decide_chunk(conn: &mut SqliteConnection, targets: &[(&str, Millis)]) -> Result<()> {
    let ids: Vec<&str> = targets.iter().map(|(id, _)| *id).collect();
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT id, tenant_id, plan FROM notifications WHERE id IN ");
    push_in_list(&mut qb, &ids);
    let mut plans: HashMap<String, (String, Plan)> = HashMap::with_capacity(ids.len());
    for r in qb.build().fetch_all(&mut *conn).await? {
        plans.insert(
            col(&r, "id")?,
            (col(&r, "tenant_id")?, col_json(&r, "plan")?),
        );
    }
    let mut attempts = read::load_attempts_many(conn, &ids).await?;
    let mut steps: Vec<(&str, cascade::Step, Millis)> = Vec::with_capacity(targets.len());
    for &(id, now) in targets {
        let (_, plan) = plans.get(id).ok_or_else(|| {
            StoreError::Corrupt(format!("notification {id} vanished during a cascade step"))
        })?;
        let facts = attempts.remove(id).unwrap_or_default();
        steps.push((id, cascade::step(plan, &facts, now)?, now));
    }
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("WITH v (id, verdicts, status, wake_at, now) AS (");
    qb.push_values(&steps, |mut b, (id, step, now)| {
        b.push_bind(*id)
            .push_bind(step.verdicts_json.as_str())
            .push_bind(step.status.as_str())
            .push_bind(step.wake_at)
            .push_bind(*now);
    });
    qb.push(
        ") UPDATE notifications SET verdicts = v.verdicts, status = v.status,
             wake_at = v.wake_at, updated_at = MAX(notifications.updated_at, v.now)
         FROM v WHERE notifications.id = v.id",
    );
    qb.build().execute(&mut *conn).await?;

    // The texts are read (and parsed) only for notifications that start
    // new attempts.
    let starting: Vec<&str> = steps
        .iter()
        .filter(|(_, s, _)| !s.start.is_empty())
        .map(|(id, _, _)| *id)
        .collect();
    if starting.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT id, rendered FROM notifications WHERE id IN ");
    push_in_list(&mut qb, &starting);
    let mut texts: HashMap<String, Vec<Option<Rendered>>> = HashMap::new();
    for r in qb.build().fetch_all(&mut *conn).await? {
        texts.insert(col(&r, "id")?, col_json(&r, "rendered")?);
    }
    let mut new: Vec<(&str, &str, NewAttempt)> = Vec::new();
    for (id, step, now) in &steps {
        if step.start.is_empty() {
            continue;
        }
        let (tenant, plan) = plans
            .get(*id)
            .ok_or_else(|| StoreError::Corrupt(format!("notification {id} has no plan")))?;
        let rendered = texts
            .get(*id)
            .ok_or_else(|| StoreError::Corrupt(format!("notification {id} has no texts")))?;
        for a in cascade::new_attempts(plan, rendered, &step.start, *now)? {
            new.push((id, tenant.as_str(), a));
        }
    }
    let rows: Vec<(&str, &str, &NewAttempt)> = new.iter().map(|(n, t, a)| (*n, *t, a)).collect();
    insert_attempts(conn, &rows).await
}

/// Decides again for pending notifications whose wake time has come.
pub(super) async fn wake_due(
    conn: &mut SqliteConnection,
    now: Millis,
    limit: usize,
) -> Result<usize> {
    let rows = sqlx::query(
        "SELECT id FROM notifications WHERE status = 'pending' AND wake_at <= ?1
         ORDER BY wake_at LIMIT ?2",
    )
    .bind(now)
    .bind(int(limit))
    .fetch_all(&mut *conn)
    .await?;
    let targets: Vec<(String, Millis)> = rows
        .iter()
        .map(|r| Ok((col(r, "id")?, now)))
        .collect::<Result<_>>()?;
    decide_many(conn, &targets).await?;
    Ok(targets.len())
}
