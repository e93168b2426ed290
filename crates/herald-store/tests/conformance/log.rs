//! The log's filters the store applies itself: channel, creation time and
//! recipient, so a console page never scans the log to filter it.

use super::*;
use herald_core::{Channel, Confirm, Scenario};
use herald_store::{ListQuery, Store};

async fn ids(store: &dyn Store, tenant: &str, q: ListQuery) -> Vec<String> {
    let q = ListQuery { limit: 100, ..q };
    store
        .list_notifications(tenant, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

pub async fn check_list_filters(store: &dyn Store) {
    let tenant = new_tenant(store).await;
    let sms = receipt_sms;
    let fallback_sms = || {
        channel(
            Channel::Sms,
            Scenario::Fallback,
            &["+15550001111"],
            Confirm::Receipt,
            600,
        )
    };
    let cases = [
        ("client-1", plan(vec![email()]), T0),
        ("Client-Ana_2", plan(vec![sms()]), T0 + 1_000),
        (
            "client-bob",
            plan(vec![email(), fallback_sms()]),
            T0 + 2_000,
        ),
        ("anax2", plan(vec![email()]), T0 + 3_000),
    ];
    let mut made = Vec::new();
    for (who, p, at) in cases {
        let mut n = notification(&tenant, p, at);
        n.recipient_id = who.into();
        made.push(accept(store, n).await);
    }

    // A fallback SMS not (yet) needed left no attempt: only the one that
    // went over SMS is found.
    let by_sms = ids(
        store,
        &tenant,
        ListQuery {
            channel: Some(Channel::Sms),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(by_sms, vec![made[1].clone()]);
    let by_email = ids(
        store,
        &tenant,
        ListQuery {
            channel: Some(Channel::Email),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(
        by_email,
        vec![made[3].clone(), made[2].clone(), made[0].clone()]
    );

    // Case is ignored; `_` is a character, not a wildcard.
    let ana = ids(
        store,
        &tenant,
        ListQuery {
            recipient_contains: Some("ana_".into()),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(ana, vec![made[1].clone()]);
    let pct = ids(
        store,
        &tenant,
        ListQuery {
            recipient_contains: Some("%".into()),
            ..ListQuery::default()
        },
    )
    .await;
    assert!(pct.is_empty(), "a % in the search matches only a %");

    // From is inclusive, before exclusive.
    let window = ids(
        store,
        &tenant,
        ListQuery {
            created_from: Some(T0 + 1_000),
            created_before: Some(T0 + 3_000),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(window, vec![made[2].clone(), made[1].clone()]);

    // Filters combine, with paging.
    let combined = ids(
        store,
        &tenant,
        ListQuery {
            channel: Some(Channel::Email),
            recipient_contains: Some("CLIENT".into()),
            before: Some(made[2].clone()),
            ..ListQuery::default()
        },
    )
    .await;
    assert_eq!(combined, vec![made[0].clone()]);
}
