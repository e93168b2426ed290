//! Configuration reads (operator settings, tenants, integrations, types,
//! people) on the pool: one statement each, no transaction.

use super::codec::{col, col_enum, col_json, col_u32, int};
use super::error::Db;
use crate::{HookedIntegration, Integration, NotificationType, Owner, RecipientQuery, Result};
use crate::{StoreError, Tenant};
use herald_core::{Audience, Channel, Recipient};
use sqlx::postgres::PgRow;
use sqlx::PgPool;

/// An operator setting.
pub(super) async fn get_meta(pool: &PgPool, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
        .db()?;
    row.map(|r| col(&r, "value")).transpose()
}

/// The tenant an API key hash belongs to.
pub(super) async fn tenant_by_key(pool: &PgPool, sha: &str) -> Result<Option<Tenant>> {
    let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE api_key_sha256 = $1")
        .bind(sha)
        .fetch_optional(pool)
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

fn integration(r: &PgRow) -> Result<Integration> {
    Ok(Integration {
        channel: col_enum(r, "channel")?,
        provider: col(r, "provider")?,
        settings: col_json(r, "settings")?,
        confirm: col_enum(r, "confirm")?,
        window_s: col_u32(r, "window_s")?,
        updated_at: col(r, "updated_at")?,
        hook_id: col(r, "hook_id")?,
        max_per_second: col(r, "max_per_second")?,
        price_per_segment: col(r, "price_per_segment")?,
        inherited: false,
    })
}

const INTEGRATION_COLS: &str =
    "channel, provider, settings, confirm, window_s, updated_at, hook_id, max_per_second, \
     price_per_segment";

/// The table and owner filter of an owner's integrations (`$1` is the
/// tenant id; the operator's table ignores it).
fn integrations_of(owner: Owner<'_>) -> (&'static str, &str) {
    match owner {
        Owner::Tenant(t) => ("integrations WHERE tenant_id = $1", t),
        Owner::Operator => ("operator_integrations WHERE $1::text IS NOT NULL", ""),
    }
}

/// One integration.
pub(super) async fn get_integration(
    pool: &PgPool,
    owner: Owner<'_>,
    channel: Channel,
) -> Result<Option<Integration>> {
    let (from, tenant) = integrations_of(owner);
    let sql = format!("SELECT {INTEGRATION_COLS} FROM {from} AND channel = $2");
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(channel.as_str())
        .fetch_optional(pool)
        .await
        .db()?;
    row.as_ref().map(integration).transpose()
}

/// All integrations, in channel order.
pub(super) async fn list_integrations(pool: &PgPool, owner: Owner<'_>) -> Result<Vec<Integration>> {
    let (from, tenant) = integrations_of(owner);
    let sql = format!("SELECT {INTEGRATION_COLS} FROM {from}");
    let rows = sqlx::query(&sql).bind(tenant).fetch_all(pool).await.db()?;
    let mut out = rows.iter().map(integration).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|i| i.channel);
    Ok(out)
}

fn hooked(r: &PgRow) -> Result<HookedIntegration> {
    Ok(HookedIntegration {
        tenant_id: col(r, "tenant_id")?,
        integration: integration(r)?,
    })
}

/// Every integration of one provider, the tenants' and the operator's.
pub(super) async fn integrations_of_provider(
    pool: &PgPool,
    provider: &str,
) -> Result<Vec<HookedIntegration>> {
    let sql = format!(
        "SELECT tenant_id, {INTEGRATION_COLS} FROM integrations WHERE provider = $1
         UNION ALL SELECT NULL AS tenant_id, {INTEGRATION_COLS} FROM operator_integrations
         WHERE provider = $1"
    );
    let rows = sqlx::query(&sql)
        .bind(provider)
        .fetch_all(pool)
        .await
        .db()?;
    rows.iter().map(hooked).collect()
}

/// The integration a hook id belongs to, the tenants' first.
pub(super) async fn integration_by_hook(
    pool: &PgPool,
    hook_id: &str,
) -> Result<Option<HookedIntegration>> {
    let sql = format!(
        "SELECT * FROM (SELECT 0 AS pref, tenant_id, {INTEGRATION_COLS} FROM integrations
             WHERE hook_id = $1
         UNION ALL SELECT 1, NULL, {INTEGRATION_COLS} FROM operator_integrations
             WHERE hook_id = $1) h
         ORDER BY pref LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(hook_id)
        .fetch_optional(pool)
        .await
        .db()?;
    row.as_ref().map(hooked).transpose()
}

fn notification_type(r: &PgRow) -> Result<NotificationType> {
    Ok(NotificationType {
        key: col(r, "key")?,
        config: col_json(r, "config")?,
        updated_at: col(r, "updated_at")?,
    })
}

/// One notification type.
pub(super) async fn get_type(
    pool: &PgPool,
    tenant_id: &str,
    key: &str,
) -> Result<Option<NotificationType>> {
    let row = sqlx::query(
        "SELECT key, config, updated_at FROM notification_types WHERE tenant_id = $1 AND key = $2",
    )
    .bind(tenant_id)
    .bind(key)
    .fetch_optional(pool)
    .await
    .db()?;
    row.as_ref().map(notification_type).transpose()
}

/// All notification types, by key.
pub(super) async fn list_types(pool: &PgPool, tenant_id: &str) -> Result<Vec<NotificationType>> {
    let rows = sqlx::query(
        "SELECT key, config, updated_at FROM notification_types WHERE tenant_id = $1 ORDER BY key",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter().map(notification_type).collect()
}

/// A client or staff member.
pub(super) async fn get_recipient(
    pool: &PgPool,
    tenant_id: &str,
    kind: Audience,
    id: &str,
) -> Result<Option<Recipient>> {
    let row =
        sqlx::query("SELECT doc FROM recipients WHERE tenant_id = $1 AND kind = $2 AND id = $3")
            .bind(tenant_id)
            .bind(kind.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await
            .db()?;
    row.map(|r| col_json(&r, "doc")).transpose()
}

/// A recipient looked up by `get_recipient`: tenant, kind, id.
pub(super) type RecipientKey = (String, Audience, String);

/// `get_recipient` for several at once, in one statement; one answer per
/// key, in order.
pub(super) async fn recipients_many(
    pool: &PgPool,
    keys: &[RecipientKey],
) -> Result<Vec<Option<Recipient>>> {
    let tenants: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    let kinds: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
    let ids: Vec<&str> = keys.iter().map(|k| k.2.as_str()).collect();
    let rows = sqlx::query(
        "SELECT u.ord, r.doc
         FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(t, k, i, ord)
         JOIN recipients r ON r.tenant_id = u.t AND r.kind = u.k AND r.id = u.i",
    )
    .bind(tenants)
    .bind(kinds)
    .bind(ids)
    .fetch_all(pool)
    .await
    .db()?;
    let mut out: Vec<Option<Recipient>> = vec![None; keys.len()];
    for r in &rows {
        let ord: i64 = col(r, "ord")?;
        let slot = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| out.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("recipient lookup row {ord}")))?;
        *slot = Some(col_json(r, "doc")?);
    }
    Ok(out)
}

/// `LIKE` pattern of a search text, with its wildcards escaped (`\`).
fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Clients or staff by id, matching `q` in id, name, e-mail or phone.
pub(super) async fn list_recipients(
    pool: &PgPool,
    tenant_id: &str,
    kind: Audience,
    q: &RecipientQuery,
) -> Result<Vec<(String, Recipient)>> {
    let pattern =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern);
    // The document is TEXT: cast to read its fields (only when searching).
    let rows = sqlx::query(
        "SELECT id, doc FROM recipients
         WHERE tenant_id = $1 AND kind = $2 AND ($3::text IS NULL OR id > $3)
           AND ($4::text IS NULL
                OR lower(id) LIKE $4
                OR lower(coalesce(doc::jsonb ->> 'name', '')) LIKE $4
                OR lower(coalesce(doc::jsonb ->> 'email', '')) LIKE $4
                OR lower(coalesce(doc::jsonb ->> 'phone', '')) LIKE $4)
         ORDER BY id LIMIT $5",
    )
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(q.after.as_deref())
    .bind(pattern)
    .bind(int(q.limit))
    .fetch_all(pool)
    .await
    .db()?;
    rows.iter()
        .map(|r| Ok((col(r, "id")?, col_json(r, "doc")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_text_is_matched_literally() {
        // PostgreSQL's LIKE escapes with `\` by default.
        assert_eq!(like_pattern("Ana"), "%ana%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
