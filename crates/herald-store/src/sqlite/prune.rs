//! Retention on SQLite, as writer jobs: each call removes one small batch
//! inside the writer's transaction (so it goes through the group commit
//! like every write and holds the file for a few milliseconds at most),
//! then gives free pages beyond a quarter of the file back to the file
//! system, at most `VACUUM_PAGES` per call (`PRAGMA incremental_vacuum`,
//! on files made with `auto_vacuum = INCREMENTAL`; on older files the
//! freed pages stay on the freelist and are reused by later writes, which
//! also stops the file from growing).

use super::error::Db;
use super::tx::WriteTx;
use crate::codec::int;
use crate::{PruneLimits, Pruned, Result, FINISHED_SQL};
use herald_core::Millis;
use rusqlite::params;

/// Free pages (4 KiB each) returned to the file system per prune call: a
/// bounded amount of work, so a prune after a big burst shrinks the file
/// over several calls instead of stalling the writer in one.
const VACUUM_PAGES: u32 = 2_048;

/// One batch of `Store::prune`.
pub(super) fn prune(tx: &mut WriteTx<'_>, now: Millis, limits: PruneLimits) -> Result<Pruned> {
    let batch = limits.batch.max(1);
    let victims: Vec<i64> = {
        let sql = format!(
            "SELECT no FROM notifications
             WHERE status IN {FINISHED_SQL} AND updated_at < ?1
             ORDER BY updated_at LIMIT ?2"
        );
        let mut stmt = tx.conn.prepare_cached(&sql).db()?;
        let rows = stmt
            .query_map(params![limits.finished_before(now), int(batch)], |r| {
                r.get(0)
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut out = Pruned {
        more: victims.len() >= batch,
        ..Pruned::default()
    };
    {
        let mut receipts = tx
            .conn
            .prepare_cached(
                "DELETE FROM receipts WHERE attempt_id IN
                     (SELECT id FROM attempts WHERE notification_no = ?1)",
            )
            .db()?;
        let mut attempts = tx
            .conn
            .prepare_cached("DELETE FROM attempts WHERE notification_no = ?1")
            .db()?;
        let mut notifications = tx
            .conn
            .prepare_cached("DELETE FROM notifications WHERE no = ?1")
            .db()?;
        for id in &victims {
            out.receipts += receipts.execute(params![id]).db()? as u64;
            out.attempts += attempts.execute(params![id]).db()? as u64;
            out.notifications += notifications.execute(params![id]).db()? as u64;
        }
    }
    let keys = tx
        .conn
        .prepare_cached(
            // The digest only told repeats of the key: it goes with it.
            "UPDATE notifications SET idempotency_key = NULL, request_sha256 = NULL
             WHERE rowid IN
                 (SELECT rowid FROM notifications
                  WHERE idempotency_key IS NOT NULL AND created_at < ?1 LIMIT ?2)",
        )
        .db()?
        .execute(params![limits.keys_before(now), int(batch)])
        .db()?;
    out.idempotency_keys = keys as u64;
    out.more |= keys >= batch;
    vacuum(tx)?;
    Ok(out)
}

/// One batch of `SimStore::sim_prune`: old messages whose receipt is not
/// still owed.
pub(super) fn sim_prune(tx: &mut WriteTx<'_>, before: Millis, limit: usize) -> Result<Pruned> {
    let limit = limit.max(1);
    let n = tx
        .conn
        .prepare_cached(
            "DELETE FROM sim_messages WHERE rowid IN
                 (SELECT rowid FROM sim_messages
                  WHERE received_at < ?1
                    AND NOT (receipt_sent = 0 AND receipt_due_at IS NOT NULL)
                  LIMIT ?2)",
        )
        .db()?
        .execute(params![before, int(limit)])
        .db()?;
    vacuum(tx)?;
    Ok(Pruned {
        sim_messages: n as u64,
        more: n >= limit,
        ..Pruned::default()
    })
}

/// Gives free pages back to the file system, a bounded number per call,
/// keeping a quarter of the file free: under a steady load the pages a
/// prune frees are the next writes' (moving them out and growing the file
/// again would only cost I/O); after a burst, the excess goes back. Does
/// nothing on a file without incremental auto-vacuum.
fn vacuum(tx: &mut WriteTx<'_>) -> Result<()> {
    let pages: i64 = tx
        .conn
        .prepare_cached("PRAGMA page_count")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    let free: i64 = tx
        .conn
        .prepare_cached("PRAGMA freelist_count")
        .db()?
        .query_row([], |r| r.get(0))
        .db()?;
    let n = excess_free_pages(pages, free);
    if n == 0 {
        return Ok(());
    }
    // The pragma frees one page per step: run it to its end.
    let mut stmt = tx
        .conn
        .prepare(&format!("PRAGMA incremental_vacuum({n})"))
        .db()?;
    let mut rows = stmt.query([]).db()?;
    while rows.next().db()?.is_some() {}
    Ok(())
}

/// How many free pages to give back so that at most a quarter of the file
/// stays free (freeing k pages takes k off both counts: `free - k =
/// (pages - k) / 4`), at most `VACUUM_PAGES`; never 0 by accident (the
/// pragma's 0 means "all").
fn excess_free_pages(pages: i64, free: i64) -> i64 {
    ((4 * free - pages) / 3).clamp(0, i64::from(VACUUM_PAGES))
}

#[cfg(test)]
mod tests {
    use super::excess_free_pages;

    #[test]
    fn a_quarter_of_the_file_stays_free() {
        assert_eq!(excess_free_pages(1_000, 0), 0);
        assert_eq!(excess_free_pages(1_000, 250), 0);
        // 1,000 pages, 700 free: give 600 back, leaving 100 of 400.
        assert_eq!(excess_free_pages(1_000, 700), 600);
        assert_eq!(excess_free_pages(1_000_000, 900_000), 2_048);
    }
}
