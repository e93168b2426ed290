//! Plan shapes stored once (migrations `0013_plans.sql`, `0015_plan_shapes.sql`)
//! and kept parsed on the node: a notification row holds its plan's number
//! and its own reach (`crate::reach`), so a type and configuration has one
//! row whoever it goes to. Plan rows are written
//! on the pool, outside the caller's transaction, so that a number the
//! cache learnt is committed whatever becomes of that transaction (a plan
//! row no notification uses is harmless); they never change once written,
//! so nodes never need to forget them.

use super::codec::{col, to_json};
use super::error::Db;
use crate::{Result, StoreError};
use herald_core::Plan;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Entries kept per map before it is emptied (a bound on memory, far above
/// the plan shapes of a real installation).
const MAX_ENTRIES: usize = 4_096;

/// A node's memory of plans: number by JSON text, and parsed by number.
#[derive(Default)]
pub(super) struct Plans {
    ids: Mutex<HashMap<String, i64>>,
    parsed: Mutex<HashMap<i64, Arc<Plan>>>,
}

fn remember<K: std::hash::Hash + Eq, V>(m: &Mutex<HashMap<K, V>>, k: K, v: V) {
    let mut m = m.lock().unwrap_or_else(PoisonError::into_inner);
    if m.len() >= MAX_ENTRIES {
        m.clear();
    }
    m.insert(k, v);
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Plans {
    /// The number of each plan, in order, storing the ones never seen.
    pub async fn ids_of(&self, pool: &PgPool, plans: &[&Plan]) -> Result<Vec<i64>> {
        let mut docs = Vec::with_capacity(plans.len());
        for p in plans {
            docs.push(to_json(p)?);
        }
        let mut out: Vec<Option<i64>> = {
            let ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
            docs.iter().map(|d| ids.get(d).copied()).collect()
        };
        if out.iter().any(Option::is_none) {
            // The digest of each plan not yet known, by position.
            let shas: Vec<Option<String>> = docs
                .iter()
                .zip(&out)
                .map(|(d, id)| id.is_none().then(|| sha256_hex(d)))
                .collect();
            let mut new: HashMap<&str, (&str, &Plan)> = HashMap::new();
            for ((sha, d), p) in shas.iter().zip(&docs).zip(plans) {
                if let Some(sha) = sha {
                    new.entry(sha.as_str()).or_insert((d.as_str(), p));
                }
            }
            let (keys, texts): (Vec<&str>, Vec<&str>) =
                new.iter().map(|(s, (d, _))| (*s, *d)).unzip();
            sqlx::query(
                "INSERT INTO plans (sha256, plan) SELECT * FROM UNNEST($1::text[], $2::text[])
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&keys)
            .bind(&texts)
            .execute(pool)
            .await
            .db()?;
            let rows = sqlx::query("SELECT id, sha256 FROM plans WHERE sha256 = ANY($1)")
                .bind(&keys)
                .fetch_all(pool)
                .await
                .db()?;
            let mut stored: HashMap<String, i64> = HashMap::with_capacity(rows.len());
            for r in &rows {
                stored.insert(col(r, "sha256")?, col(r, "id")?);
            }
            for (sha, (doc, plan)) in &new {
                if let Some(id) = stored.get(*sha) {
                    remember(&self.ids, doc.to_string(), *id);
                    remember(&self.parsed, *id, Arc::new(Plan::clone(plan)));
                }
            }
            for (sha, id) in shas.iter().zip(out.iter_mut()) {
                if let Some(sha) = sha {
                    *id = stored.get(sha).copied();
                }
            }
        }
        out.into_iter()
            .map(|id| id.ok_or_else(|| StoreError::Corrupt("a plan was not stored".into())))
            .collect()
    }

    /// The plans of these numbers, reading the ones not yet known.
    pub async fn by_id(
        &self,
        conn: &mut PgConnection,
        ids: &[i64],
    ) -> Result<HashMap<i64, Arc<Plan>>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
            for id in ids {
                match parsed.get(id) {
                    Some(p) => {
                        out.insert(*id, p.clone());
                    }
                    None if !missing.contains(id) => missing.push(*id),
                    None => {}
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let rows = sqlx::query("SELECT id, plan FROM plans WHERE id = ANY($1)")
            .bind(&missing)
            .fetch_all(conn)
            .await
            .db()?;
        for r in &rows {
            let id: i64 = col(r, "id")?;
            let text: String = col(r, "plan")?;
            let plan: Plan = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("plan {id}: {e}")))?;
            let plan = Arc::new(plan);
            remember(&self.parsed, id, plan.clone());
            out.insert(id, plan);
        }
        match missing.iter().find(|id| !out.contains_key(id)) {
            Some(id) => Err(StoreError::Corrupt(format!("no plan number {id}"))),
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_lowercase_hex_sha256() {
        // The migration backfills with encode(sha256(…), 'hex'): the same text.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_full_map_starts_again() {
        let m: Mutex<HashMap<usize, usize>> = Mutex::default();
        for i in 0..MAX_ENTRIES + 1 {
            remember(&m, i, i);
        }
        let m = m.into_inner().unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(&MAX_ENTRIES), Some(&MAX_ENTRIES));
    }
}
