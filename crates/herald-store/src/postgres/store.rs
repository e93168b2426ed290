//! `Store` and `SimStore` on PostgreSQL: each cascade mutation one
//! transaction around its `crate::flow` function (run again if it lost a
//! race with another node), a dispatcher round one transaction with a
//! savepoint per part, the rest one statement each.

use super::error::Db;
use super::{
    flow, Accepted, Audience, Channel, ClaimBudget, ClaimedAttempt, HookedIntegration,
    IncomingReceipt, Integration, ListQuery, Millis, NewNotification, NotificationRecord,
    NotificationSummary, NotificationType, OutboxQuery, Owner, ReceiptMatch, RecipientQuery,
    Result, Round, RoundDone, SendResult, SimAnswer, SimMessage, SimReceiptDue, SimSend, SimStore,
    Store, Tenant,
};
use super::{log, read, sim, write, PgStore};
use async_trait::async_trait;
use std::sync::atomic::Ordering;

/// The tenant id of an owner; `None` for the operator.
fn tenant_of(owner: Owner<'_>) -> Option<&str> {
    match owner {
        Owner::Tenant(t) => Some(t),
        Owner::Operator => None,
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        Ok(())
    }

    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        vec![
            (
                "herald_store_pg_commits_total",
                "Cascade transactions committed on PostgreSQL by this node.",
                self.cx.commits.load(Ordering::Relaxed),
            ),
            (
                "herald_store_pg_analyze_total",
                "ANALYZE runs of the cascade's tables by this node while they grow.",
                self.upkeep.analyzed(),
            ),
            (
                "herald_store_pg_vacuum_total",
                "VACUUM runs of the rewritten tables by this node (dead rows past its threshold).",
                self.upkeep.vacuumed(),
            ),
            (
                "herald_store_pg_race_retries_total",
                "Transactions run again after a deadlock with another node.",
                self.cx.retries.load(Ordering::Relaxed),
            ),
        ]
    }

    /// Wakes `wake` whenever any node (this one too) commits work that may
    /// be due at once: one listening connection of the pool.
    async fn watch_wake(&self, wake: std::sync::Arc<tokio::sync::Notify>) -> Result<()> {
        let listener = super::wake::spawn_listener(self.pool.clone(), self.channel.clone(), wake);
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
        Ok(())
    }

    // `recover_after_restart` keeps its default: the database is shared by
    // several nodes, so what was `sending` may be another node's work in
    // flight; leases take back what a dead node held.

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        read::get_meta(&self.pool, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        write::set_meta(&self.pool, key, value).await
    }

    async fn create_tenant(&self, tenant: &Tenant, api_key_sha256: &str) -> Result<()> {
        write::create_tenant(&self.pool, tenant, api_key_sha256).await
    }

    async fn tenant_by_key(&self, api_key_sha256: &str) -> Result<Option<Tenant>> {
        read::tenant_by_key(&self.pool, api_key_sha256).await
    }

    async fn put_integration(&self, owner: Owner<'_>, integration: &Integration) -> Result<()> {
        write::put_integration(&self.pool, tenant_of(owner), integration).await
    }

    async fn get_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
    ) -> Result<Option<Integration>> {
        read::get_integration(&self.pool, owner, channel).await
    }

    async fn list_integrations(&self, owner: Owner<'_>) -> Result<Vec<Integration>> {
        read::list_integrations(&self.pool, owner).await
    }

    async fn delete_integration(&self, owner: Owner<'_>, channel: Channel) -> Result<bool> {
        write::delete_integration(&self.pool, tenant_of(owner), channel).await
    }

    async fn integration_by_hook(&self, hook_id: &str) -> Result<Option<HookedIntegration>> {
        read::integration_by_hook(&self.pool, hook_id).await
    }

    async fn integrations_of_provider(&self, provider: &str) -> Result<Vec<HookedIntegration>> {
        read::integrations_of_provider(&self.pool, provider).await
    }

    async fn put_type(&self, tenant_id: &str, t: &NotificationType) -> Result<()> {
        write::put_type(&self.pool, tenant_id, t).await
    }

    async fn get_type(&self, tenant_id: &str, key: &str) -> Result<Option<NotificationType>> {
        read::get_type(&self.pool, tenant_id, key).await
    }

    async fn list_types(&self, tenant_id: &str) -> Result<Vec<NotificationType>> {
        read::list_types(&self.pool, tenant_id).await
    }

    async fn put_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
        r: &herald_core::Recipient,
    ) -> Result<()> {
        write::put_recipient(&self.pool, tenant_id, kind, id, r).await
    }

    async fn get_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<Option<herald_core::Recipient>> {
        let key = (tenant_id.to_string(), kind, id.to_string());
        super::intake::recipient(&self.cx, &self.lookups, key).await
    }

    /// Joins the next group commit of accepts (see `intake`).
    async fn accept_notification(&self, n: NewNotification) -> Result<Accepted> {
        let a = super::intake::accept(&self.cx, &self.accepts, &self.dirty, n).await?;
        if matches!(a, Accepted::Created(_)) {
            self.upkeep.accepted(&self.pool);
        }
        Ok(a)
    }

    async fn get_notification(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRecord>> {
        log::get_notification(&self.pool, tenant_id, id).await
    }

    async fn list_notifications(
        &self,
        tenant_id: &str,
        q: &ListQuery,
    ) -> Result<Vec<NotificationSummary>> {
        log::list_notifications(&self.pool, tenant_id, q).await
    }

    async fn claim_attempts(
        &self,
        now: Millis,
        limit: usize,
        lease_ms: Millis,
        budget: &ClaimBudget,
    ) -> Result<Vec<ClaimedAttempt>> {
        in_tx!(self.cx, |tx| flow::claim(tx, now, limit, lease_ms, budget)
            .await)
    }

    async fn record_send_results(&self, results: Vec<SendResult>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        in_tx!(self.cx, |tx| flow::record_results(tx, &results).await)?;
        // A refusal may have started the next channel.
        self.mark_dirty();
        Ok(())
    }

    async fn record_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch> {
        let m = in_tx!(self.cx, |tx| flow::record_receipt(tx, &r).await)?;
        if matches!(m, ReceiptMatch::Recorded { .. }) {
            self.mark_dirty();
        }
        Ok(m)
    }

    async fn record_receipts(&self, rs: Vec<IncomingReceipt>) -> Vec<Result<ReceiptMatch>> {
        // `in_tx!` answers with `?`; the async block keeps that inside.
        let batch = async { in_tx!(self.cx, |tx| flow::record_receipts(tx, &rs).await) }.await;
        if let Ok(ms) = &batch {
            if ms
                .iter()
                .any(|m| matches!(m, ReceiptMatch::Recorded { .. }))
            {
                self.mark_dirty();
            }
        }
        crate::batch::receipts_or_each(self, rs, batch).await
    }

    async fn wake_due(&self, now: Millis, limit: usize) -> Result<usize> {
        in_tx!(self.cx, |tx| flow::wake_due(tx, now, limit).await)
    }

    async fn next_due_at(&self) -> Result<Option<Millis>> {
        log::next_due_at(&self.pool).await
    }

    /// The whole round is one transaction (one commit), each part in a
    /// savepoint of its own.
    async fn dispatch_round(&self, round: Round) -> Result<RoundDone> {
        let mut t = self.cx.begin().await?;
        let recorded = if round.results.is_empty() {
            Ok(())
        } else {
            part!(t, |tx| flow::record_results(tx, &round.results).await)
        };
        let woken = match round.wake_limit {
            Some(limit) => part!(t, |tx| flow::wake_due(tx, round.now, limit).await),
            None => Ok(0),
        };
        let claimed = part!(t, |tx| {
            flow::claim(tx, round.now, round.limit, round.lease_ms, &round.budget).await
        });
        self.cx.finish(t, Ok(())).await?;
        // Read after the commit, not inside it: the round's row locks are
        // what a receipt batch on the same attempts waits for. A full claim
        // leaves due work behind, so the dispatcher claims again at once
        // and needs no time.
        let full = round.limit > 0 && claimed.as_ref().is_ok_and(|c| c.len() == round.limit);
        let next_due_at = if full {
            Ok(Some(round.now))
        } else {
            log::next_due_at(&self.pool).await
        };
        Ok(RoundDone {
            recorded,
            woken,
            claimed,
            next_due_at,
        })
    }

    async fn delete_type(&self, tenant_id: &str, key: &str) -> Result<bool> {
        write::delete_type(&self.pool, tenant_id, key).await
    }

    async fn delete_recipient(&self, tenant_id: &str, kind: Audience, id: &str) -> Result<bool> {
        write::delete_recipient(&self.pool, tenant_id, kind, id).await
    }

    async fn list_recipients(
        &self,
        tenant_id: &str,
        kind: Audience,
        q: &RecipientQuery,
    ) -> Result<Vec<(String, herald_core::Recipient)>> {
        read::list_recipients(&self.pool, tenant_id, kind, q).await
    }

    async fn cancel_notification(&self, tenant_id: &str, id: &str, now: Millis) -> Result<bool> {
        in_tx!(self.cx, |tx| crate::booking::cancel(tx, tenant_id, id, now)
            .await)
    }

    async fn cancel_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        now: Millis,
    ) -> Result<Option<crate::BookingCancelled>> {
        in_tx!(self.cx, |tx| crate::booking::cancel_booking(
            tx, tenant_id, booking_id, now
        )
        .await)
    }

    async fn reschedule_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        starts_at: Millis,
        now: Millis,
    ) -> Result<Option<usize>> {
        in_tx!(self.cx, |tx| {
            crate::booking::reschedule_booking(tx, tenant_id, booking_id, starts_at, now).await
        })
    }

    async fn tenant_timezone(&self, tenant_id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT timezone FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await
                .db()?;
        Ok(row.and_then(|r| r.0))
    }

    async fn set_tenant_timezone(&self, tenant_id: &str, timezone: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE tenants SET timezone = $2 WHERE id = $1")
            .bind(tenant_id)
            .bind(timezone)
            .execute(&self.pool)
            .await
            .db()?;
        Ok(())
    }

    async fn prune(&self, now: Millis, limits: crate::PruneLimits) -> Result<crate::Pruned> {
        self.prune_batch(now, limits).await
    }
}

#[async_trait]
impl SimStore for PgStore {
    async fn sim_send(&self, s: SimSend) -> Result<SimAnswer> {
        super::intake::sim_send(&self.cx, &self.sim_sends, s).await
    }

    async fn sim_due_receipts(&self, now: Millis, limit: usize) -> Result<Vec<SimReceiptDue>> {
        log::sim_due_receipts(&self.pool, now, limit).await
    }

    async fn sim_mark_sent(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sim::sim_mark_sent(&self.pool, ids).await
    }

    async fn sim_next_receipt_at(&self) -> Result<Option<Millis>> {
        log::sim_next_receipt_at(&self.pool).await
    }

    async fn sim_outbox(&self, tenant_id: &str, q: &OutboxQuery) -> Result<Vec<SimMessage>> {
        log::sim_outbox(&self.pool, tenant_id, q).await
    }

    async fn sim_prune(&self, before: Millis, limit: usize) -> Result<crate::Pruned> {
        self.sim_prune_batch(before, limit).await
    }
}
