//! Dead row versions out of the queue's indexes while the cascade runs.
//!
//! Every attempt is written four times on its way (queued, sending,
//! answered, closed) and every notification about as often; none of these
//! updates can be HOT (`status` is in the partial indexes' predicates), so
//! each leaves an index entry behind that only `VACUUM` removes. They
//! gather at the due end of `attempts_queued`, `attempts_queued_by_key` and
//! `attempts_sending`, exactly where every claim and every next-due read
//! starts, so those get slower with every cascade until the table is
//! vacuumed. Autovacuum looks once a minute at most, waits for a fifth of
//! the table to be dead, and may be off (it is on this project's CI
//! machine): a 60-second load on one node ran 792 two-step cascades/s
//! without vacuum and 1,639/s with this (BENCHMARKS.md "Dead rows in the
//! queue's indexes"). So each node checks the dead-row counts as its accepts go by
//! and vacuums a table past `PgOptions::vacuum_dead_rows` and a tenth of
//! its live rows (the tenth keeps a big table's vacuums rare, as each
//! reads all its indexes). `SKIP_LOCKED`: a table another node (or
//! autovacuum) is vacuuming is left to it.

use sqlx::PgPool;

/// The tables whose rows the cascade rewrites. Spliced into `VACUUM`
/// (names cannot be bound), so only ever these constants.
const TABLES: [&str; 3] = ["attempts", "notifications", "sim_messages"];

/// Which of `TABLES` have dead rows past `$1` and a tenth of their live
/// ones, in this node's schema.
const DUE_SQL: &str = "SELECT relname::text FROM pg_stat_user_tables
     WHERE schemaname = current_schema() AND relname = ANY($2)
       AND n_dead_tup >= GREATEST($1::bigint, n_live_tup / 10)";

/// When this node looks at the dead rows.
#[derive(Debug)]
pub(super) struct Vacuum {
    /// Dead rows a table needs at least before it is vacuumed; 0: never.
    dead_rows: u64,
    /// Accepts between two looks.
    every: u64,
}

impl Vacuum {
    /// Vacuums a table once it has `dead_rows` dead rows (and a tenth of
    /// its live ones); 0: never.
    pub(super) fn new(dead_rows: u64) -> Vacuum {
        Vacuum {
            dead_rows,
            // A cascade leaves four to eight dead versions, so looking
            // every tenth of the threshold in accepts notices it soon
            // after it is crossed without a query per accept.
            every: (dead_rows / 10).max(1),
        }
    }

    /// At the `n`th accept: the threshold to look with, when it is time
    /// to look.
    pub(super) fn is_look(&self, n: u64) -> Option<u64> {
        (self.dead_rows > 0 && n.is_multiple_of(self.every)).then_some(self.dead_rows)
    }
}

/// Vacuums the tables past their threshold; how many it vacuumed.
pub(super) async fn sweep(pool: PgPool, dead_rows: u64) -> Result<u64, sqlx::Error> {
    let due: Vec<String> = sqlx::query_scalar(DUE_SQL)
        .bind(i64::try_from(dead_rows).unwrap_or(i64::MAX))
        .bind(TABLES.as_slice())
        .fetch_all(&pool)
        .await?;
    let mut done = 0;
    for table in TABLES.iter().filter(|t| due.iter().any(|d| d == *t)) {
        // VACUUM cannot run inside a transaction block, so the simple
        // protocol, one statement.
        sqlx::raw_sql(&format!("VACUUM (SKIP_LOCKED) {table}"))
            .execute(&pool)
            .await?;
        tracing::debug!("vacuumed {table}");
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_every_tenth_of_the_threshold() {
        let v = Vacuum::new(40);
        let looks: Vec<u64> = (1..=20).filter(|&n| v.is_look(n).is_some()).collect();
        assert_eq!(looks, vec![4, 8, 12, 16, 20]);
        assert_eq!(v.is_look(4), Some(40));
        assert!(!(1..100).any(|n| Vacuum::new(0).is_look(n).is_some()));
        let small = Vacuum::new(5);
        assert!(
            small.is_look(1).is_some(),
            "a threshold under ten looks at every accept"
        );
    }
}
