//! Opening a store from a database URL: SQLite for one node, PostgreSQL
//! for many, and running their migrations.

use crate::{postgres, sqlite, Result, SimStore, Store, StoreError};
use std::sync::Arc;

/// What `open` gives: the store, and the simulator's state if the backend
/// keeps one.
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The simulator's state; `None` when the backend has none.
    pub sim: Option<Arc<dyn SimStore>>,
}

/// How `open_with` opens a store beyond its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Run the migrations on open (SQLite always does: one node owns the
    /// file); when not, a PostgreSQL schema behind this build is an error
    /// that says to run `herald migrate`.
    pub migrate: bool,
    /// PostgreSQL: connections this node's pool opens at most.
    pub max_connections: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            migrate: true,
            max_connections: postgres::DEFAULT_POOL,
        }
    }
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store a database URL names, running migrations.
/// `sqlite://PATH` (created if missing), or `postgres://…` /
/// `postgresql://…` (one database shared by any number of nodes). Errors
/// never show the URL's password.
pub async fn open(url: &str) -> Result<Backend> {
    open_with(url, &OpenOptions::default()).await
}

/// Opens the store a database URL names, as `opts` say.
pub async fn open_with(url: &str, opts: &OpenOptions) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        let s = Arc::new(sqlite::SqliteStore::open(url).await?);
        Ok(Backend {
            store: s.clone(),
            sim: Some(s),
        })
    } else if is_postgres_url(url) {
        let pg = postgres::PgOptions {
            migrate: opts.migrate,
            max_connections: opts.max_connections,
            schema: None,
            ..postgres::PgOptions::default()
        };
        let s = Arc::new(postgres::PgStore::open_with(url, &pg).await?);
        Ok(Backend {
            store: s.clone(),
            sim: Some(s),
        })
    } else {
        Err(StoreError::BadUrl(format!(
            "{}: use sqlite://PATH or postgres://USER@HOST/DATABASE",
            postgres::redact_url(url)
        )))
    }
}

/// Runs the migrations of the database a URL names (`herald migrate`) and
/// closes it again.
pub async fn migrate(url: &str) -> Result<()> {
    if url.starts_with("sqlite:") {
        sqlite::SqliteStore::open(url).await?.close().await;
        Ok(())
    } else if is_postgres_url(url) {
        let pg = postgres::PgOptions {
            max_connections: 1,
            ..postgres::PgOptions::default()
        };
        postgres::PgStore::open_with(url, &pg).await?.close().await;
        Ok(())
    } else {
        open(url).await.map(|_| ())
    }
}
