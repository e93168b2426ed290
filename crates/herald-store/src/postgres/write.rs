//! The simple mutations (operator settings, tenants, integrations, types,
//! people): one statement each on the pool, committed on its own; upserts
//! are `ON CONFLICT … DO UPDATE`, atomic whichever node runs them.

use super::codec::{name_of, to_json, wall_now};
use super::error::{from_sqlx, is_unique_violation, Db};
use crate::{Integration, NotificationType, Result, StoreError, Tenant};
use herald_core::{Audience, Channel, Recipient};
use sqlx::PgPool;

/// Writes an operator setting.
pub(super) async fn set_meta(pool: &PgPool, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(pool)
    .await
    .db()?;
    Ok(())
}

/// Creates a tenant; a taken id or API key hash is a `Conflict`.
pub(super) async fn create_tenant(pool: &PgPool, t: &Tenant, sha: &str) -> Result<()> {
    let res = sqlx::query(
        "INSERT INTO tenants (id, name, api_key_sha256, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(sha)
    .bind(t.created_at)
    .execute(pool)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "tenant {} or its API key already exists",
            t.id
        ))),
        Err(e) => Err(from_sqlx(e)),
    }
}

/// Creates or replaces an integration; a hook id another integration
/// holds is a `Conflict`.
pub(super) async fn put_integration(
    pool: &PgPool,
    tenant_id: Option<&str>,
    i: &Integration,
) -> Result<()> {
    let sql = match tenant_id {
        Some(_) => {
            "INSERT INTO integrations (tenant_id, channel, provider, settings, confirm, window_s,
                 updated_at, hook_id, max_per_second, price_per_segment)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant_id, channel) DO UPDATE SET provider = excluded.provider,
                 settings = excluded.settings, confirm = excluded.confirm,
                 window_s = excluded.window_s, updated_at = excluded.updated_at,
                 hook_id = excluded.hook_id, max_per_second = excluded.max_per_second,
                 price_per_segment = excluded.price_per_segment"
        }
        None => {
            // $1 (the tenant) is bound but only type-checked, so both
            // statements take the same list.
            "INSERT INTO operator_integrations (channel, provider, settings, confirm, window_s,
                 updated_at, hook_id, max_per_second, price_per_segment)
             SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE $1::text IS NOT NULL
             ON CONFLICT (channel) DO UPDATE SET provider = excluded.provider,
                 settings = excluded.settings, confirm = excluded.confirm,
                 window_s = excluded.window_s, updated_at = excluded.updated_at,
                 hook_id = excluded.hook_id, max_per_second = excluded.max_per_second,
                 price_per_segment = excluded.price_per_segment"
        }
    };
    let res = sqlx::query(sql)
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
        .execute(pool)
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(
            "another integration has this hook id".into(),
        )),
        Err(e) => Err(from_sqlx(e)),
    }
}

/// Removes an integration; answers whether there was one.
pub(super) async fn delete_integration(
    pool: &PgPool,
    tenant_id: Option<&str>,
    channel: Channel,
) -> Result<bool> {
    let done = match tenant_id {
        Some(t) => sqlx::query("DELETE FROM integrations WHERE tenant_id = $1 AND channel = $2")
            .bind(t)
            .bind(channel.as_str())
            .execute(pool)
            .await
            .db()?,
        None => sqlx::query("DELETE FROM operator_integrations WHERE channel = $1")
            .bind(channel.as_str())
            .execute(pool)
            .await
            .db()?,
    };
    Ok(done.rows_affected() > 0)
}

/// Creates or replaces a notification type.
pub(super) async fn put_type(pool: &PgPool, tenant_id: &str, t: &NotificationType) -> Result<()> {
    sqlx::query(
        "INSERT INTO notification_types (tenant_id, key, config, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, key) DO UPDATE SET config = excluded.config,
             updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(&t.key)
    .bind(to_json(&t.config)?)
    .bind(t.updated_at)
    .execute(pool)
    .await
    .db()?;
    Ok(())
}

/// Removes a notification type; answers whether there was one.
pub(super) async fn delete_type(pool: &PgPool, tenant_id: &str, key: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM notification_types WHERE tenant_id = $1 AND key = $2")
        .bind(tenant_id)
        .bind(key)
        .execute(pool)
        .await
        .db()?;
    Ok(done.rows_affected() > 0)
}

/// Creates or replaces a recipient's document.
pub(super) async fn put_recipient(
    pool: &PgPool,
    tenant_id: &str,
    kind: Audience,
    id: &str,
    doc: &Recipient,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recipients (tenant_id, kind, id, doc, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, kind, id) DO UPDATE SET doc = excluded.doc,
             updated_at = excluded.updated_at",
    )
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(id)
    .bind(to_json(doc)?)
    .bind(wall_now())
    .execute(pool)
    .await
    .db()?;
    Ok(())
}

/// Removes a client or staff member; answers whether there was one.
pub(super) async fn delete_recipient(
    pool: &PgPool,
    tenant_id: &str,
    kind: Audience,
    id: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM recipients WHERE tenant_id = $1 AND kind = $2 AND id = $3")
        .bind(tenant_id)
        .bind(kind.as_str())
        .bind(id)
        .execute(pool)
        .await
        .db()?;
    Ok(done.rows_affected() > 0)
}
