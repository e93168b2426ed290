//! Queries that only read. They take a plain connection, so the same code
//! serves the reader pool (the `Store` read methods) and the writer (which
//! must see its own uncommitted batch when it runs a cascade step). Here:
//! the setup (meta, tenants, integrations, types, recipients) and the next
//! due time; the log's reads are in `log`, the simulator's in `sim_read`.

use super::codec::{col, col_enum, col_json, col_u32};
use super::error::Db;
use crate::{HookedIntegration, Owner};
use crate::{Integration, NotificationType, Result, Tenant};
use herald_core::{Audience, Channel, Millis};
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

/// An operator setting.
pub(super) async fn get_meta(conn: &mut SqliteConnection, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = ?1")
        .bind(key)
        .fetch_optional(conn)
        .await
        .db()?;
    row.map(|r| col(&r, "value")).transpose()
}

/// The tenant an API key hash belongs to.
pub(super) async fn tenant_by_key(
    conn: &mut SqliteConnection,
    sha: &str,
) -> Result<Option<Tenant>> {
    let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE api_key_sha256 = ?1")
        .bind(sha)
        .fetch_optional(conn)
        .await
        .db()?;
    row.map(|r| {
        Ok(Tenant {
            id: col(&r, "id")?,
            name: col(&r, "name")?,
            created_at: col(&r, "created_at")?,
        })
    })
    .transpose()
}

fn integration(r: &SqliteRow) -> Result<Integration> {
    Ok(Integration {
        channel: col_enum(r, "channel")?,
        provider: col(r, "provider")?,
        settings: col_json(r, "settings")?,
        confirm: col_enum(r, "confirm")?,
        window_s: col_u32(r, "window_s")?,
        updated_at: col(r, "updated_at")?,
        hook_id: col::<Option<String>>(r, "hook_id")?.unwrap_or_default(),
        max_per_second: col(r, "max_per_second")?,
        price_per_segment: col(r, "price_per_segment")?,
        inherited: false,
    })
}

const INTEGRATION_COLS: &str =
    "channel, provider, settings, confirm, window_s, updated_at, hook_id, max_per_second, \
     price_per_segment";

/// The table and owner filter of an owner's integrations (`?1` is the
/// tenant id; the operator's table ignores it).
fn integrations_of(owner: Owner<'_>) -> (&'static str, &str) {
    match owner {
        Owner::Tenant(t) => ("integrations WHERE tenant_id = ?1", t),
        Owner::Operator => ("operator_integrations WHERE ?1 = ?1", ""),
    }
}

/// One integration.
pub(super) async fn get_integration(
    conn: &mut SqliteConnection,
    owner: Owner<'_>,
    channel: Channel,
) -> Result<Option<Integration>> {
    let (from, tenant) = integrations_of(owner);
    let sql = format!("SELECT {INTEGRATION_COLS} FROM {from} AND channel = ?2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(channel.as_str())
        .fetch_optional(conn)
        .await
        .db()?;
    row.as_ref().map(integration).transpose()
}

/// All integrations, in channel order.
pub(super) async fn list_integrations(
    conn: &mut SqliteConnection,
    owner: Owner<'_>,
) -> Result<Vec<Integration>> {
    let (from, tenant) = integrations_of(owner);
    let sql = format!("SELECT {INTEGRATION_COLS} FROM {from}");
    let rows = sqlx::query(&sql).bind(tenant).fetch_all(conn).await.db()?;
    let mut out = rows.iter().map(integration).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|i| i.channel);
    Ok(out)
}

/// Every integration of one provider, the tenants' and the operator's.
pub(super) async fn integrations_of_provider(
    conn: &mut SqliteConnection,
    provider: &str,
) -> Result<Vec<HookedIntegration>> {
    let sql = format!(
        "SELECT tenant_id, {INTEGRATION_COLS} FROM integrations WHERE provider = ?1
         UNION ALL SELECT NULL AS tenant_id, {INTEGRATION_COLS} FROM operator_integrations
         WHERE provider = ?1"
    );
    let rows = sqlx::query(&sql)
        .bind(provider)
        .fetch_all(conn)
        .await
        .db()?;
    rows.iter()
        .map(|r| {
            Ok(HookedIntegration {
                tenant_id: col(r, "tenant_id")?,
                integration: integration(r)?,
            })
        })
        .collect()
}

/// The integration a hook id belongs to, the tenants' first.
pub(super) async fn integration_by_hook(
    conn: &mut SqliteConnection,
    hook_id: &str,
) -> Result<Option<HookedIntegration>> {
    let sql = format!(
        "SELECT tenant_id, {INTEGRATION_COLS} FROM integrations WHERE hook_id = ?1
         UNION ALL SELECT NULL AS tenant_id, {INTEGRATION_COLS} FROM operator_integrations
         WHERE hook_id = ?1 LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(hook_id)
        .fetch_optional(conn)
        .await
        .db()?;
    row.map(|r| {
        Ok(HookedIntegration {
            tenant_id: col(&r, "tenant_id")?,
            integration: integration(&r)?,
        })
    })
    .transpose()
}

fn notification_type(r: &SqliteRow) -> Result<NotificationType> {
    Ok(NotificationType {
        key: col(r, "key")?,
        config: col_json(r, "config")?,
        updated_at: col(r, "updated_at")?,
    })
}

/// One notification type.
pub(super) async fn get_type(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    key: &str,
) -> Result<Option<NotificationType>> {
    let row = sqlx::query(
        "SELECT key, config, updated_at FROM notification_types WHERE tenant_id = ?1 AND key = ?2",
    )
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(conn)
    .await
    .db()?;
    row.as_ref().map(notification_type).transpose()
}

/// All notification types, by key.
pub(super) async fn list_types(
    conn: &mut SqliteConnection,
    tenant_id: &str,
) -> Result<Vec<NotificationType>> {
    let rows = sqlx::query(
        "SELECT key, config, updated_at FROM notification_types WHERE tenant_id = ?1 ORDER BY key",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await
    .db()?;
    rows.iter().map(notification_type).collect()
}

/// A client or staff member.
pub(super) async fn get_recipient(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    kind: Audience,
    id: &str,
) -> Result<Option<herald_core::Recipient>> {
    let row =
        sqlx::query("SELECT doc FROM recipients WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3")
            .bind(tenant_id)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(conn)
            .await
            .db()?;
    row.map(|r| col_json(&r, "doc")).transpose()
}

/// The tenant's time zone, if set.
pub(super) async fn tenant_timezone(
    conn: &mut SqliteConnection,
    tenant_id: &str,
) -> Result<Option<String>> {
    let row = sqlx::query("SELECT timezone FROM tenants WHERE id = ?1")
        .bind(tenant_id)
        .fetch_optional(conn)
        .await
        .db()?;
    Ok(row
        .map(|r| col::<Option<String>>(&r, "timezone"))
        .transpose()?
        .flatten())
}

/// The earliest time anything is due: a queued attempt, a lapsed lease, a
/// pending or scheduled notification's wake time (a final one has none).
pub(super) const NEXT_DUE_SQL: &str = "SELECT MIN(t) AS t FROM (
         SELECT MIN(next_try_at) AS t FROM attempts WHERE status = 'queued'
         UNION ALL SELECT MIN(lease_until) FROM attempts WHERE status = 'sending'
         UNION ALL SELECT MIN(wake_at) FROM notifications WHERE wake_at IS NOT NULL)";

/// The earliest time anything is due.
pub(super) async fn next_due_at(conn: &mut SqliteConnection) -> Result<Option<Millis>> {
    let row = sqlx::query(NEXT_DUE_SQL).fetch_one(conn).await.db()?;
    col(&row, "t")
}
