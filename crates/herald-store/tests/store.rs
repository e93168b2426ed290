//! Runs the storage conformance suite (`conformance/`) against SQLite, a
//! fresh database file per test, plus the checks only SQLite can make
//! (reopening the file, the writer's batching, restart recovery).

mod conformance;

use conformance::*;
use herald_core::Channel;
use herald_store::sqlite::SqliteStore;
use herald_store::{ListQuery, SendOutcome, Store, StoreError};
use std::sync::Arc;
use tempfile::TempDir;

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    (dir, store)
}

macro_rules! sqlite_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_dir, store) = fresh().await;
                super::$name(&store).await;
                store.close().await;
            }
        )*
    };
}

mod sqlite {
    crate::conformance::every_check!(sqlite_tests);
    use super::fresh;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_accepts_group_commit() {
    let (_dir, store) = fresh().await;
    let store = Arc::new(store);
    check_concurrent_accepts(store.clone()).await;
    let stats = store.writer_stats();
    assert!(stats.commands >= 202, "{stats:?}");
    assert!(
        stats.batches < stats.commands / 2,
        "batches were not grouped: {stats:?}"
    );
}

/// SQLite is one node per file: the multi-node checks run with the same
/// handle as every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_as_many_nodes() {
    let (_dir, store) = fresh().await;
    let store: Arc<dyn herald_store::Store> = Arc::new(store);
    let nodes = || vec![store.clone(), store.clone(), store.clone()];
    check_same_key_on_many_nodes(nodes()).await;
    check_claimers_never_share(nodes()).await;
    check_answer_and_receipt_on_two_nodes(nodes()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_prune_as_many_nodes() {
    let (_dir, store) = fresh().await;
    let store: Arc<dyn herald_store::Store> = Arc::new(store);
    check_prune_on_many_nodes(vec![store.clone(), store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sim_outbox_as_many_nodes() {
    let (_dir, store) = fresh().await;
    let store = Arc::new(store);
    let sim: Arc<dyn herald_store::SimStore> = store.clone();
    check_sim_outbox_across_nodes(store, vec![sim.clone(), sim]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_answers_in_bulk() {
    let (_dir, store) = fresh().await;
    check_answers_in_bulk(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sim_sends_at_once() {
    let (_dir, store) = fresh().await;
    let store = Arc::new(store);
    check_sim_sends_at_once(store.clone(), store).await;
}

#[tokio::test]
async fn sqlite_sim_prune() {
    let (_dir, store) = fresh().await;
    check_sim_prune(&store, &store).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_sim_send() {
    let (_dir, store) = fresh().await;
    check_sim_send(&store, &store).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_persists_across_reopen() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let tenant = new_tenant(&store).await;
    store.set_meta("k", "v").await.unwrap();
    let id = accept(
        &store,
        notification(&tenant, plan(vec![email(), fallback_sms()]), T0),
    )
    .await;
    let c = store
        .claim_attempts(T0, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    answer(
        &store,
        &c[0].id,
        T0 + 10,
        SendOutcome::Refused {
            error: "bounced".into(),
            unreachable: false,
        },
    )
    .await;
    let before = get(&store, &tenant, &id).await;
    store.close().await;

    // sqlite:PATH is accepted too.
    let url2 = format!("sqlite:{}", dir.path().join("herald.db").display());
    let store = SqliteStore::open(&url2).await.unwrap();
    assert_eq!(get(&store, &tenant, &id).await, before);
    assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("v"));
    assert!(store
        .tenant_by_key(&format!("sha-{tenant}"))
        .await
        .unwrap()
        .is_some());
    let c = store
        .claim_attempts(T0 + 10, 10, 30_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].channel, Channel::Sms);
    store.close().await;
}

#[tokio::test]
async fn sqlite_recover_after_restart_requeues_sending() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let tenant = new_tenant(&store).await;
    accept(&store, notification(&tenant, plan(vec![email()]), T0)).await;
    let first = store
        .claim_attempts(T0, 10, 60_000, &herald_store::ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // The process dies mid-send; a new one starts well inside the lease.
    store.close().await;
    let store = SqliteStore::open(&url).await.unwrap();
    assert_eq!(store.recover_after_restart().await.unwrap(), 1);
    assert_eq!(store.recover_after_restart().await.unwrap(), 0);
    assert_eq!(store.next_due_at().await.unwrap(), Some(T0));
    let again = store
        .claim_attempts(
            T0 + 1_000,
            10,
            60_000,
            &herald_store::ClaimBudget::unbounded(),
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].idempotency_key, first[0].idempotency_key);
    assert_eq!(again[0].requests, 2);
    store.close().await;
}

#[tokio::test]
async fn sqlite_one_node_per_file() {
    let dir = TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    let first = SqliteStore::open(&url).await.unwrap();
    first.recover_after_restart().await.unwrap();
    // A second server on the same file would take back the first one's
    // in-flight attempts: it is refused, with a sentence that says why.
    let second = SqliteStore::open(&url).await.unwrap();
    match second.recover_after_restart().await {
        Err(StoreError::Conflict(msg)) => assert!(msg.contains("already running"), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Other tools may still open the file (e.g. `herald tenants create`).
    new_tenant(&second).await;
    first.close().await;
    assert_eq!(second.recover_after_restart().await.unwrap(), 0);
    second.close().await;
}

#[tokio::test]
async fn sqlite_failing_command_does_not_spoil_its_batch() {
    let (_dir, store) = fresh().await;
    let store = Arc::new(store);
    let tenant = bare_tenant(&*store).await;
    // A notification for a tenant that does not exist breaks a foreign key;
    // the good commands sent at the same moment still commit.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        let owner = if i == 7 {
            "missing".to_string()
        } else {
            tenant.clone()
        };
        let n = notification(&owner, plan(vec![email()]), T0);
        tasks.spawn(async move { (i, store.accept_notification(n).await) });
    }
    while let Some(res) = tasks.join_next().await {
        let (i, res) = res.unwrap();
        assert_eq!(res.is_err(), i == 7, "command {i}: {res:?}");
    }
    let q = ListQuery {
        limit: 100,
        ..ListQuery::default()
    };
    assert_eq!(
        store.list_notifications(&tenant, &q).await.unwrap().len(),
        19
    );
    assert_eq!(
        store
            .claim_attempts(T0, 100, 1_000, &herald_store::ClaimBudget::unbounded())
            .await
            .unwrap()
            .len(),
        19
    );
    // The twenty accepts are queued while the writer thread is already
    // taking the first: they commit in a batch or two (with the tenant and
    // the claim, a handful in all), each accept in its own savepoint.
    let stats = store.writer_stats();
    assert_eq!(stats.commands, 22, "{stats:?}");
    assert!(stats.batches <= 5, "{stats:?}");
}

#[tokio::test]
async fn sqlite_rejects_memory_urls() {
    assert!(SqliteStore::open("sqlite::memory:").await.is_err());
    assert!(herald_store::open("mysql://x").await.is_err());
}
