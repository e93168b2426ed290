//! The single writer and its group commit. Every mutating call becomes a
//! `Command` on a channel; one task owning one connection takes the first
//! command, drains whatever else is queued (up to `MAX_BATCH`), runs them
//! all in one `BEGIN IMMEDIATE … COMMIT`, and answers every caller only
//! after the commit is durable. Nothing but SQL happens while the
//! transaction is open.
//!
//! Inside the transaction each command runs in a savepoint of its own, so
//! a failing command is rolled back alone and gets its own error. Runs of
//! consecutive commands of one hot kind (accepts, send results, receipts,
//! simulator sends)
//! share one savepoint and run as multi-row statements with one decision
//! step per touched notification (see `flow`): every SQLite call is a
//! round trip to the connection's worker thread, and this is what makes
//! a batch cost a few of them instead of a few per command. If such a
//! group fails, its savepoint is rolled back and its commands are run
//! again one by one, each in its own savepoint, so the outcome for every
//! caller is exactly what one-by-one execution would give.
//!
//! Savepoints are opened and closed in the same round trip as the next
//! one (`RELEASE cmd; SAVEPOINT cmd`), which relies on one query string
//! running several statements (tested below).

use super::{flow, sends, sim, write};
use crate::{
    Accepted, ClaimedAttempt, IncomingReceipt, Integration, NewNotification, NotificationType,
    ReceiptMatch, Result, SendResult, SimAnswer, SimSend, StoreError, Tenant,
};
use herald_core::{Audience, Millis};
use sqlx::SqliteConnection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most commands committed in one transaction.
pub(super) const MAX_BATCH: usize = 256;
/// The most same-kind commands run together in one savepoint.
const MAX_GROUP: usize = 128;

/// A mutation, in domain terms: one per mutating `Store` method.
pub(super) enum Op {
    SetMeta {
        key: String,
        value: String,
    },
    CreateTenant {
        tenant: Tenant,
        api_key_sha256: String,
    },
    PutIntegration {
        tenant_id: Option<String>,
        integration: Integration,
    },
    DeleteIntegration {
        tenant_id: Option<String>,
        channel: herald_core::Channel,
    },
    PutType {
        tenant_id: String,
        t: NotificationType,
    },
    PutRecipient {
        tenant_id: String,
        kind: Audience,
        id: String,
        doc: herald_core::Recipient,
    },
    Accept(NewNotification),
    Claim {
        now: Millis,
        limit: usize,
        lease_ms: Millis,
        budget: crate::ClaimBudget,
    },
    SendResults(Vec<SendResult>),
    Receipt(IncomingReceipt),
    Wake {
        now: Millis,
        limit: usize,
    },
    SimSend(SimSend),
    SimMarkSent(Vec<String>),
    Recover,
    Remove(super::people::Removal),
}

/// What a mutation answers.
pub(super) enum Out {
    Unit,
    Accepted(Accepted),
    Claimed(Vec<ClaimedAttempt>),
    Receipt(ReceiptMatch),
    Count(usize),
    Recovered(u64),
    Sim(SimAnswer),
}

/// A mutation and where to send its answer.
pub(super) struct Command {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Out>>,
}

/// Counters of the writer's work.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub batches: AtomicU64,
    pub commands: AtomicU64,
}

async fn execute(conn: &mut SqliteConnection, op: Op) -> Result<Out> {
    Ok(match op {
        Op::SetMeta { key, value } => {
            write::set_meta(conn, &key, &value).await?;
            Out::Unit
        }
        Op::CreateTenant {
            tenant,
            api_key_sha256,
        } => {
            write::create_tenant(conn, &tenant, &api_key_sha256).await?;
            Out::Unit
        }
        Op::PutIntegration {
            tenant_id,
            integration,
        } => {
            write::put_integration(conn, tenant_id.as_deref(), &integration).await?;
            Out::Unit
        }
        Op::DeleteIntegration { tenant_id, channel } => {
            Out::Count(write::delete_integration(conn, tenant_id.as_deref(), channel).await?)
        }
        Op::PutType { tenant_id, t } => {
            write::put_type(conn, &tenant_id, &t).await?;
            Out::Unit
        }
        Op::PutRecipient {
            tenant_id,
            kind,
            id,
            doc,
        } => {
            write::put_recipient(conn, &tenant_id, kind, &id, &doc).await?;
            Out::Unit
        }
        Op::Claim {
            now,
            limit,
            lease_ms,
            budget,
        } => Out::Claimed(sends::claim(conn, now, limit, lease_ms, &budget).await?),
        Op::Wake { now, limit } => Out::Count(flow::wake_due(conn, now, limit).await?),
        Op::SimMarkSent(ids) => {
            sim::sim_mark_sent(conn, &ids).await?;
            Out::Unit
        }
        Op::Recover => Out::Recovered(write::recover_after_restart(conn).await?),
        Op::Remove(r) => Out::Count(super::people::remove(conn, r).await?),
        op @ (Op::Accept(_) | Op::SendResults(_) | Op::Receipt(_) | Op::SimSend(_)) => {
            let ops = [op];
            execute_group(conn, &ops)
                .await?
                .pop()
                .ok_or_else(|| StoreError::Corrupt("a command gave no answer".into()))?
        }
    })
}

/// Commands of one kind that the writer runs together, with multi-row
/// statements and one decision step per touched notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accept,
    Results,
    Receipt,
    Sim,
}

fn kind(op: &Op) -> Option<Kind> {
    match op {
        Op::Accept(_) => Some(Kind::Accept),
        Op::SendResults(_) => Some(Kind::Results),
        Op::Receipt(_) => Some(Kind::Receipt),
        Op::SimSend(_) => Some(Kind::Sim),
        _ => None,
    }
}

/// Runs commands of one kind together; one answer per command.
async fn execute_group(conn: &mut SqliteConnection, ops: &[Op]) -> Result<Vec<Out>> {
    let wrong = || StoreError::Corrupt("commands of different kinds in one group".into());
    match ops.first().and_then(kind) {
        Some(Kind::Accept) => {
            let ns = ops
                .iter()
                .map(|o| match o {
                    Op::Accept(n) => Ok(n),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>>>()?;
            let answers = flow::accept_many(conn, &ns).await?;
            Ok(answers.into_iter().map(Out::Accepted).collect())
        }
        Some(Kind::Results) => {
            let mut all = Vec::new();
            for o in ops {
                match o {
                    Op::SendResults(rs) => all.extend(rs.iter()),
                    _ => return Err(wrong()),
                }
            }
            sends::record_send_results(conn, &all).await?;
            Ok(ops.iter().map(|_| Out::Unit).collect())
        }
        Some(Kind::Receipt) => {
            let rs = ops
                .iter()
                .map(|o| match o {
                    Op::Receipt(r) => Ok(r),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>>>()?;
            let answers = sends::record_receipts(conn, &rs).await?;
            Ok(answers.into_iter().map(Out::Receipt).collect())
        }
        Some(Kind::Sim) => {
            let sends = ops
                .iter()
                .map(|o| match o {
                    Op::SimSend(s) => Ok(s),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>>>()?;
            let answers = sim::sim_send_many(conn, &sends).await?;
            Ok(answers.into_iter().map(Out::Sim).collect())
        }
        None => Err(wrong()),
    }
}

/// The error every caller of a batch gets when the batch itself failed.
fn batch_error(msg: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(format!(
        "the write batch was rolled back: {msg}"
    ))))
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}

type Done = Vec<(oneshot::Sender<Result<Out>>, Result<Out>)>;

/// Closes the current savepoint (rolling it back if its work failed) and
/// opens the next, in one round trip. An error here leaves the
/// transaction in an unknown state (SQLite may have rolled it back itself,
/// e.g. on a full disk): the batch is given up whole.
async fn next_savepoint(conn: &mut SqliteConnection, ok: bool) -> Result<(), String> {
    let sql = if ok {
        "RELEASE cmd; SAVEPOINT cmd"
    } else {
        "ROLLBACK TO cmd; RELEASE cmd; SAVEPOINT cmd"
    };
    exec(conn, sql).await.map_err(|e| e.to_string())
}

/// Runs each command in a savepoint of its own.
async fn run_each(
    conn: &mut SqliteConnection,
    cmds: Vec<Command>,
    done: &mut Done,
) -> Result<(), String> {
    for c in cmds {
        let res = execute(conn, c.op).await;
        let ok = res.is_ok();
        done.push((c.reply, res));
        next_savepoint(conn, ok).await?;
    }
    Ok(())
}

/// Runs a group of same-kind commands in one savepoint; if that fails,
/// rolls the group back and runs each command alone, so only the failing
/// one gets an error.
async fn run_group(
    conn: &mut SqliteConnection,
    cmds: Vec<Command>,
    done: &mut Done,
) -> Result<(), String> {
    let (ops, replies): (Vec<Op>, Vec<_>) = cmds.into_iter().map(|c| (c.op, c.reply)).unzip();
    match execute_group(conn, &ops).await {
        Ok(outs) if outs.len() == ops.len() => {
            done.extend(replies.into_iter().zip(outs.into_iter().map(Ok)));
            next_savepoint(conn, true).await
        }
        res => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "a command group failed; running its commands one by one");
            }
            next_savepoint(conn, false).await?;
            let cmds = ops
                .into_iter()
                .zip(replies)
                .map(|(op, reply)| Command { op, reply })
                .collect();
            run_each(conn, cmds, done).await
        }
    }
}

/// Runs one batch in one transaction and answers its callers after the
/// commit (or all of them with an error if the batch could not commit).
async fn run_batch(conn: &mut SqliteConnection, batch: &mut Vec<Command>) {
    let mut done: Done = Vec::with_capacity(batch.len());
    let mut rest = batch.drain(..).peekable();
    let mut state = exec(conn, "BEGIN IMMEDIATE; SAVEPOINT cmd")
        .await
        .map_err(|e| e.to_string());
    while state.is_ok() {
        let Some(c) = rest.next() else { break };
        let mut group = Vec::new();
        if let Some(k) = kind(&c.op) {
            group.push(c);
            while group.len() < MAX_GROUP {
                match rest.next_if(|n| kind(&n.op) == Some(k)) {
                    Some(n) => group.push(n),
                    None => break,
                }
            }
        } else {
            group.push(c);
        }
        state = if group.len() > 1 {
            run_group(conn, group, &mut done).await
        } else {
            run_each(conn, group, &mut done).await
        };
    }
    if state.is_ok() {
        state = exec(conn, "RELEASE cmd; COMMIT")
            .await
            .map_err(|e| e.to_string());
    }
    let unrun: Vec<Command> = rest.collect();
    match state {
        Ok(()) => {
            for (reply, res) in done {
                let _ = reply.send(res);
            }
        }
        Err(msg) => {
            tracing::error!(error = %msg, "write batch failed; rolling back");
            if let Err(e) = exec(conn, "ROLLBACK").await {
                tracing::debug!(error = %e, "rollback after a failed batch");
            }
            for (reply, res) in done {
                let _ = reply.send(res.and(Err(batch_error(&msg))));
            }
            for c in unrun {
                let _ = c.reply.send(Err(batch_error(&msg)));
            }
        }
    }
}

/// The writer task: batches until every sender is gone, then closes the
/// connection.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Command>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        run_batch(&mut conn, &mut batch).await;
        batch.clear();
    }
    if let Err(e) = sqlx::Connection::close(conn).await {
        tracing::warn!(error = %e, "closing the write connection");
    }
}

#[cfg(test)]
mod tests {
    use super::exec;
    use sqlx::{Connection, SqliteConnection};

    /// The batch relies on one query string running several statements.
    #[tokio::test]
    async fn one_round_trip_runs_every_statement() {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        exec(&mut conn, "CREATE TABLE t (x INTEGER)").await.unwrap();
        exec(&mut conn, "BEGIN IMMEDIATE; SAVEPOINT cmd")
            .await
            .unwrap();
        exec(&mut conn, "INSERT INTO t VALUES (1)").await.unwrap();
        exec(&mut conn, "RELEASE cmd; SAVEPOINT cmd").await.unwrap();
        exec(&mut conn, "INSERT INTO t VALUES (2)").await.unwrap();
        exec(&mut conn, "ROLLBACK TO cmd; RELEASE cmd; SAVEPOINT cmd")
            .await
            .unwrap();
        exec(&mut conn, "INSERT INTO t VALUES (3)").await.unwrap();
        exec(&mut conn, "RELEASE cmd; COMMIT").await.unwrap();
        // Out of the transaction: a new one can begin.
        exec(&mut conn, "BEGIN IMMEDIATE; COMMIT").await.unwrap();
        let xs: Vec<i64> = sqlx::query_scalar("SELECT x FROM t ORDER BY x")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(xs, vec![1, 3]);
    }
}
