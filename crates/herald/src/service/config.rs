//! Configuration a tenant keeps: integrations, notification types, clients
//! and staff. Each is checked here before it is stored.

use super::{check_id, now_ms, App};
use crate::error::Result;
use herald_core::{Audience, Recipient, TypeConfig};
use herald_store::{NotificationType, Tenant};

impl App {
    /// Creates or replaces a notification type.
    pub async fn put_type(
        &self,
        tenant: &Tenant,
        key: &str,
        config: TypeConfig,
    ) -> Result<NotificationType> {
        check_id("key", key)?;
        config.validate()?;
        let t = NotificationType {
            key: key.to_string(),
            config,
            updated_at: now_ms(),
        };
        self.store.put_type(&tenant.id, &t).await?;
        self.caches
            .types
            .forget(&(tenant.id.clone(), key.to_string()));
        Ok(t)
    }

    /// Creates or replaces a client or staff member.
    pub async fn put_recipient(
        &self,
        tenant: &Tenant,
        kind: Audience,
        id: &str,
        r: Recipient,
    ) -> Result<Recipient> {
        check_id("id", id)?;
        r.validate(kind)?;
        self.store.put_recipient(&tenant.id, kind, id, &r).await?;
        Ok(r)
    }
}
