//! Removing notification types and people, and listing people (API.md
//! "Removing and listing"). Integrations are removed in `integrations`.

use super::{check_id, App};
use crate::error::{Result, ServiceError};
use herald_core::{Audience, Recipient};
use herald_store::{RecipientQuery, Tenant};

impl App {
    /// Removes a notification type; `NotFound` when there is none.
    /// Notifications already triggered keep their own plan.
    pub async fn delete_type(&self, tenant: &Tenant, key: &str) -> Result<()> {
        check_id("key", key)?;
        let removed = self.store.delete_type(&tenant.id, key).await?;
        self.caches
            .types
            .forget(&(tenant.id.clone(), key.to_string()));
        if removed {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("notification type {key:?}")))
        }
    }

    /// Removes a client or staff member; `NotFound` when there is none.
    pub async fn delete_recipient(&self, tenant: &Tenant, kind: Audience, id: &str) -> Result<()> {
        check_id("id", id)?;
        if self.store.delete_recipient(&tenant.id, kind, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("{} {id:?}", kind.as_str())))
        }
    }

    /// One page of clients or staff by id; the second value is the cursor
    /// of the next page when this one is full.
    pub async fn list_recipients(
        &self,
        tenant: &Tenant,
        kind: Audience,
        q: &RecipientQuery,
    ) -> Result<(Vec<(String, Recipient)>, Option<String>)> {
        let page = self.store.list_recipients(&tenant.id, kind, q).await?;
        let next = (q.limit > 0 && page.len() >= q.limit)
            .then(|| page.last().map(|(id, _)| id.clone()))
            .flatten();
        Ok((page, next))
    }
}
