//! The SQLite file under a steady load with retention: new files use
//! incremental auto-vacuum, and once the retention is reached the file
//! stops growing (freed pages are reused, and given back after a burst).
//!
//! The test runs a small load; the same load made bigger is a benchmark:
//! `cargo test --release -p herald-store --test retention_disk -- --ignored --nocapture`
//! prints the file's size round by round.

// Only the helpers are used here, not the checks.
#[allow(unused_imports)]
mod conformance;

use conformance::*;
use herald_store::sqlite::SqliteStore;
use herald_store::{ClaimBudget, PruneLimits, Pruned, SendResult, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const HOUR: i64 = 3_600_000;

/// Size of the database and its WAL, in bytes.
fn on_disk(db: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    len(db) + len(&wal)
}

/// (page_count, freelist_count) as a reader sees them.
fn pages(db: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let pc = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let fl = c
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    (pc, fl)
}

/// One round of the load at `at`: `n` triggers (e-mail, then a fallback
/// SMS never needed), each sent and accepted, then retention until done.
async fn round(
    store: &Arc<SqliteStore>,
    tenant: &str,
    at: i64,
    n: usize,
    limits: PruneLimits,
) -> Pruned {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (store, tenant) = (store.clone(), tenant.to_string());
        tasks.spawn(async move {
            let mut t = notification(&tenant, plan(vec![email(), fallback_sms()]), at);
            t.idempotency_key = Some(format!("{at}-{i}"));
            store.accept_notification(t).await.unwrap();
        });
    }
    while tasks.join_next().await.is_some() {}
    loop {
        let claimed = store
            .claim_attempts(at, 1_000, 30_000, &ClaimBudget::unbounded())
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        let results = claimed
            .iter()
            .map(|c| SendResult {
                attempt_id: c.id.clone(),
                at: at + 1,
                outcome: accepted(&format!("pm-{}", c.id)),
            })
            .collect();
        store.record_send_results(results).await.unwrap();
    }
    let mut total = Pruned::default();
    loop {
        let p = store.prune(at + 2, limits).await.unwrap();
        total = total.plus(Pruned { more: false, ..p });
        if !p.more {
            return total;
        }
    }
}

/// Runs `rounds` rounds of `n` notifications an hour apart, keeping
/// `keep` hours; returns the size on disk after each round.
async fn steady(db: &Path, rounds: usize, n: usize, keep: i64, print: bool) -> Vec<u64> {
    let url = format!("sqlite://{}", db.display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    let tenant = new_tenant(&*store).await;
    let limits = PruneLimits {
        retention_ms: keep * HOUR,
        idempotency_ms: keep * HOUR,
        batch: 500,
    };
    let mut sizes = Vec::with_capacity(rounds);
    if print {
        println!("| round | notifications kept | removed this round | bytes on disk (db + wal) | pages | free pages | round s |");
        println!("|---|---|---|---|---|---|---|");
    }
    for r in 0..rounds {
        let start = Instant::now();
        let at = T0 + r as i64 * HOUR;
        let p = round(&store, &tenant, at, n, limits).await;
        let size = on_disk(db);
        sizes.push(size);
        if print {
            let (pc, fl) = pages(db);
            let kept = (r + 1).min(keep as usize) * n;
            println!(
                "| {r} | {kept} | {} | {size} | {pc} | {fl} | {:.2} |",
                p.notifications,
                start.elapsed().as_secs_f64()
            );
        }
    }
    Arc::try_unwrap(store).ok().unwrap().close().await;
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_vacuum_incrementally() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("herald.db");
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    let mode: i64 = c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, 2, "INCREMENTAL");
    drop(c);
    // A burst, then everything old enough to go: the pages it took are
    // given back to the file system, not only to the freelist.
    let store = Arc::new(store);
    let tenant = new_tenant(&*store).await;
    let keep = PruneLimits {
        retention_ms: 1_000 * HOUR,
        idempotency_ms: 1_000 * HOUR,
        batch: 500,
    };
    round(&store, &tenant, T0, 2_000, keep).await;
    let (full, _) = pages(&db);
    let gone = PruneLimits {
        retention_ms: HOUR,
        idempotency_ms: HOUR,
        batch: 500,
    };
    let p = round(&store, &tenant, T0 + 2 * HOUR, 0, gone).await;
    assert_eq!(p.notifications, 2_000);
    let (after, free) = pages(&db);
    assert!(
        after < full / 2 && free < 16,
        "{full} pages before, {after} after ({free} free)"
    );
    Arc::try_unwrap(store).ok().unwrap().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_stops_growing_under_a_steady_load() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("herald.db");
    // Keep 3 rounds; by round 5 every round removes as much as it adds.
    let sizes = steady(&db, 14, 300, 3, false).await;
    let settled = sizes[5];
    let last = *sizes.last().unwrap();
    assert!(
        last <= settled + settled / 10,
        "the file grew from {settled} to {last} bytes once the retention was reached: {sizes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run with --release -- --ignored --nocapture"]
async fn retention_plateau() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("herald.db");
    let n: usize = std::env::var("HERALD_BENCH_PER_ROUND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    println!("{n} two-step notifications per round (e-mail accepted, SMS fallback skipped), retention 4 rounds");
    steady(&db, 16, n, 4, true).await;
}
