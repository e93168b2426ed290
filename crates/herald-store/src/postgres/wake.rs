//! Waking workers on other nodes: `LISTEN/NOTIFY` on one channel. A node
//! that commits work which may be due at once (an accepted notification, a
//! receipt or an answer that starts the next channel) marks itself dirty;
//! one task per store sends a `NOTIFY` after the commit, at most one per
//! `COALESCE` (so a burst of triggers costs the database a few notifies,
//! not one per transaction, and a notifying commit never waits on the
//! notify queue's lock). Every node whose workers watch (`Store::watch_wake`)
//! keeps a listening connection and wakes its dispatcher on each notify.
//! A notify lost while a listener reconnects costs only latency: the
//! dispatcher's sweep is the safety net.

use sqlx::postgres::{PgListener, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel of the nodes working in `schema`: notifies are database
/// wide, and two Herald deployments in two schemas of one database need
/// not wake each other.
pub(super) fn channel_of(schema: &str) -> String {
    let c = format!("herald_wake_{schema}");
    // Channel names are identifiers: at most 63 bytes.
    if c.len() <= 63 {
        c
    } else {
        "herald_wake".to_string()
    }
}
/// The shortest time between two notifies of one node.
const COALESCE: Duration = Duration::from_millis(2);
/// How long a listener waits before reconnecting after a failure.
const RECONNECT: Duration = Duration::from_millis(500);

/// Sends one `NOTIFY` after each burst of `dirty` marks.
pub(super) fn spawn_notifier(pool: PgPool, channel: String, dirty: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            dirty.notified().await;
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(&channel)
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    return;
                }
                tracing::debug!("notifying other nodes of due work: {e}");
            }
            tokio::time::sleep(COALESCE).await;
        }
    })
}

/// Wakes `wake` on every notify any node sends, reconnecting when the
/// connection drops.
pub(super) fn spawn_listener(pool: PgPool, channel: String, wake: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listen(&pool, &channel, &wake).await {
                Err(e) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!("listening for other nodes' work: {e}; reconnecting");
                    // What was notified meanwhile is found by the sweep.
                    wake.notify_one();
                    tokio::time::sleep(RECONNECT).await;
                }
            }
        }
    })
}

/// Listens until the pool closes or the connection fails for good.
async fn listen(
    pool: &PgPool,
    channel: &str,
    wake: &Notify,
) -> Result<std::convert::Infallible, sqlx::Error> {
    // The listener keeps one connection of the pool; closing the pool
    // ends it with `PoolClosed`.
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    loop {
        match listener.try_recv().await? {
            Some(_) => wake.notify_one(),
            None => {
                // The connection was lost: `try_recv` reconnects on the
                // next call; what was sent meanwhile is the sweep's.
                wake.notify_one();
            }
        }
    }
}
