//! Removing types and people, and listing people: the console's and the
//! API's "Removing and listing". Reads go through the reader pool; the
//! deletes run on the writer's connection inside its batch, as every
//! other mutation does.

use super::codec::col_json;
use super::error::Db;
use super::tx::WriteTx;
use super::SqliteStore;
use crate::{RecipientQuery, Result};
use herald_core::{Audience, Recipient};
use rusqlite::params;
use sqlx::Row;

/// Removes a notification type; answers whether there was one.
fn delete_type(tx: &mut WriteTx<'_>, tenant_id: &str, key: &str) -> Result<bool> {
    let n = tx
        .conn
        .prepare_cached("DELETE FROM notification_types WHERE tenant_id = ?1 AND key = ?2")
        .db()?
        .execute(params![tenant_id, key])
        .db()?;
    Ok(n > 0)
}

/// Removes a client or staff member; answers whether there was one.
fn delete_recipient(
    tx: &mut WriteTx<'_>,
    tenant_id: &str,
    kind: Audience,
    id: &str,
) -> Result<bool> {
    let n = tx
        .conn
        .prepare_cached("DELETE FROM recipients WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3")
        .db()?
        .execute(params![tenant_id, kind.as_str(), id])
        .db()?;
    Ok(n > 0)
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

impl SqliteStore {
    /// See `Store::delete_type`.
    pub(super) async fn remove_type(&self, tenant_id: &str, key: &str) -> Result<bool> {
        let (tenant_id, key) = (tenant_id.to_string(), key.to_string());
        self.write(move |tx| delete_type(tx, &tenant_id, &key))
            .await
    }

    /// See `Store::delete_recipient`.
    pub(super) async fn remove_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<bool> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.write(move |tx| delete_recipient(tx, &tenant_id, kind, &id))
            .await
    }

    /// See `Store::list_recipients`.
    pub(super) async fn recipients(
        &self,
        tenant_id: &str,
        kind: Audience,
        q: &RecipientQuery,
    ) -> Result<Vec<(String, Recipient)>> {
        let pattern =
            q.q.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(like_pattern);
        let rows = sqlx::query(
            "SELECT id, doc FROM recipients
             WHERE tenant_id = ?1 AND kind = ?2 AND (?3 IS NULL OR id > ?3)
               AND (?4 IS NULL
                    OR lower(id) LIKE ?4 ESCAPE '\\'
                    OR lower(coalesce(json_extract(doc, '$.name'), '')) LIKE ?4 ESCAPE '\\'
                    OR lower(coalesce(json_extract(doc, '$.email'), '')) LIKE ?4 ESCAPE '\\'
                    OR lower(coalesce(json_extract(doc, '$.phone'), '')) LIKE ?4 ESCAPE '\\')
             ORDER BY id LIMIT ?5",
        )
        .bind(tenant_id)
        .bind(kind.as_str())
        .bind(q.after.as_deref())
        .bind(pattern)
        .bind(i64::try_from(q.limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *self.reader().await?)
        .await
        .db()?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>("id").db()?, col_json(r, "doc")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(like_pattern("Ana"), "%ana%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
