//! Runs the storage conformance suite (`conformance/`) against PostgreSQL
//! at `HERALD_TEST_DATABASE_URL`, each test in a fresh schema of its own
//! (`herald_test_<random>`, dropped at the end, also when the test fails),
//! plus the checks with several nodes (separate pools on one schema).
//!
//! Without `HERALD_TEST_DATABASE_URL` every test says `SKIPPED` on stderr
//! and passes, except under `CI=true`, where a skipped database test is a
//! failure.

mod conformance;

use conformance::*;
use herald_store::postgres::{PgOptions, PgStore};
use herald_store::{SimStore, Store, StoreError};
use std::future::Future;
use std::sync::Arc;

/// The test database's URL, or `None` (after saying so) to skip.
fn database_url() -> Option<String> {
    match std::env::var("HERALD_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "HERALD_TEST_DATABASE_URL is not set and CI=true: the PostgreSQL tests must run"
            );
            // Straight to the stream: the test harness captures `eprintln!`
            // of passing tests, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: HERALD_TEST_DATABASE_URL is not set"
            );
            None
        }
    }
}

/// A schema name no other run uses.
fn fresh_schema() -> String {
    format!("herald_test_{}", uuid::Uuid::now_v7().simple())
}

/// Drops a test's schema and everything in it.
async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to drop the test schema");
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .expect("drop the test schema");
    let _ = conn.close().await;
}

/// Runs `test` on `nodes` stores (separate pools) on one fresh schema;
/// drops the schema afterwards, whether the test passed or panicked.
async fn on_nodes<F, Fut>(nodes: usize, test: F)
where
    F: FnOnce(Vec<Arc<PgStore>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    let mut stores = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        let opts = PgOptions {
            schema: Some(schema.clone()),
            max_connections: 8,
            ..PgOptions::default()
        };
        stores.push(Arc::new(PgStore::open_with(&url, &opts).await.unwrap()));
    }
    // On its own task, so a panic comes back here as an error and the
    // schema is dropped before the test fails with it.
    let outcome = tokio::spawn(test(stores.clone())).await;
    for s in &stores {
        s.close().await;
    }
    drop_schema(&url, &schema).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on one store on a fresh schema.
async fn on_one<F, Fut>(test: F)
where
    F: FnOnce(Arc<PgStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_nodes(1, |mut v| test(v.remove(0))).await;
}

macro_rules! pg_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                super::on_one(|s| async move { super::$name(&*s).await }).await;
            }
        )*
    };
}

mod pg {
    crate::conformance::every_check!(pg_tests);
}

fn as_nodes(v: &[Arc<PgStore>]) -> Vec<Arc<dyn Store>> {
    v.iter().map(|s| s.clone() as Arc<dyn Store>).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_concurrent_accepts() {
    on_one(|s| async move { check_concurrent_accepts(s).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_answers_in_bulk() {
    on_one(|s| async move { check_answers_in_bulk(s).await }).await;
}

#[tokio::test]
async fn pg_sim_prune() {
    on_one(|s| async move { check_sim_prune(&*s, &*s).await }).await;
}

#[tokio::test]
async fn pg_sim_send() {
    on_one(|s| async move { check_sim_send(&*s, &*s).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_sim_sends_at_once() {
    on_one(|s| async move { check_sim_sends_at_once(s.clone(), s).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_prune_on_three_nodes() {
    on_nodes(3, |v| async move {
        check_prune_on_many_nodes(as_nodes(&v)).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_same_key_on_three_nodes() {
    on_nodes(3, |v| async move {
        check_same_key_on_many_nodes(as_nodes(&v)).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_claimers_on_three_nodes_never_share() {
    on_nodes(3, |v| async move {
        check_claimers_never_share(as_nodes(&v)).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_answer_and_receipt_on_two_nodes() {
    on_nodes(2, |v| async move {
        check_answer_and_receipt_on_two_nodes(as_nodes(&v)).await
    })
    .await;
}

/// The simulator's outbox is shared: the same key sent through two nodes
/// is one message, counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_sim_outbox_dedupes_across_nodes() {
    on_nodes(2, |v| async move {
        let sims: Vec<Arc<dyn SimStore>> =
            v.iter().map(|s| s.clone() as Arc<dyn SimStore>).collect();
        check_sim_outbox_across_nodes(v[0].clone(), sims).await
    })
    .await;
}

/// A schema of its own is made on open and is where the tables are.
#[tokio::test]
async fn pg_open_in_schema_and_reopen() {
    on_nodes(1, |v| async move {
        let store = &v[0];
        let tenant = new_tenant(&**store).await;
        store.set_meta("k", "v").await.unwrap();
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert!(schema.starts_with("herald_test_"), "{schema}");
        // Migrations are idempotent: running them again changes nothing.
        store.migrate().await.unwrap();
        assert!(store
            .tenant_by_key(&format!("sha-{tenant}"))
            .await
            .unwrap()
            .is_some());
    })
    .await;
}

/// Bad URLs and unreachable servers are errors that never show a password.
#[tokio::test]
async fn pg_errors_hide_the_password() {
    match herald_store::open("postgres://herald:s3cret@127.0.0.1:1/herald").await {
        Err(StoreError::Unavailable(msg)) => assert!(!msg.contains("s3cret"), "{msg}"),
        Err(other) => panic!("a refused connection is Unavailable, got {other}"),
        Ok(_) => panic!("nothing listens on port 1"),
    }
    for bad in [
        "postgres://herald:s3cret@h:notaport/db",
        "mysql://herald:s3cret@h/db",
    ] {
        match herald_store::open(bad).await {
            Err(e) => assert!(!e.to_string().contains("s3cret"), "{e}"),
            Ok(_) => panic!("{bad} opened"),
        }
    }
    let opts = PgOptions {
        schema: Some("Robert'); DROP TABLE x; --".into()),
        ..PgOptions::default()
    };
    assert!(matches!(
        PgStore::open_with("postgres://u@127.0.0.1:1/db", &opts).await,
        Err(StoreError::BadUrl(_))
    ));
}

/// A notification accepted on one node wakes the dispatcher watching on
/// another at once (`LISTEN/NOTIFY`), not after its sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_accept_on_one_node_wakes_another() {
    on_nodes(2, |v| async move {
        let wake = Arc::new(tokio::sync::Notify::new());
        v[1].watch_wake(wake.clone()).await.unwrap();
        let tenant = new_tenant(&*v[0]).await;
        // Give the listener its connection; drop any wake it sent itself.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let quiet =
            tokio::time::timeout(std::time::Duration::from_millis(300), wake.notified()).await;
        assert!(quiet.is_err(), "woken with nothing accepted");
        accept(&*v[0], notification(&tenant, plan(vec![email()]), T0)).await;
        tokio::time::timeout(std::time::Duration::from_secs(5), wake.notified())
            .await
            .expect("the other node is woken");
    })
    .await;
}

/// A node started without migrating refuses a schema behind its build,
/// saying what to run; after `migrate` it opens. It refuses one ahead of
/// its build too (a later release's migration).
#[tokio::test]
async fn pg_no_migrate_needs_a_migrated_schema() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    let no_migrate = PgOptions {
        schema: Some(schema.clone()),
        migrate: false,
        max_connections: 2,
        ..PgOptions::default()
    };
    let refused = PgStore::open_with(&url, &no_migrate).await;
    let migrated = PgStore::open_in_schema(&url, &schema).await;
    let reopened = PgStore::open_with(&url, &no_migrate).await;
    // A later release's migration, which this build does not know.
    let newer = match &migrated {
        Ok(s) => {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum,
                     execution_time) VALUES (999999, 'from a later release', true, '\\x00', 0)",
            )
            .execute(s.pool())
            .await
            .unwrap();
            Some(PgStore::open_with(&url, &no_migrate).await)
        }
        Err(_) => None,
    };
    drop_schema(&url, &schema).await;
    match refused {
        Err(StoreError::Migrate(msg)) => assert!(msg.contains("herald migrate"), "{msg}"),
        Err(e) => panic!("expected a migration error, got {e}"),
        Ok(_) => panic!("an empty schema opened without migrations"),
    }
    migrated.unwrap();
    reopened.unwrap();
    match newer.expect("migrated") {
        Err(StoreError::Migrate(msg)) => assert!(msg.contains("999999"), "{msg}"),
        Err(e) => panic!("expected a migration error, got {e}"),
        Ok(_) => panic!("a schema newer than the build opened"),
    }
}

/// Every connection of the pool plans for short statements (no JIT, no
/// parallel workers) and still works in its own schema.
#[tokio::test]
async fn pg_sessions_plan_for_short_statements() {
    on_one(|s| async move {
        let pool = s.pool();
        for (setting, want) in [("jit", "off"), ("max_parallel_workers_per_gather", "0")] {
            let got: String = sqlx::query_scalar(&format!("SHOW {setting}"))
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(got, want, "{setting}");
        }
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(schema.starts_with("herald_test_"), "{schema}");
    })
    .await;
}

/// A node analyzes the cascade's tables itself once its accepts reach
/// `analyze_after` (and again at each doubling), so plans made for empty
/// tables do not outlive the first thousand rows; autovacuum would wait
/// for its next round.
#[tokio::test]
async fn pg_growing_tables_get_analyzed() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    let opts = PgOptions {
        schema: Some(schema.clone()),
        max_connections: 4,
        analyze_after: 20,
        ..PgOptions::default()
    };
    let s = PgStore::open_with(&url, &opts).await.unwrap();
    let analyzed = || upkeep_count(&s, "analyze_count");
    let tenant = new_tenant(&s).await;
    for i in 0..19 {
        accept(&s, notification(&tenant, plan(vec![email()]), T0 + i)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = analyzed().await;
    for i in 19..25 {
        accept(&s, notification(&tenant, plan(vec![email()]), T0 + i)).await;
    }
    let counted = || counter(&s, "herald_store_pg_analyze_total");
    let (mut after, mut runs) = (0, None);
    for _ in 0..50 {
        (after, runs) = (analyzed().await, counted());
        if after > 0 && runs == Some(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    s.close().await;
    drop_schema(&url, &schema).await;
    assert_eq!(before, 0, "analyzed before the threshold");
    assert!(after >= 1, "not analyzed after the threshold");
    assert_eq!(runs, Some(1));
}

/// A node vacuums the tables the cascade rewrites once their dead rows
/// pass `vacuum_dead_rows` (and a tenth of the live ones): the entries old
/// row versions leave in the queue's indexes slow every claim until then,
/// and autovacuum may be late or off.
#[tokio::test]
async fn pg_rewritten_tables_get_vacuumed() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    let opts = PgOptions {
        schema: Some(schema.clone()),
        max_connections: 4,
        analyze_after: 0,
        vacuum_dead_rows: 40,
        ..PgOptions::default()
    };
    let s = PgStore::open_with(&url, &opts).await.unwrap();
    let vacuums = || upkeep_count(&s, "vacuum_count");
    let counted = || counter(&s, "herald_store_pg_vacuum_total");
    let tenant = new_tenant(&s).await;
    let budget = herald_store::ClaimBudget::unbounded();
    // Inserts leave no dead rows: looks at every 4th accept find nothing.
    for i in 0..30 {
        accept(&s, notification(&tenant, plan(vec![email()]), T0 + i)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = (vacuums().await, counted());
    // Two claims (the second after the first's lease lapsed) rewrite each
    // attempt twice: 60 dead versions.
    for now in [T0 + 100, T0 + 100 + 31_000] {
        let claimed = s.claim_attempts(now, 100, 30_000, &budget).await.unwrap();
        assert_eq!(claimed.len(), 30);
    }
    // Dead-row counts reach the statistics within a second or so of a
    // session's commits; accepts go on, and each 4th looks again.
    let (mut after, mut runs) = (0, None);
    for i in 0..100 {
        accept(&s, notification(&tenant, plan(vec![email()]), T0 + 40 + i)).await;
        (after, runs) = (vacuums().await, counted());
        if after > 0 && runs.is_some_and(|n| n >= 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    s.close().await;
    drop_schema(&url, &schema).await;
    assert_eq!(before, (0, Some(0)), "vacuumed with no dead rows");
    assert!(after >= 1, "attempts not vacuumed past the threshold");
    assert!(runs.is_some_and(|n| n >= 1), "counter: {runs:?}");
}

/// How often `attempts` was analyzed or vacuumed by hand (`column` of
/// `pg_stat_user_tables`: `analyze_count`, `vacuum_count`).
async fn upkeep_count(s: &PgStore, column: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT COALESCE(SUM({column}), 0)::bigint FROM pg_stat_user_tables
         WHERE schemaname = current_schema() AND relname = 'attempts'"
    ))
    .fetch_one(s.pool())
    .await
    .unwrap()
}

/// A store counter's value, by name.
fn counter(s: &PgStore, name: &str) -> Option<u64> {
    s.counters().into_iter().find(|c| c.0 == name).map(|c| c.2)
}

/// A schema made before migrations 0012 and 0013 (plans inside each
/// notification, retention by `updated_at`) keeps its notifications: their
/// plans move to `plans`, one row per distinct plan, and finished ones get
/// their finish time for retention.
#[tokio::test]
async fn pg_upgrade_moves_plans_and_finish_times() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema();
    herald_store::postgres::create_schema(&url, &schema)
        .await
        .unwrap();
    let outcome = tokio::spawn(upgrade_from_0011(url.clone(), schema.clone())).await;
    drop_schema(&url, &schema).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn upgrade_from_0011(url: String, schema: String) {
    use std::str::FromStr;
    let opts = sqlx::postgres::PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let conn = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    let mut old = sqlx::migrate!("./migrations-pg");
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version <= 11)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    old.run(&conn).await.unwrap();
    sqlx::query(
        "INSERT INTO tenants (id, name, api_key_sha256, created_at) VALUES ('t1', 'T', 'k', 0)",
    )
    .execute(&conn)
    .await
    .unwrap();
    let shape = plan(vec![email(), fallback_sms()]);
    let n = notification("t1", shape.clone(), 1_000);
    for (id, status, updated_at) in [
        ("n-done", "delivered", 5_000_i64),
        ("n-open", "pending", 6_000),
    ] {
        sqlx::query(
            "INSERT INTO notifications (id, tenant_id, type_key, audience, recipient_id, data,
                 request_sha256, status, plan, rendered, verdicts, created_at, updated_at)
             VALUES ($1, 't1', 'appointment_reminder', 'client', 'client-1', '{}', 'sha', $2,
                 $3, $4, '[]', 1000, $5)",
        )
        .bind(id)
        .bind(status)
        .bind(serde_json::to_string(&shape).unwrap())
        .bind(serde_json::to_string(&n.rendered).unwrap())
        .bind(updated_at)
        .execute(&conn)
        .await
        .unwrap();
    }
    conn.close().await;

    let opts = PgOptions {
        schema: Some(schema.clone()),
        max_connections: 2,
        ..PgOptions::default()
    };
    let store = PgStore::open_with(&url, &opts).await.unwrap();
    for id in ["n-done", "n-open"] {
        assert_eq!(get(&store, "t1", id).await.plan, shape, "{id}");
    }
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(plans, 1, "one row per distinct plan");
    let finished: Vec<(String, Option<i64>)> =
        sqlx::query_as("SELECT id, finished_at FROM notifications ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        finished,
        vec![("n-done".into(), Some(5_000)), ("n-open".into(), None)]
    );
    // New notifications store the plan's shape once (migration 0015):
    // the old row is the whole plan, so the shape is a second row, which
    // the next recipient's notification shares.
    let first = accept(&store, notification("t1", shape.clone(), 7_000)).await;
    let mut other = shape.clone();
    other.channels[0].reach = herald_core::Reach::Addresses {
        to: vec!["bo@example.com".into()],
    };
    let second = accept(&store, notification("t1", other.clone(), 7_001)).await;
    let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(plans, 2);
    assert_eq!(get(&store, "t1", &first).await.plan, shape);
    assert_eq!(get(&store, "t1", &second).await.plan, other);
    for id in ["n-done", "n-open"] {
        assert_eq!(get(&store, "t1", id).await.plan, shape, "{id} after 0015");
    }
    store.close().await;
}

/// A plan row is a plan's shape, shared by every notification of a type
/// and configuration; the addresses stay on each notification. With them
/// inside, a platform's plans would grow a row per recipient and outgrow
/// each node's cache of parsed plans.
#[tokio::test]
async fn pg_plans_are_stored_once_per_shape() {
    on_one(|s| async move {
        let tenant = new_tenant(&*s).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut p = plan(vec![email(), fallback_sms()]);
            p.channels[0].reach = herald_core::Reach::Addresses {
                to: vec![format!("c{i}@example.com")],
            };
            if i == 4 {
                p.channels[1].reach = herald_core::Reach::Unreachable {
                    reason: "no phone on file".into(),
                };
            }
            ids.push((
                accept(&*s, notification(&tenant, p.clone(), T0 + i)).await,
                p,
            ));
        }
        let plans: i64 = sqlx::query_scalar("SELECT count(*) FROM plans")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_eq!(plans, 1, "five recipients, one shape");
        for (id, p) in &ids {
            assert_eq!(&get(&*s, &tenant, id).await.plan, p, "{id}");
        }
        // Their cascades read the same plans back: the e-mail of each goes
        // to its own address.
        let claimed = s
            .claim_attempts(T0 + 10, 10, 60_000, &herald_store::ClaimBudget::unbounded())
            .await
            .unwrap();
        let mut to: Vec<String> = claimed.iter().map(|c| c.to.clone()).collect();
        to.sort();
        assert_eq!(
            to,
            (0..5)
                .map(|i| format!("c{i}@example.com"))
                .collect::<Vec<_>>()
        );
    })
    .await;
}

/// Lookups that arrive together go in one statement; each still gets its
/// own recipient, or none (another kind, another tenant, unknown id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_recipient_lookups_at_once() {
    on_one(|store| async move {
        let a = new_tenant(&*store).await;
        let b = new_tenant(&*store).await;
        for i in 0..20 {
            let who = herald_core::Recipient {
                email: Some(format!("c{i}@example.com")),
                ..Default::default()
            };
            store
                .put_recipient(&a, herald_core::Audience::Client, &format!("c{i}"), &who)
                .await
                .unwrap();
        }
        let mut asks = Vec::new();
        for i in 0..40 {
            let (store, tenant) = (
                store.clone(),
                if i % 4 == 3 { b.clone() } else { a.clone() },
            );
            let kind = if i % 5 == 4 {
                herald_core::Audience::Staff
            } else {
                herald_core::Audience::Client
            };
            asks.push(tokio::spawn(async move {
                let got = store.get_recipient(&tenant, kind, &format!("c{i}")).await;
                (i, got.unwrap().and_then(|r| r.email))
            }));
        }
        for ask in asks {
            let (i, email) = ask.await.unwrap();
            let expected =
                (i < 20 && i % 4 != 3 && i % 5 != 4).then(|| format!("c{i}@example.com"));
            assert_eq!(email, expected, "lookup {i}");
        }
    })
    .await;
}

/// A receipt for a send whose answer never came (its worker was killed)
/// closes the attempt even while another transaction holds its row, as a
/// dispatcher round does when its claim locks lapsed leases that it does
/// not take: the receipt waits for that round. Were the row skipped, the
/// attempt would stay `sending`, and its lapsed lease would send the
/// message again after the notification had its outcome. A receipt for
/// an attempt whose lease still runs does not wait: its holder is the
/// round recording the attempt's own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_receipt_closes_an_attempt_another_round_holds() {
    on_nodes(2, |v| async move {
        use herald_core::{Channel, Status};
        use herald_store::{AttemptStatus, ClaimBudget, IncomingReceipt, ReceiptMatch};
        use std::time::Duration;
        let tenant = new_tenant(&*v[0]).await;
        let sms = receipt_sms();
        let lapsed = accept(&*v[0], notification(&tenant, plan(vec![sms.clone()]), T0)).await;
        let running = accept(&*v[0], notification(&tenant, plan(vec![sms]), T0)).await;
        let lease = 30_000;
        let claimed = v[0]
            .claim_attempts(T0 + 1_000, 10, lease, &ClaimBudget::unbounded())
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2);
        let of = |n: &str| {
            claimed
                .iter()
                .find(|c| c.notification_id == n)
                .cloned()
                .expect("claimed")
        };
        let (dead, live) = (of(&lapsed), of(&running));
        let after_lease = T0 + 1_000 + lease + 1;
        let receipt = |key: &str, at: i64| IncomingReceipt {
            hook_id: hook(&tenant, Channel::Sms),
            provider_message_id: None,
            idempotency_key: Some(key.to_string()),
            delivered: true,
            error: None,
            at,
        };

        // Another node's round holds both rows until we let them go.
        let mut round = v[0].pool().begin().await.unwrap();
        sqlx::query("SELECT id FROM attempts WHERE id = ANY($1) FOR NO KEY UPDATE")
            .bind(vec![dead.id.clone(), live.id.clone()])
            .execute(&mut *round)
            .await
            .unwrap();

        // The live attempt's receipt does not wait for the round.
        let m = tokio::time::timeout(
            Duration::from_secs(20),
            v[1].record_receipt(receipt(&live.idempotency_key, T0 + 2_000)),
        )
        .await
        .expect("a receipt for a running lease waited for the round that holds it")
        .unwrap();
        assert_eq!(m, ReceiptMatch::Recorded { late: false });

        // The lapsed one's waits, and closes the attempt once the round ends.
        let receiving = v[1].clone();
        let r = receipt(&dead.idempotency_key, after_lease);
        let dead_receipt = tokio::spawn(async move { receiving.record_receipt(r).await.unwrap() });
        tokio::time::sleep(Duration::from_millis(300)).await;
        round.commit().await.unwrap();
        assert_eq!(
            dead_receipt.await.unwrap(),
            ReceiptMatch::Recorded { late: false }
        );
        let rec = get(&*v[1], &tenant, &lapsed).await;
        assert_eq!(rec.status, Status::Delivered, "{rec:?}");
        assert_eq!(rec.attempts[0].status, AttemptStatus::Accepted, "{rec:?}");

        // The live attempt's sender records its answer; past every lease,
        // nothing is sent again.
        answer(&*v[0], &live.id, T0 + 2_500, accepted("pm-live")).await;
        let rec = get(&*v[1], &tenant, &running).await;
        assert_eq!(rec.status, Status::Delivered, "{rec:?}");
        assert_eq!(rec.attempts[0].status, AttemptStatus::Accepted, "{rec:?}");
        let again = v[1]
            .claim_attempts(after_lease + lease, 10, lease, &ClaimBudget::unbounded())
            .await
            .unwrap();
        assert!(again.is_empty(), "sent again after its receipt: {again:?}");
    })
    .await;
}
