-- Retention (`Store::prune`): finished notifications by their last
-- update, keyed ones by age (keys expire), and the simulator's outbox by
-- age, so that each prune batch reads only the rows it removes. The list
-- of statuses is `herald_store::FINISHED_SQL` and must stay the same.
-- (Numbered 0009 to stay clear of migrations added beside it.)
CREATE INDEX notifications_finished ON notifications (updated_at)
    WHERE status IN ('delivered', 'failed', 'cancelled', 'expired');
CREATE INDEX notifications_keyed ON notifications (created_at)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX sim_messages_received ON sim_messages (received_at);
