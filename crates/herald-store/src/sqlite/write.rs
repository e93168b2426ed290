//! The simple mutations, as they run on the writer's connection inside the
//! batch transaction: operator settings, tenants, integrations, types,
//! recipients, and the restart recovery. The cascade's are `crate::flow`
//! over `tx`, the simulator's are in `sim`.

use super::codec::{name_of, to_json, wall_now};
use super::compact::hex_value;
use super::error::{from_rusqlite, is_unique_violation, Db};
use super::tx::WriteTx;
use crate::{Integration, NotificationType, Result, StoreError, Tenant};
use herald_core::{Audience, Channel};
use rusqlite::params;

/// Writes an operator setting.
pub(super) fn set_meta(tx: &mut WriteTx<'_>, key: &str, value: &str) -> Result<()> {
    tx.conn
        .prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .db()?
        .execute(params![key, value])
        .db()?;
    Ok(())
}

/// Creates a tenant; a taken id or API key hash is a `Conflict`.
pub(super) fn create_tenant(tx: &mut WriteTx<'_>, t: &Tenant, sha: &str) -> Result<()> {
    let res = tx
        .conn
        .prepare_cached(
            // `no`: the tenant's small number in notifications and attempts.
            "INSERT INTO tenants (id, name, api_key_sha256, created_at, no)
             VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MAX(no), 0) + 1 FROM tenants))",
        )
        .db()?
        .execute(params![t.id, t.name, sha, t.created_at]);
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "tenant {} or its API key already exists",
            t.id
        ))),
        Err(e) => Err(from_rusqlite(e)),
    }
}

/// Creates or replaces an integration.
pub(super) fn put_integration(
    tx: &mut WriteTx<'_>,
    tenant_id: Option<&str>,
    i: &Integration,
) -> Result<()> {
    let sql = match tenant_id {
        Some(_) => {
            "INSERT INTO integrations (tenant_id, channel, provider, settings, confirm, window_s,
                 updated_at, hook_id, max_per_second, price_per_segment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (tenant_id, channel) DO UPDATE SET provider = excluded.provider,
                 settings = excluded.settings, confirm = excluded.confirm,
                 window_s = excluded.window_s, updated_at = excluded.updated_at,
                 hook_id = excluded.hook_id, max_per_second = excluded.max_per_second,
                 price_per_segment = excluded.price_per_segment"
        }
        None => {
            // ?1 (the tenant) is bound but unused: SQLite counts parameters
            // by their highest index, so both statements take the same list.
            "INSERT INTO operator_integrations (channel, provider, settings, confirm, window_s,
                 updated_at, hook_id, max_per_second, price_per_segment)
             VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (channel) DO UPDATE SET provider = excluded.provider,
                 settings = excluded.settings, confirm = excluded.confirm,
                 window_s = excluded.window_s, updated_at = excluded.updated_at,
                 hook_id = excluded.hook_id, max_per_second = excluded.max_per_second,
                 price_per_segment = excluded.price_per_segment"
        }
    };
    tx.conn
        .prepare_cached(sql)
        .db()?
        .execute(params![
            tenant_id.unwrap_or(""),
            i.channel.as_str(),
            i.provider,
            to_json(&i.settings)?,
            name_of(&i.confirm)?,
            i64::from(i.window_s),
            i.updated_at,
            i.hook_id,
            i.max_per_second,
            i.price_per_segment,
        ])
        .db()?;
    // Attempts refer to the hook by its number in `hooks`.
    tx.conn
        .prepare_cached("INSERT INTO hooks (id) VALUES (?1) ON CONFLICT (id) DO NOTHING")
        .db()?
        .execute(params![hex_value(&i.hook_id)])
        .db()?;
    Ok(())
}

/// Removes an integration; answers how many rows went.
pub(super) fn delete_integration(
    tx: &mut WriteTx<'_>,
    tenant_id: Option<&str>,
    channel: Channel,
) -> Result<usize> {
    match tenant_id {
        Some(t) => tx
            .conn
            .prepare_cached("DELETE FROM integrations WHERE tenant_id = ?1 AND channel = ?2")
            .db()?
            .execute(params![t, channel.as_str()])
            .db(),
        None => tx
            .conn
            .prepare_cached("DELETE FROM operator_integrations WHERE channel = ?1")
            .db()?
            .execute(params![channel.as_str()])
            .db(),
    }
}

/// Creates or replaces a notification type.
pub(super) fn put_type(tx: &mut WriteTx<'_>, tenant_id: &str, t: &NotificationType) -> Result<()> {
    tx.conn
        .prepare_cached(
            "INSERT INTO notification_types (tenant_id, key, config, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id, key) DO UPDATE SET config = excluded.config,
                 updated_at = excluded.updated_at",
        )
        .db()?
        .execute(params![tenant_id, t.key, to_json(&t.config)?, t.updated_at])
        .db()?;
    Ok(())
}

/// Creates or replaces a recipient's document.
pub(super) fn put_recipient(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    kind: Audience,
    id: &str,
    doc: &herald_core::Recipient,
) -> Result<()> {
    tx.conn
        .prepare_cached(
            "INSERT INTO recipients (tenant_id, kind, id, doc, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id, kind, id) DO UPDATE SET doc = excluded.doc,
                 updated_at = excluded.updated_at",
        )
        .db()?
        .execute(params![
            tenant_id,
            kind.as_str(),
            id,
            to_json(doc)?,
            wall_now()
        ])
        .db()?;
    Ok(())
}

/// Puts every in-flight (`sending`) attempt back in the queue. Only for a
/// node that is the database's sole user, on start: whatever was sending
/// died with the previous process. Their `next_try_at` is already past, so
/// they are due at once, with their keys unchanged.
pub(super) fn recover_after_restart(tx: &mut WriteTx<'_>) -> Result<u64> {
    let n = tx
        .conn
        .prepare_cached(
            "UPDATE attempts SET status = 'queued', lease_until = NULL WHERE status = 'sending'",
        )
        .db()?
        .execute([])
        .db()?;
    Ok(n as u64)
}

/// The earliest time anything is due, as the writer sees it (its own
/// writes included).
pub(super) fn next_due_at(tx: &mut WriteTx<'_>) -> Result<Option<herald_core::Millis>> {
    tx.conn
        .prepare_cached(super::read::NEXT_DUE_SQL)
        .db()?
        .query_row([], |r| r.get(0))
        .db()
}
