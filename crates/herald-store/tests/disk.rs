//! Bytes on disk per finished two-step notification on SQLite (issue 12
//! item 6 asks for at most ~1 KB): a real file, N notifications whose e-mail is
//! refused and whose SMS fallback is accepted and then delivered by a
//! receipt, the file's pages before and after (WAL checkpointed).
//!
//! `cargo test -p herald-store --test disk -- --nocapture` also prints
//! the bytes per table and index (SQLite's `dbstat`).

// Only the helpers are used here, not the checks.
#[allow(unused_imports)]
mod conformance;

use conformance::*;
use herald_core::{Channel, Rendered, Status};
use herald_store::sqlite::SqliteStore;
use herald_store::{ClaimBudget, IncomingReceipt, SendOutcome, SendResult, Store};
use std::path::Path;

const N: usize = 2_000;

/// `page_count * page_size` after a checkpoint, and the bytes per table
/// and index.
fn file_bytes(db: &Path) -> (i64, Vec<(String, i64)>) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let pc: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let ps: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let fl: i64 = c
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    let mut stmt = c
        .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .unwrap();
    let by_name = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    ((pc - fl) * ps, by_name)
}

/// A notification as the service makes it for the benchmark's two-step
/// type (the same texts and sizes).
fn two_step(tenant: &str, i: usize) -> herald_store::NewNotification {
    let mut n = notification(tenant, plan(vec![email(), fallback_sms()]), T0);
    n.recipient_id = format!("c{i}");
    n.data = serde_json::json!({"time": "10:00"});
    n.request_sha256 = format!("{:064x}", i);
    n.rendered = vec![
        Some(Rendered {
            subject: Some("Your appointment at 10:00".into()),
            title: None,
            body: "Hello Ana, see you at 10:00.".into(),
        }),
        Some(Rendered {
            subject: None,
            title: None,
            body: "Appointment at 10:00".into(),
        }),
    ];
    n
}

/// Claims everything due and answers each claim with `answer`.
async fn send_all(
    store: &SqliteStore,
    at: i64,
    answer: impl Fn(&str) -> SendOutcome,
) -> Vec<String> {
    let mut sent = Vec::new();
    loop {
        let claimed = store
            .claim_attempts(at, 500, 30_000, &ClaimBudget::unbounded())
            .await
            .unwrap();
        if claimed.is_empty() {
            return sent;
        }
        let results = claimed
            .iter()
            .map(|c| {
                sent.push(c.id.clone());
                SendResult {
                    attempt_id: c.id.clone(),
                    at: at + 1,
                    outcome: answer(&c.id),
                }
            })
            .collect();
        store.record_send_results(results).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_two_step_notification_stays_compact() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("herald.db");
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let tenant = new_tenant(&store).await;
    let (before, _) = file_bytes(&db);
    let mut ids = Vec::with_capacity(N);
    for i in 0..N {
        ids.push(accept(&store, two_step(&tenant, i)).await);
    }
    let refused = send_all(&store, T0, |_| SendOutcome::Refused {
        error: "mailbox unavailable".into(),
        unreachable: false,
    })
    .await;
    assert_eq!(refused.len(), N);
    let sms = send_all(&store, T0 + 10, |id| accepted(&format!("SM{id}"))).await;
    assert_eq!(sms.len(), N);
    for id in &sms {
        let r = IncomingReceipt {
            hook_id: hook(&tenant, Channel::Sms),
            provider_message_id: Some(format!("SM{id}")),
            idempotency_key: None,
            delivered: true,
            error: None,
            at: T0 + 100,
        };
        store.record_receipt(r).await.unwrap();
    }
    let rec = get(&store, &tenant, &ids[N - 1]).await;
    assert_eq!(rec.status, Status::Delivered);
    assert_eq!(rec.attempts.len(), 2);
    assert_eq!(rec.attempts[1].receipts.len(), 1);
    store.close().await;
    let (after, by_name) = file_bytes(&db);
    if let Ok(keep) = std::env::var("HERALD_DISK_KEEP") {
        std::fs::copy(&db, keep).unwrap();
    }
    let per = (after - before) as f64 / N as f64;
    println!("| table or index | bytes per notification |\n|---|---|");
    for (name, bytes) in by_name {
        println!("| {name} | {:.0} |", bytes as f64 / N as f64);
    }
    println!("bytes per finished two-step notification: {per:.0} ({before} -> {after} B for {N})");
    // Issue 12 asks for about 1 KB; this guards what the compact rows of
    // migration 0010 reach (about 900 B here, 2,626 B before them).
    assert!(per <= 1_000.0, "{per:.0} B per notification");
}
