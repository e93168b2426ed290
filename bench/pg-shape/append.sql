-- pgbench script: the same 25 two-step cascades as current.sql, written in
-- the append-only shape of append-schema.sql. A model of the writes, not
-- Herald.
SELECT nextval('shape_batches') AS k \gset
\set now 1700000000000
-- accept: the notifications, their first attempts, queued
BEGIN;
INSERT INTO notifications (id, tenant_id, type_key, audience, recipient_id, data,
    request_sha256, rendered, created_at, plan_id)
SELECT 'n' || :k || '-' || g, 't1', 'booking', 'client', 'r' || g, '{"when":"10:00"}',
    md5(g::text),
    '[["Your booking","","Ana, see you at 10:00 on Monday"],"Ana, see you at 10:00"]',
    :now, 1
FROM generate_series(1, 25) g;
INSERT INTO attempts (id, notification_id, tenant_id, channel_idx, channel, route, to_addr,
    created_at, deadline, via_hook)
SELECT 'a' || :k || '-' || g || '-0', 'n' || :k || '-' || g, 't1', 0, 'email', 'smtp',
    'ana' || g || '@example.com', :now, :now + 86400000, 'h1'
FROM generate_series(1, 25) g;
INSERT INTO queue (attempt_id, tenant_id, channel, due_at)
SELECT 'a' || :k || '-' || g || '-0', 't1', 'email', :now FROM generate_series(1, 25) g;
COMMIT;
-- claim the e-mails: a lease, no index touched
UPDATE queue SET lease_until = :now + 30000, requests = requests + 1
WHERE attempt_id IN (SELECT 'a' || :k || '-' || g || '-0' FROM generate_series(1, 25) g)
  AND lease_until IS NULL;
-- their answers (refused), the step, the SMS attempts
BEGIN;
DELETE FROM queue
WHERE attempt_id IN (SELECT 'a' || :k || '-' || g || '-0' FROM generate_series(1, 25) g);
INSERT INTO answers (attempt_id, at, status, error)
SELECT 'a' || :k || '-' || g || '-0', :now, 'refused', 'mailbox unavailable'
FROM generate_series(1, 25) g;
SELECT id FROM notifications
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g) FOR NO KEY UPDATE;
INSERT INTO steps (notification_id, at, verdicts)
SELECT 'n' || :k || '-' || g, :now, '[[2,"mailbox unavailable"],null]'
FROM generate_series(1, 25) g;
INSERT INTO attempts (id, notification_id, tenant_id, channel_idx, channel, route, to_addr,
    created_at, deadline, via_hook)
SELECT 'a' || :k || '-' || g || '-1', 'n' || :k || '-' || g, 't1', 1, 'sms', 'twilio',
    '+1555000' || g, :now, :now + 86400000, 'h2'
FROM generate_series(1, 25) g;
INSERT INTO queue (attempt_id, tenant_id, channel, due_at)
SELECT 'a' || :k || '-' || g || '-1', 't1', 'sms', :now FROM generate_series(1, 25) g;
COMMIT;
-- claim the SMS
UPDATE queue SET lease_until = :now + 30000, requests = requests + 1
WHERE attempt_id IN (SELECT 'a' || :k || '-' || g || '-1' FROM generate_series(1, 25) g)
  AND lease_until IS NULL;
-- their answers (accepted, a provider message id), the step
BEGIN;
DELETE FROM queue
WHERE attempt_id IN (SELECT 'a' || :k || '-' || g || '-1' FROM generate_series(1, 25) g);
INSERT INTO answers (attempt_id, at, status, provider_message_id, via_hook, cost_micros)
SELECT 'a' || :k || '-' || g || '-1', :now, 'accepted', 'SM' || :k || '-' || g, 'h2', 7900
FROM generate_series(1, 25) g;
SELECT id FROM notifications
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g) FOR NO KEY UPDATE;
INSERT INTO steps (notification_id, at, verdicts)
SELECT 'n' || :k || '-' || g, :now, '[[2,"mailbox unavailable"],[1,null]]'
FROM generate_series(1, 25) g;
COMMIT;
-- the receipts: delivered, the outcome
BEGIN;
INSERT INTO receipts (attempt_id, delivered, at, late)
SELECT 'a' || :k || '-' || g || '-1', true, :now, false FROM generate_series(1, 25) g;
SELECT id FROM notifications
WHERE id IN (SELECT 'n' || :k || '-' || g FROM generate_series(1, 25) g) FOR NO KEY UPDATE;
INSERT INTO steps (notification_id, at, verdicts)
SELECT 'n' || :k || '-' || g, :now, '[[2,"mailbox unavailable"],[0,null]]'
FROM generate_series(1, 25) g;
INSERT INTO outcomes (notification_id, tenant_id, status, finished_at)
SELECT 'n' || :k || '-' || g, 't1', 'delivered', :now FROM generate_series(1, 25) g;
COMMIT;
