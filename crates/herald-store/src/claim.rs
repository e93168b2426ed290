//! The claim's choice, pure: of the due attempts a backend scanned (in due
//! order), which it may mark `sending` now and which are overdue. A
//! backend that claims in one statement (PostgreSQL) states the same rules
//! in SQL; one that scans and then marks (SQLite) runs this between.

use crate::primitives::Candidate;
use crate::ClaimBudget;
use herald_core::{Channel, Millis};
use std::collections::HashMap;

/// How many due rows to scan for a claim of `limit`: rows of keys with
/// some budget left may still exceed it, so a few more than asked are read
/// and one busy key does not leave the round short.
pub fn scan_for(limit: usize) -> usize {
    limit.saturating_mul(4).min(4_096)
}

/// Whether a due attempt may no longer be sent at `now`: its notification's
/// deadline came, or its channel's window closed.
pub fn is_overdue(c: &Candidate, now: Millis) -> bool {
    c.not_after.is_some_and(|d| now >= d) || now >= c.window_ends
}

/// Splits scanned candidates (in due order) into the ids to claim (at most
/// `limit`, no key more than its budget leaves) and the overdue ones.
pub fn pick(
    rows: Vec<Candidate>,
    now: Millis,
    budget: &ClaimBudget,
    limit: usize,
) -> (Vec<String>, Vec<Candidate>) {
    let mut taken: HashMap<(String, Channel), usize> = HashMap::new();
    let mut ids = Vec::with_capacity(limit.min(rows.len()));
    let mut overdue = Vec::new();
    for c in rows {
        if is_overdue(&c, now) {
            overdue.push(c);
            continue;
        }
        if ids.len() == limit {
            continue;
        }
        let left = budget.remaining(&c.tenant_id, c.channel);
        let n = taken.entry((c.tenant_id, c.channel)).or_insert(0);
        if *n < left {
            *n += 1;
            ids.push(c.id);
        }
    }
    (ids, overdue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, tenant: &str, not_after: Option<Millis>, window_ends: Millis) -> Candidate {
        Candidate {
            id: id.into(),
            tenant_id: tenant.into(),
            channel: Channel::Email,
            notification_id: format!("n-{id}"),
            not_after,
            window_ends,
        }
    }

    #[test]
    fn overdue_rows_are_set_apart_and_never_claimed() {
        let rows = vec![
            cand("a", "t", Some(100), 1_000),
            cand("b", "t", None, 100),
            cand("c", "t", None, 1_000),
        ];
        let (ids, overdue) = pick(rows, 100, &ClaimBudget::unbounded(), 10);
        assert_eq!(ids, vec!["c".to_string()]);
        let late: Vec<&str> = overdue.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(late, vec!["a", "b"]);
    }

    #[test]
    fn no_key_gets_more_than_its_budget_and_the_limit_holds() {
        let mut budget = ClaimBudget {
            per_key: 2,
            in_flight: Default::default(),
        };
        budget.in_flight.insert(("t".into(), Channel::Email), 1);
        let rows = vec![
            cand("a", "t", None, 1_000),
            cand("b", "t", None, 1_000),
            cand("c", "u", None, 1_000),
            cand("d", "u", None, 1_000),
            cand("e", "u", None, 1_000),
        ];
        let (ids, _) = pick(rows.clone(), 0, &budget, 10);
        assert_eq!(ids, vec!["a", "c", "d"]);
        let (ids, _) = pick(rows, 0, &budget, 2);
        assert_eq!(ids, vec!["a", "c"]);
    }

    #[test]
    fn overdue_rows_past_the_limit_are_still_reported() {
        let rows = vec![cand("a", "t", None, 1_000), cand("b", "t", Some(5), 1_000)];
        let (ids, overdue) = pick(rows, 10, &ClaimBudget::unbounded(), 1);
        assert_eq!(ids, vec!["a"]);
        assert_eq!(overdue.len(), 1);
    }

    #[test]
    fn the_scan_reads_ahead_but_is_bounded() {
        assert_eq!(scan_for(10), 40);
        assert_eq!(scan_for(usize::MAX), 4_096);
    }
}
