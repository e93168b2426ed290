//! `Store` and `SimStore` on SQLite: writes go to the writer thread as
//! jobs, reads to the reader pool.

use super::error::Db;
use super::{log, prune, read, sim, sim_read, write, writer, SqliteStore};
use crate::{booking, BookingCancelled, ClaimBudget, HookedIntegration, Owner};
use crate::{
    flow, ready, Accepted, ClaimedAttempt, IncomingReceipt, Integration, ListQuery,
    NewNotification, NotificationRecord, NotificationSummary, NotificationType, OutboxQuery,
    ReceiptMatch, Result, Round, RoundDone, SendResult, SimAnswer, SimMessage, SimReceiptDue,
    SimSend, SimStore, Store, StoreError, Tenant,
};
use async_trait::async_trait;
use herald_core::{Audience, Channel, Millis};
use std::sync::atomic::Ordering;

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        if self.tx.is_closed() {
            return Err(StoreError::Closed);
        }
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        Ok(())
    }

    fn writable(&self) -> bool {
        !self.counters.cannot_write.load(Ordering::Relaxed)
    }

    fn counters(&self) -> Vec<(&'static str, &'static str, u64)> {
        let w = self.writer_stats();
        vec![
            (
                "herald_store_write_refused_total",
                "Write batches the database refused for want of space or a lock (answered 503).",
                self.counters.refused.load(Ordering::Relaxed),
            ),
            (
                "herald_store_write_batches_total",
                "Transactions committed by the SQLite writer (group commit).",
                w.batches,
            ),
            (
                "herald_store_write_commands_total",
                "Write commands run in those transactions.",
                w.commands,
            ),
        ]
    }

    /// SQLite is one node's database (the writer holds its only write
    /// connection), so whatever was `sending` at start died with the
    /// previous process: it is queued again at once. Takes the file's node
    /// lock first: that is only right when no other process is sending.
    async fn recover_after_restart(&self) -> Result<u64> {
        self.lock_node()?;
        self.write(write::recover_after_restart).await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        read::get_meta(&mut *self.reader().await?, key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |tx| write::set_meta(tx, &key, &value))
            .await
    }

    async fn create_tenant(&self, tenant: &Tenant, api_key_sha256: &str) -> Result<()> {
        let (tenant, sha) = (tenant.clone(), api_key_sha256.to_string());
        self.write(move |tx| write::create_tenant(tx, &tenant, &sha))
            .await
    }

    async fn tenant_by_key(&self, api_key_sha256: &str) -> Result<Option<Tenant>> {
        read::tenant_by_key(&mut *self.reader().await?, api_key_sha256).await
    }

    async fn put_integration(&self, owner: Owner<'_>, integration: &Integration) -> Result<()> {
        let (tenant, i) = (owned(owner), integration.clone());
        self.write(move |tx| write::put_integration(tx, tenant.as_deref(), &i))
            .await
    }

    async fn get_integration(
        &self,
        owner: Owner<'_>,
        channel: Channel,
    ) -> Result<Option<Integration>> {
        read::get_integration(&mut *self.reader().await?, owner, channel).await
    }

    async fn list_integrations(&self, owner: Owner<'_>) -> Result<Vec<Integration>> {
        read::list_integrations(&mut *self.reader().await?, owner).await
    }

    async fn delete_integration(&self, owner: Owner<'_>, channel: Channel) -> Result<bool> {
        let tenant = owned(owner);
        let n = self
            .write(move |tx| write::delete_integration(tx, tenant.as_deref(), channel))
            .await?;
        Ok(n > 0)
    }

    async fn integration_by_hook(&self, hook_id: &str) -> Result<Option<HookedIntegration>> {
        read::integration_by_hook(&mut *self.reader().await?, hook_id).await
    }

    async fn integrations_of_provider(&self, provider: &str) -> Result<Vec<HookedIntegration>> {
        read::integrations_of_provider(&mut *self.reader().await?, provider).await
    }

    async fn put_type(&self, tenant_id: &str, t: &NotificationType) -> Result<()> {
        let (tenant, t) = (tenant_id.to_string(), t.clone());
        self.write(move |tx| write::put_type(tx, &tenant, &t)).await
    }

    async fn get_type(&self, tenant_id: &str, key: &str) -> Result<Option<NotificationType>> {
        read::get_type(&mut *self.reader().await?, tenant_id, key).await
    }

    async fn list_types(&self, tenant_id: &str) -> Result<Vec<NotificationType>> {
        read::list_types(&mut *self.reader().await?, tenant_id).await
    }

    async fn put_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
        r: &herald_core::Recipient,
    ) -> Result<()> {
        let (tenant, id, doc) = (tenant_id.to_string(), id.to_string(), r.clone());
        self.write(move |tx| write::put_recipient(tx, &tenant, kind, &id, &doc))
            .await
    }

    async fn get_recipient(
        &self,
        tenant_id: &str,
        kind: Audience,
        id: &str,
    ) -> Result<Option<herald_core::Recipient>> {
        read::get_recipient(&mut *self.reader().await?, tenant_id, kind, id).await
    }

    async fn accept_notification(&self, n: NewNotification) -> Result<Accepted> {
        self.write(move |tx| ready::now(flow::accept(tx, &n))?)
            .await
    }

    async fn get_notification(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<NotificationRecord>> {
        // One read transaction, so the notification and its attempts come
        // from the same snapshot.
        let mut tx = self.pool.begin().await.db()?;
        let found = log::get_notification(&mut tx, tenant_id, id).await?;
        tx.commit().await.db()?;
        Ok(found)
    }

    async fn list_notifications(
        &self,
        tenant_id: &str,
        q: &ListQuery,
    ) -> Result<Vec<NotificationSummary>> {
        log::list_notifications(&mut *self.reader().await?, tenant_id, q).await
    }

    async fn claim_attempts(
        &self,
        now: Millis,
        limit: usize,
        lease_ms: Millis,
        budget: &ClaimBudget,
    ) -> Result<Vec<ClaimedAttempt>> {
        let budget = budget.clone();
        self.write(move |tx| ready::now(flow::claim(tx, now, limit, lease_ms, &budget))?)
            .await
    }

    async fn record_send_results(&self, results: Vec<SendResult>) -> Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.write(move |tx| ready::now(flow::record_results(tx, &results))?)
            .await
    }

    async fn record_receipt(&self, r: IncomingReceipt) -> Result<ReceiptMatch> {
        self.write(move |tx| ready::now(flow::record_receipt(tx, &r))?)
            .await
    }

    async fn record_receipts(&self, rs: Vec<IncomingReceipt>) -> Vec<Result<ReceiptMatch>> {
        // One hand-off to the writer for the batch; the copy is for the
        // fallback, each alone, should the batch fail.
        let batch = rs.clone();
        let done = self
            .write(move |tx| ready::now(flow::record_receipts(tx, &batch))?)
            .await;
        crate::batch::receipts_or_each(self, rs, done).await
    }

    async fn wake_due(&self, now: Millis, limit: usize) -> Result<usize> {
        self.write(move |tx| ready::now(flow::wake_due(tx, now, limit))?)
            .await
    }

    async fn next_due_at(&self) -> Result<Option<Millis>> {
        read::next_due_at(&mut *self.reader().await?).await
    }

    /// The whole round is one job: one hand-off to the writer and one
    /// commit, each part in a savepoint of its own.
    async fn dispatch_round(&self, round: Round) -> Result<RoundDone> {
        self.write(move |tx| {
            let recorded = if round.results.is_empty() {
                Ok(())
            } else {
                writer::part(tx, |tx| {
                    ready::now(flow::record_results(tx, &round.results))?
                })
            };
            let woken = match round.wake_limit {
                Some(limit) => {
                    writer::part(tx, |tx| ready::now(flow::wake_due(tx, round.now, limit))?)
                }
                None => Ok(0),
            };
            let claimed = writer::part(tx, |tx| {
                ready::now(flow::claim(
                    tx,
                    round.now,
                    round.limit,
                    round.lease_ms,
                    &round.budget,
                ))?
            });
            let next_due_at = write::next_due_at(tx);
            Ok(RoundDone {
                recorded,
                woken,
                claimed,
                next_due_at,
            })
        })
        .await
    }

    async fn delete_type(&self, tenant_id: &str, key: &str) -> Result<bool> {
        self.remove_type(tenant_id, key).await
    }

    async fn delete_recipient(&self, tenant_id: &str, kind: Audience, id: &str) -> Result<bool> {
        self.remove_recipient(tenant_id, kind, id).await
    }

    async fn list_recipients(
        &self,
        tenant_id: &str,
        kind: Audience,
        q: &crate::RecipientQuery,
    ) -> Result<Vec<(String, herald_core::Recipient)>> {
        self.recipients(tenant_id, kind, q).await
    }

    async fn cancel_notification(&self, tenant_id: &str, id: &str, now: Millis) -> Result<bool> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.write(move |tx| ready::now(booking::cancel(tx, &tenant_id, &id, now))?)
            .await
    }

    async fn cancel_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        now: Millis,
    ) -> Result<Option<BookingCancelled>> {
        let (tenant_id, booking_id) = (tenant_id.to_string(), booking_id.to_string());
        self.write(move |tx| ready::now(booking::cancel_booking(tx, &tenant_id, &booking_id, now))?)
            .await
    }

    async fn reschedule_booking(
        &self,
        tenant_id: &str,
        booking_id: &str,
        starts_at: Millis,
        now: Millis,
    ) -> Result<Option<usize>> {
        let (tenant_id, booking_id) = (tenant_id.to_string(), booking_id.to_string());
        self.write(move |tx| {
            ready::now(booking::reschedule_booking(
                tx,
                &tenant_id,
                &booking_id,
                starts_at,
                now,
            ))?
        })
        .await
    }

    async fn tenant_timezone(&self, tenant_id: &str) -> Result<Option<String>> {
        read::tenant_timezone(&mut *self.reader().await?, tenant_id).await
    }

    async fn set_tenant_timezone(&self, tenant_id: &str, timezone: Option<&str>) -> Result<()> {
        let (tenant_id, tz) = (tenant_id.to_string(), timezone.map(str::to_string));
        self.write(move |tx| {
            tx.conn
                .prepare_cached("UPDATE tenants SET timezone = ?2 WHERE id = ?1")
                .db()?
                .execute(rusqlite::params![tenant_id, tz])
                .db()?;
            Ok(())
        })
        .await
    }

    async fn prune(&self, now: Millis, limits: crate::PruneLimits) -> Result<crate::Pruned> {
        self.write(move |tx| prune::prune(tx, now, limits)).await
    }
}

#[async_trait]
impl SimStore for SqliteStore {
    async fn sim_send(&self, s: SimSend) -> Result<SimAnswer> {
        self.write(move |tx| sim::sim_send(tx, &s)).await
    }

    async fn sim_due_receipts(&self, now: Millis, limit: usize) -> Result<Vec<SimReceiptDue>> {
        sim_read::sim_due_receipts(&mut *self.reader().await?, now, limit).await
    }

    async fn sim_mark_sent(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |tx| sim::sim_mark_sent(tx, &ids)).await
    }

    async fn sim_next_receipt_at(&self) -> Result<Option<Millis>> {
        sim_read::sim_next_receipt_at(&mut *self.reader().await?).await
    }

    async fn sim_outbox(&self, tenant_id: &str, q: &OutboxQuery) -> Result<Vec<SimMessage>> {
        sim_read::sim_outbox(&mut *self.reader().await?, tenant_id, q).await
    }

    async fn sim_prune(&self, before: Millis, limit: usize) -> Result<crate::Pruned> {
        self.write(move |tx| prune::sim_prune(tx, before, limit))
            .await
    }
}

/// The tenant id of an owner; `None` for the operator.
fn owned(owner: Owner<'_>) -> Option<String> {
    match owner {
        Owner::Tenant(t) => Some(t.to_string()),
        Owner::Operator => None,
    }
}
