//! The simple mutations, as they run on the writer's connection inside the
//! batch transaction: operator settings, tenants, integrations, types,
//! recipients, and the restart recovery. The cascade-changing ones live in
//! `flow`, the simulator's in `sim`.

use super::codec::{is_unique_violation, name_of, to_json, wall_now};
use crate::{Integration, NotificationType, Result, StoreError, Tenant};
use herald_core::{Audience, Channel};
use sqlx::SqliteConnection;

/// Writes an operator setting.
pub(super) async fn set_meta(conn: &mut SqliteConnection, key: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates a tenant; a taken id or API key hash is a `Conflict`.
pub(super) async fn create_tenant(
    conn: &mut SqliteConnection,
    t: &Tenant,
    sha: &str,
) -> Result<()> {
    let res = sqlx::query(
        "INSERT INTO tenants (id, name, api_key_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(sha)
    .bind(t.created_at)
    .execute(conn)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "tenant {} or its API key already exists",
            t.id
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Creates or replaces an integration.
pub(super) async fn put_integration(
    conn: &mut SqliteConnection,
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
    sqlx::query(sql)
        .bind(tenant_id.unwrap_or(""))
        .bind(i.channel.as_str())
        .bind(&i.provider)
        .bind(to_json(&i.settings)?)
        .bind(name_of(&i.confirm)?)
        .bind(i64::from(i.window_s))
        .bind(i.updated_at)
        .bind(&i.hook_id)
        .bind(i.max_per_second)
        .bind(i.price_per_segment)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes an integration; answers how many rows went.
pub(super) async fn delete_integration(
    conn: &mut SqliteConnection,
    tenant_id: Option<&str>,
    channel: Channel,
) -> Result<usize> {
    let done = match tenant_id {
        Some(t) => {
            sqlx::query("DELETE FROM integrations WHERE tenant_id = ?1 AND channel = ?2")
                .bind(t)
                .bind(channel.as_str())
                .execute(conn)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM operator_integrations WHERE channel = ?1")
                .bind(channel.as_str())
                .execute(conn)
                .await?
        }
    };
    Ok(done.rows_affected() as usize)
}

/// Creates or replaces a notification type.
pub(super) async fn put_type(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    t: &NotificationType,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notification_types (tenant_id, key, config, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant_id, key) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&t.key)
    .bind(to_json(&t.config)?)
    .bind(t.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates or replaces a recipient's document.
pub(super) async fn put_recipient(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    kind: Audience,
    id: &str,
    doc: &herald_core::Recipient,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recipients (tenant_id, kind, id, doc, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, kind, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(id)
    .bind(to_json(doc)?)
    .bind(wall_now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts every in-flight (`sending`) attempt back in the queue. Only for a
/// node that is the database's sole user, on start: whatever was sending
/// died with the previous process. Their `next_try_at` is already past, so
/// they are due at once, with their keys unchanged.
pub(super) async fn recover_after_restart(conn: &mut SqliteConnection) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE attempts SET status = 'queued', lease_until = NULL WHERE status = 'sending'",
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
