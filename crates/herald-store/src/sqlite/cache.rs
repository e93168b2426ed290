//! What the writer thread remembers between jobs about rows that never
//! change once written: each tenant's number (`tenants.no`) and each plan
//! shape (`plans`), so that a cascade step neither looks them up nor parses
//! a plan. Only the writer writes these rows; a job or batch that is
//! rolled back may have made rows the cache learnt, so every rollback
//! forgets everything (`clear`), and the next lookups read the file again.

use super::error::Db;
use crate::{Result, StoreError};
use herald_core::Plan;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::sync::Arc;

/// Entries kept per map before it is emptied (a bound on memory, far above
/// the tenants and plan shapes of a real installation).
const MAX_ENTRIES: usize = 4_096;

/// The writer's memory of tenants and plan shapes.
#[derive(Default)]
pub(super) struct Cache {
    tenant_no: HashMap<String, i64>,
    tenant_id: HashMap<i64, Arc<str>>,
    plan_no: HashMap<String, i64>,
    plans: HashMap<i64, Arc<Plan>>,
}

fn bounded<K: std::hash::Hash + Eq, V>(m: &mut HashMap<K, V>) -> &mut HashMap<K, V> {
    if m.len() >= MAX_ENTRIES {
        m.clear();
    }
    m
}

impl Cache {
    /// Forgets everything (after a rollback).
    pub fn clear(&mut self) {
        self.tenant_no.clear();
        self.tenant_id.clear();
        self.plan_no.clear();
        self.plans.clear();
    }

    /// A tenant's number; `None` for an unknown tenant.
    pub fn tenant_no(&mut self, conn: &Connection, id: &str) -> Result<Option<i64>> {
        if let Some(no) = self.tenant_no.get(id) {
            return Ok(Some(*no));
        }
        let no: Option<i64> = conn
            .prepare_cached("SELECT no FROM tenants WHERE id = ?1")
            .db()?
            .query_row(params![id], |r| r.get(0))
            .optional()
            .db()?;
        if let Some(no) = no {
            bounded(&mut self.tenant_no).insert(id.to_string(), no);
        }
        Ok(no)
    }

    /// The tenant id of a number.
    pub fn tenant_id(&mut self, conn: &Connection, no: i64) -> Result<Arc<str>> {
        if let Some(id) = self.tenant_id.get(&no) {
            return Ok(id.clone());
        }
        let id: String = conn
            .prepare_cached("SELECT id FROM tenants WHERE no = ?1")
            .db()?
            .query_row(params![no], |r| r.get(0))
            .optional()
            .db()?
            .ok_or_else(|| StoreError::Corrupt(format!("no tenant number {no}")))?;
        let id: Arc<str> = id.into();
        bounded(&mut self.tenant_id).insert(no, id.clone());
        Ok(id)
    }

    /// The number of a plan shape, stored on first use.
    pub fn plan_no(&mut self, conn: &Connection, shape: &Plan) -> Result<i64> {
        let doc = crate::reach::shape_doc(shape)?;
        if let Some(no) = self.plan_no.get(&doc) {
            return Ok(*no);
        }
        let no: i64 = conn
            .prepare_cached(
                "INSERT INTO plans (doc) VALUES (?1)
                 ON CONFLICT (doc) DO UPDATE SET doc = excluded.doc RETURNING no",
            )
            .db()?
            .query_row(params![doc], |r| r.get(0))
            .db()?;
        bounded(&mut self.plans).insert(no, Arc::new(shape.clone()));
        bounded(&mut self.plan_no).insert(doc, no);
        Ok(no)
    }

    /// A plan shape by number.
    pub fn plan(&mut self, conn: &Connection, no: i64) -> Result<Arc<Plan>> {
        if let Some(p) = self.plans.get(&no) {
            return Ok(p.clone());
        }
        let doc: String = conn
            .prepare_cached("SELECT doc FROM plans WHERE no = ?1")
            .db()?
            .query_row(params![no], |r| r.get(0))
            .optional()
            .db()?
            .ok_or_else(|| StoreError::Corrupt(format!("no plan number {no}")))?;
        let plan = Arc::new(crate::reach::shape_from(&doc)?);
        bounded(&mut self.plans).insert(no, plan.clone());
        Ok(plan)
    }
}
