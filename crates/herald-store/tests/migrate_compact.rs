//! Migration 0010 (compact rows) on a file written by the schema before
//! it: the rows, as the code of that schema wrote them, read back the same
//! through the Store API, and a pending notification still completes.

// Only the helpers are used here, not the checks.
#[allow(unused_imports)]
mod conformance;

use conformance::*;
use herald_core::{Channel, Rendered, Status};
use herald_store::sqlite::SqliteStore;
use herald_store::{ClaimBudget, IncomingReceipt, ListQuery, ReceiptMatch, Store};
use std::borrow::Cow;
use std::path::Path;

const TENANT: &str = "01a23738-b373-721d-92cf-bd0d3487da99";
const DONE: &str = "01a23738-b3b1-7719-ba68-2ff85633cc57";
const PENDING: &str = "01a23738-b3b4-7731-bbc4-1ff255ef564a";
const EMAIL_KEY: &str = "01a23738-b3b4-7731-bbc4-1ff4d4bcf6e4";
const SMS_KEY: &str = "01a23738-c316-75f1-95bb-871b14cd8cf0";
const PENDING_KEY: &str = "01a23738-c316-75f1-95bb-871b14cd8cf1";
/// A simulator's message id (a uuid, stored as bytes after 0010).
const SMS_MESSAGE: &str = "01a23738-c316-75f1-95bb-871b14cd8cf2";
const SHA: &str = "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// Applies the migrations before 0010 to a new file.
async fn old_schema(db: &Path) {
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut m = sqlx::migrate::Migrator::new(dir).await.unwrap();
    m.migrations = Cow::Owned(
        m.migrations
            .iter()
            .filter(|x| x.version < 10)
            .cloned()
            .collect(),
    );
    m.run(&pool).await.unwrap();
    pool.close().await;
}

/// Rows as the code of the previous schema wrote them: a finished
/// two-step notification (e-mail refused, SMS delivered by receipt, with
/// an idempotency key) and a pending one with a queued e-mail.
fn old_rows(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    let plan = serde_json::to_string(&plan(vec![email(), fallback_sms()])).unwrap();
    let rendered = serde_json::to_string(&vec![
        Some(Rendered {
            subject: Some("Your visit".into()),
            title: None,
            body: "text for email".into(),
        }),
        Some(Rendered {
            subject: None,
            title: None,
            body: "text for sms".into(),
        }),
    ])
    .unwrap();
    let hook_email = hook(TENANT, Channel::Email);
    // A hook id as the service makes them (random hex): stored as bytes.
    let hook_sms = SIM_HOOK.to_string();
    c.execute(
        "INSERT INTO tenants (id, name, api_key_sha256, created_at) VALUES (?1, 'Salon', 'k', ?2)",
        rusqlite::params![TENANT, T0],
    )
    .unwrap();
    for (ch, h) in [("email", &hook_email), ("sms", &hook_sms)] {
        c.execute(
            "INSERT INTO integrations (tenant_id, channel, provider, settings, confirm, window_s,
                 updated_at, hook_id)
             VALUES (?1, ?2, 'simulator', '{}', ?3, 600, ?4, ?5)",
            rusqlite::params![
                TENANT,
                ch,
                if ch == "sms" { "receipt" } else { "accepted" },
                T0,
                h
            ],
        )
        .unwrap();
    }
    let insert = "INSERT INTO notifications (id, tenant_id, type_key, audience, recipient_id,
            data, idempotency_key, request_sha256, status, plan, rendered, verdicts, wake_at,
            created_at, updated_at)
         VALUES (?1, ?2, 'appointment_reminder', 'client', 'client-1', '{\"client_name\":\"Ana\"}',
            ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    c.execute(
        insert,
        rusqlite::params![
            DONE,
            TENANT,
            "key-1",
            SHA,
            "delivered",
            plan,
            rendered,
            r#"[{"outcome":"failed","reason":"failed: rejected by the provider (mailbox unavailable)"},{"outcome":"delivered","reason":"delivered: delivery receipt"}]"#,
            None::<i64>,
            T0,
            T0 + 100
        ],
    )
    .unwrap();
    c.execute(
        insert,
        rusqlite::params![
            PENDING,
            TENANT,
            None::<String>,
            "body-sha",
            "pending",
            serde_json::to_string(&plan_email_only()).unwrap(),
            r#"[{"subject":"Your visit","body":"text for email"}]"#,
            r#"[{"outcome":"pending","reason":"sending"}]"#,
            T0 + 300_000,
            T0 + 1,
            T0 + 1
        ],
    )
    .unwrap();
    let attempt = "INSERT INTO attempts (id, notification_id, tenant_id, channel_idx, channel,
            route, to_addr, idempotency_key, provider_message_id, status, error, requests,
            created_at, deadline, sent_at, answered_at, next_try_at, subject, title, body,
            via_hook)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?12,
            ?16, NULL, ?17, ?18)";
    let rows: [OldAttempt<'_>; 3] = [
        (
            "0190-email",
            DONE,
            0,
            "email",
            "ana@example.com",
            EMAIL_KEY,
            None,
            "refused",
            Some("mailbox unavailable"),
            1,
            T0,
            Some(T0),
            Some(T0 + 1),
            Some("Your visit"),
            "text for email",
            Some(&hook_email),
        ),
        (
            "0190-sms",
            DONE,
            1,
            "sms",
            "+15550001111",
            SMS_KEY,
            Some(SMS_MESSAGE),
            "accepted",
            None,
            1,
            T0 + 10,
            Some(T0 + 10),
            Some(T0 + 11),
            None,
            "text for sms",
            Some(&hook_sms),
        ),
        (
            "0190-pending",
            PENDING,
            0,
            "email",
            "ana@example.com",
            PENDING_KEY,
            None,
            "queued",
            None,
            0,
            T0 + 1,
            None,
            None,
            Some("Your visit"),
            "text for email",
            None,
        ),
    ];
    for (id, n, idx, ch, to, key, pm, status, err, req, at, sent, answered, subject, body, via) in
        rows
    {
        c.execute(
            attempt,
            rusqlite::params![
                id,
                n,
                TENANT,
                idx,
                ch,
                to,
                key,
                pm,
                status,
                err,
                req,
                at,
                at + 600_000,
                sent,
                answered,
                subject,
                body,
                via
            ],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO receipts (attempt_id, delivered, at, late, error) VALUES ('0190-sms', 1, ?1, 0, NULL)",
        [T0 + 100],
    )
    .unwrap();
}

/// A simulator message whose receipt is still owed, as the previous
/// schema stored it.
const SIM_HOOK: &str = "5f3c9a0b1d2e4f60718293a4b5c6d7e8";
fn old_sim_row(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute(
        "INSERT INTO sim_messages (id, tenant_id, notification_id, channel, route, to_addr,
             subject, title, body, idempotency_key, requests, outcome, transient_first,
             final_kind, receipt_delivered, receipt_due_at, receipt_sent, record, received_at,
             hook_id)
         VALUES (?1, ?2, ?3, 'sms', 'sms', '+15550001111', NULL, NULL, 'text for sms', ?4, 1,
             'delivered', 0, 'accepted', 1, ?5, 0, 1, ?5, ?6)",
        rusqlite::params![SMS_MESSAGE, TENANT, DONE, SMS_KEY, T0 + 10, SIM_HOOK],
    )
    .unwrap();
}

/// An attempt row of the previous schema: id, notification, channel
/// index, channel (and route), address, key, provider id, status, error,
/// requests, created, sent, answered, subject, body, hook.
type OldAttempt<'a> = (
    &'a str,
    &'a str,
    i64,
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<&'a str>,
    &'a str,
    Option<&'a String>,
);

fn plan_email_only() -> herald_core::Plan {
    plan(vec![email()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_the_previous_schema_read_back_the_same_and_pending_ones_complete() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("herald.db");
    old_schema(&db).await;
    old_rows(&db);
    old_sim_row(&db);
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();

    let done = get(&store, TENANT, DONE).await;
    assert_eq!(done.id, DONE);
    assert_eq!(done.tenant_id, TENANT);
    assert_eq!(done.status, Status::Delivered);
    assert_eq!(done.idempotency_key.as_deref(), Some("key-1"));
    assert_eq!(done.plan, plan(vec![email(), fallback_sms()]));
    assert_eq!(done.rendered[1].as_ref().unwrap().body, "text for sms");
    assert_eq!(done.verdicts[1].reason, "delivered: delivery receipt");
    assert_eq!(done.data, serde_json::json!({"client_name": "Ana"}));
    assert_eq!((done.created_at, done.updated_at), (T0, T0 + 100));
    assert_eq!(done.attempts.len(), 2);
    let (e, s) = (&done.attempts[0], &done.attempts[1]);
    assert_eq!(
        (e.channel, e.to.as_str()),
        (Channel::Email, "ana@example.com")
    );
    assert_eq!(e.idempotency_key, EMAIL_KEY);
    assert_eq!(e.error.as_deref(), Some("mailbox unavailable"));
    assert_eq!(
        (s.channel, s.provider_message_id.as_deref()),
        (Channel::Sms, Some(SMS_MESSAGE))
    );
    assert_eq!(s.idempotency_key, SMS_KEY);
    assert_eq!(s.receipts.len(), 1);
    assert!(s.receipts[0].delivered && s.receipts[0].at == T0 + 100);
    assert!(
        e.id < s.id,
        "attempt ids keep their order: {} {}",
        e.id,
        s.id
    );

    // The key and its request digest still answer a repeat.
    let mut again = notification(TENANT, plan(vec![email()]), T0 + 2);
    again.idempotency_key = Some("key-1".into());
    again.request_sha256 = SHA.into();
    assert_eq!(
        store.accept_notification(again).await.unwrap(),
        herald_store::Accepted::Existing(DONE.into())
    );
    // The log lists both, newest first, and filters by status.
    let all = store
        .list_notifications(
            TENANT,
            &ListQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, [PENDING, DONE]);
    // Receipts for the migrated SMS still match, by its key and by the
    // provider's message id.
    for (pm, key) in [(None, Some(SMS_KEY)), (Some(SMS_MESSAGE), None)] {
        let late = IncomingReceipt {
            hook_id: SIM_HOOK.into(),
            provider_message_id: pm.map(str::to_string),
            idempotency_key: key.map(str::to_string),
            delivered: true,
            error: None,
            at: T0 + 200,
        };
        assert_eq!(
            store.record_receipt(late).await.unwrap(),
            ReceiptMatch::Duplicate,
            "{pm:?} {key:?}"
        );
    }

    // The simulator's owed receipt and its outbox read back the same.
    use herald_store::SimStore;
    let due = store.sim_due_receipts(T0 + 20, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (
            due[0].id.as_str(),
            due[0].idempotency_key.as_str(),
            due[0].hook_id.as_str()
        ),
        (SMS_MESSAGE, SMS_KEY, SIM_HOOK)
    );
    let outbox = store
        .sim_outbox(
            TENANT,
            &herald_store::OutboxQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].id.as_str(), outbox[0].body.as_str()),
        (SMS_MESSAGE, "text for sms")
    );

    // The pending one is claimed with its text and completes.
    let c = store
        .claim_attempts(T0 + 5, 10, 30_000, &ClaimBudget::unbounded())
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].notification_id, PENDING);
    assert_eq!(c[0].idempotency_key, PENDING_KEY);
    assert_eq!(c[0].content.subject.as_deref(), Some("Your visit"));
    assert_eq!(c[0].content.body, "text for email");
    answer(&store, &c[0].id, T0 + 6, accepted("pm-1")).await;
    let pending = get(&store, TENANT, PENDING).await;
    assert_eq!(pending.status, Status::Delivered);
    assert_eq!(pending.attempts[0].requests, 1);
    store.close().await;
}
