-- pgbench script: 25 two-step cascades (e-mail refused, SMS accepted, SMS
-- delivered by receipt) through the row writes Herald's PostgreSQL store
-- makes today, on its own migrated schema (herald migrate). One statement
-- per batch as the store's group commits do; the simulator's own rows are
-- left out (the same in either shape). A model of the writes, not Herald.
SELECT nextval('shape_batches') AS k \gset
\set now 1700000000000
-- accept: the notifications and their first attempts
BEGIN;
INSERT INTO notifications (id, tenant_id, type_key, audience, recipient_id, data,
    request_sha256, status, rendered, verdicts, created_at, updated_at, plan_id)
SELECT 'n' || :k || '-' || g, 't1', 'booking', 'client', 'r' || g, '{"when":"10:00"}',
    md5(g::text), 'pending',
    '[["Your booking","","Ana, see you at 10:00 on Monday"],"Ana, see you at 10:00"]',
    '[null,null]', :now, :now, 1
FROM generate_series(1, 25) g;
INSERT INTO attempts (id, notification_id, tenant_id, channel_idx, channel, route, to_addr,
    idempotency_key, status, created_at, deadline, next_try_at, via_hook)
SELECT 'a' || :k || '-' || g || '-0', 'n' || :k || '-' || g, 't1', 0, 'email', 'smtp',
    'ana' || g || '@example.com', 'k' || :k || '-' || g || '-0', 'queued', :now,
    :now + 86400000, :now, 'h1'
FROM generate_series(1, 25) g;
COMMIT;
-- claim the e-mails
UPDATE attempts SET status = 'sending', lease_until = :now + 30000, requests = requests + 1,
    sent_at = :now
WHERE id IN (SELECT 'a' || :k || '-' || g || '-0' FROM generate_series(1, 25) g)
  AND status = 'queued';
-- their answers (refused), the step, the SMS attempts
BEGIN;
UPDATE attempts SET status = 'refused', answered_at = :now, lease_until = NULL,
    error = 'mailbox unavailable'
WHERE id IN (SELECT 'a' || :k || '-' || g || '-0' FROM generate_series(1, 25) g);
SELECT id FROM notifications
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g) FOR NO KEY UPDATE;
UPDATE notifications SET verdicts = '[[2,"mailbox unavailable"],null]', updated_at = :now
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g);
INSERT INTO attempts (id, notification_id, tenant_id, channel_idx, channel, route, to_addr,
    idempotency_key, status, created_at, deadline, next_try_at, via_hook)
SELECT 'a' || :k || '-' || g || '-1', 'n' || :k || '-' || g, 't1', 1, 'sms', 'twilio',
    '+1555000' || g, 'k' || :k || '-' || g || '-1', 'queued', :now, :now + 86400000, :now, 'h2'
FROM generate_series(1, 25) g;
COMMIT;
-- claim the SMS
UPDATE attempts SET status = 'sending', lease_until = :now + 30000, requests = requests + 1,
    sent_at = :now
WHERE id IN (SELECT 'a' || :k || '-' || g || '-1' FROM generate_series(1, 25) g)
  AND status = 'queued';
-- their answers (accepted, a provider message id), the step
BEGIN;
UPDATE attempts SET status = 'accepted', answered_at = :now, lease_until = NULL,
    provider_message_id = 'SM' || :k || '-' || substr(id, length(id) - 3), cost_micros = 7900
WHERE id IN (SELECT 'a' || :k || '-' || g || '-1' FROM generate_series(1, 25) g);
SELECT id FROM notifications
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g) FOR NO KEY UPDATE;
UPDATE notifications SET verdicts = '[[2,"mailbox unavailable"],[1,null]]', updated_at = :now
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g);
COMMIT;
-- the receipts: delivered, the outcome
BEGIN;
INSERT INTO receipts (attempt_id, delivered, at, late)
SELECT 'a' || :k || '-' || g || '-1', true, :now, false FROM generate_series(1, 25) g;
SELECT id FROM notifications
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g) FOR NO KEY UPDATE;
UPDATE notifications SET status = 'delivered', verdicts = '[[2,"mailbox unavailable"],[0,null]]',
    updated_at = :now, finished_at = :now
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g);
COMMIT;
