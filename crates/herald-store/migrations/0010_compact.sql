-- Compact rows (issue 12 item 6: about 1 KB per finished two-step
-- notification). Rows refer to each other by small integers instead of
-- 36-character texts: each tenant gets a number (`tenants.no`) that
-- notifications and attempts carry instead of its uuid; a notification
-- has an integer row number (`no`) that its attempts refer to; an
-- attempt's id is its integer row number (shown as zero-padded decimal
-- text, see sqlite/compact.rs), which receipts refer to. Attempts no
-- longer copy their texts: the claim reads them from the notification's
-- `rendered` by channel. A plan is stored as its shape, once in `plans`
-- for every notification that shares it (`plan_no`), and its reach (the
-- addresses) on the notification (sqlite/docs.rs; a copied row keeps its
-- whole plan in `plans` and a NULL reach). The request's digest is kept
-- only with an idempotency key (it only tells a repeat of a keyed
-- request), and the key's unique index holds only notifications that
-- have one. Uuids (notification ids, attempts' idempotency keys, the
-- simulator's message ids) and digests are stored as their bytes in ANY
-- columns: a value not in the canonical lowercase form stays text
-- (sqlite/compact.rs reads both back as the same string). Existing rows
-- are copied.

ALTER TABLE tenants ADD COLUMN no INTEGER;
UPDATE tenants SET no = rowid;
CREATE UNIQUE INDEX tenants_by_no ON tenants (no);

-- Plan shapes, each stored once (never removed: one per type and set of
-- integrations, a handful per tenant).
CREATE TABLE plans (
    no  INTEGER PRIMARY KEY,
    doc TEXT NOT NULL UNIQUE
) STRICT;
INSERT INTO plans (doc) SELECT DISTINCT plan FROM notifications ORDER BY plan;

CREATE TABLE notifications_new (
    no                    INTEGER PRIMARY KEY,
    id                    ANY NOT NULL UNIQUE,
    tenant_no             INTEGER NOT NULL,
    type_key              TEXT NOT NULL,
    audience              TEXT NOT NULL,
    recipient_id          TEXT NOT NULL,
    data                  TEXT NOT NULL,
    idempotency_key       TEXT,
    request_sha256        ANY,
    status                TEXT NOT NULL,
    plan_no               INTEGER NOT NULL REFERENCES plans (no),
    reach                 TEXT,
    rendered              TEXT NOT NULL,
    verdicts              TEXT NOT NULL,
    wake_at               INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    schedule              TEXT,
    booking_id            TEXT,
    booking_starts_at     INTEGER,
    send_before_start_ms  INTEGER,
    deadline_from_booking INTEGER NOT NULL DEFAULT 0
) STRICT;

INSERT INTO notifications_new (id, tenant_no, type_key, audience, recipient_id, data,
    idempotency_key, request_sha256, status, plan_no, reach, rendered, verdicts, wake_at,
    created_at, updated_at, schedule, booking_id, booking_starts_at, send_before_start_ms,
    deadline_from_booking)
SELECT n.id, t.no, n.type_key, n.audience, n.recipient_id, n.data, n.idempotency_key,
    CASE WHEN n.idempotency_key IS NULL THEN NULL
        WHEN length(n.request_sha256) % 2 = 0 AND length(n.request_sha256) > 0
        AND n.request_sha256 NOT GLOB '*[^0-9a-f]*'
        THEN unhex(n.request_sha256) ELSE n.request_sha256 END,
    n.status, (SELECT p.no FROM plans p WHERE p.doc = n.plan), NULL, n.rendered, n.verdicts,
    n.wake_at, n.created_at,
    n.updated_at, n.schedule, n.booking_id, n.booking_starts_at, n.send_before_start_ms,
    n.deadline_from_booking
FROM notifications n JOIN tenants t ON t.id = n.tenant_id
ORDER BY n.id;

-- Receipt hooks by number: an attempt keeps the number of the hook it
-- went out through (`via_hook`), not the hook's id. Every hook an
-- integration ever had is here (the store adds it when the integration
-- is put), stored as its bytes like `hex_value`; never removed.
CREATE TABLE hooks (
    no INTEGER PRIMARY KEY,
    id ANY NOT NULL UNIQUE
) STRICT;
INSERT INTO hooks (id)
SELECT h FROM (
    SELECT hook_id AS h FROM integrations WHERE hook_id IS NOT NULL
    UNION SELECT hook_id FROM operator_integrations
    UNION SELECT via_hook FROM attempts WHERE via_hook IS NOT NULL)
ORDER BY h;
UPDATE hooks SET id = unhex(id)
WHERE length(id) > 0 AND length(id) % 2 = 0 AND id NOT GLOB '*[^0-9a-f]*';

CREATE TABLE attempts_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_no     INTEGER NOT NULL,
    tenant_no           INTEGER NOT NULL,
    channel_idx         INTEGER NOT NULL,
    channel             TEXT NOT NULL,
    route               TEXT NOT NULL,
    to_addr             TEXT NOT NULL,
    idempotency_key     ANY NOT NULL UNIQUE,
    provider_message_id ANY,
    status              TEXT NOT NULL,
    error               TEXT,
    unreachable         INTEGER NOT NULL DEFAULT 0,
    requests            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    deadline            INTEGER NOT NULL,
    sent_at             INTEGER,
    answered_at         INTEGER,
    next_try_at         INTEGER NOT NULL,
    lease_until         INTEGER,
    via_hook            INTEGER REFERENCES hooks (no),
    cost_micros         INTEGER,
    not_after           INTEGER
) STRICT;
-- The attempts of a notification; no attempt is created twice for one
-- channel, route and address of a notification (checked on insert over
-- this index: a unique index over the texts costs more than it saves).
CREATE INDEX attempts_by_notification ON attempts_new (notification_no);

-- Old attempt ids are uuids; the new ones keep their order.
INSERT INTO attempts_new (notification_no, tenant_no, channel_idx, channel, route, to_addr,
    idempotency_key, provider_message_id, status, error, unreachable, requests, created_at,
    deadline, sent_at, answered_at, next_try_at, lease_until, via_hook, cost_micros, not_after)
SELECT n.no, n.tenant_no, a.channel_idx, a.channel, a.route, a.to_addr, a.idempotency_key,
    a.provider_message_id, a.status, a.error, a.unreachable, a.requests, a.created_at,
    a.deadline, a.sent_at, a.answered_at, a.next_try_at, a.lease_until,
    (SELECT h.no FROM hooks h WHERE h.id = CASE WHEN length(a.via_hook) > 0
        AND length(a.via_hook) % 2 = 0 AND a.via_hook NOT GLOB '*[^0-9a-f]*'
        THEN unhex(a.via_hook) ELSE a.via_hook END),
    a.cost_micros, a.not_after
FROM attempts a JOIN notifications_new n ON n.id = a.notification_id
ORDER BY a.created_at, a.id;

CREATE TABLE receipts_new (
    attempt_id INTEGER NOT NULL,
    delivered  INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    late       INTEGER NOT NULL,
    error      TEXT,
    -- The same receipt twice changes nothing.
    PRIMARY KEY (attempt_id, delivered)
) STRICT, WITHOUT ROWID;

INSERT INTO receipts_new (attempt_id, delivered, at, late, error)
SELECT an.id, r.delivered, r.at, r.late, r.error
FROM receipts r JOIN attempts a ON a.id = r.attempt_id
    JOIN notifications_new n ON n.id = a.notification_id
    JOIN attempts_new an ON an.notification_no = n.no AND an.channel_idx = a.channel_idx
        AND an.route = a.route AND an.to_addr = a.to_addr;

-- Canonical uuids as their 16 bytes (the copies above joined on the text).
UPDATE notifications_new SET id = unhex(replace(id, '-', ''))
WHERE length(id) = 36 AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
    AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-'
    AND length(replace(id, '-', '')) = 32 AND replace(id, '-', '') NOT GLOB '*[^0-9a-f]*';
UPDATE attempts_new SET idempotency_key = unhex(replace(idempotency_key, '-', ''))
WHERE length(idempotency_key) = 36 AND substr(idempotency_key, 9, 1) = '-'
    AND substr(idempotency_key, 14, 1) = '-' AND substr(idempotency_key, 19, 1) = '-'
    AND substr(idempotency_key, 24, 1) = '-'
    AND length(replace(idempotency_key, '-', '')) = 32
    AND replace(idempotency_key, '-', '') NOT GLOB '*[^0-9a-f]*';
UPDATE attempts_new SET provider_message_id = unhex(replace(provider_message_id, '-', ''))
WHERE length(provider_message_id) = 36 AND substr(provider_message_id, 9, 1) = '-'
    AND substr(provider_message_id, 14, 1) = '-' AND substr(provider_message_id, 19, 1) = '-'
    AND substr(provider_message_id, 24, 1) = '-'
    AND length(replace(provider_message_id, '-', '')) = 32
    AND replace(provider_message_id, '-', '') NOT GLOB '*[^0-9a-f]*';

DROP TABLE receipts;
DROP TABLE attempts;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
ALTER TABLE attempts_new RENAME TO attempts;
ALTER TABLE receipts_new RENAME TO receipts;

-- The log, newest first, with and without a status filter.
CREATE INDEX notifications_by_tenant ON notifications (tenant_no, id);
CREATE INDEX notifications_by_tenant_status ON notifications (tenant_no, status, id);
-- Keys are unique per tenant; notifications without one take no room.
CREATE UNIQUE INDEX notifications_by_key ON notifications (tenant_no, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX notifications_wake ON notifications (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX notifications_by_booking ON notifications (tenant_no, booking_id)
    WHERE booking_id IS NOT NULL;
CREATE INDEX notifications_finished ON notifications (updated_at)
    WHERE status IN ('delivered', 'failed', 'cancelled', 'expired');
CREATE INDEX notifications_keyed ON notifications (created_at)
    WHERE idempotency_key IS NOT NULL;

-- Receipts are matched by the provider's id within the hook's messages:
-- the id alone is selective, the hook is checked on the row.
CREATE INDEX attempts_by_message ON attempts (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX attempts_queued ON attempts (next_try_at, tenant_no, channel) WHERE status = 'queued';
CREATE INDEX attempts_sending ON attempts (lease_until) WHERE status = 'sending';

-- The simulator's messages: the same columns, its message ids and the
-- idempotency keys as uuid bytes, hook ids as hex bytes.
CREATE TABLE sim_messages_new (
    id                ANY PRIMARY KEY NOT NULL,
    tenant_id         TEXT NOT NULL,
    notification_id   TEXT NOT NULL,
    channel           TEXT NOT NULL,
    route             TEXT NOT NULL,
    to_addr           TEXT NOT NULL,
    subject           TEXT,
    title             TEXT,
    body              TEXT NOT NULL,
    idempotency_key   ANY NOT NULL UNIQUE,
    requests          INTEGER NOT NULL,
    outcome           TEXT NOT NULL,
    transient_first   INTEGER NOT NULL,
    final_kind        TEXT NOT NULL,
    final_error       TEXT,
    final_unreachable INTEGER NOT NULL DEFAULT 0,
    receipt_delivered INTEGER,
    receipt_due_at    INTEGER,
    receipt_sent      INTEGER NOT NULL DEFAULT 0,
    record            INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    hook_id           ANY NOT NULL DEFAULT ''
) STRICT;
INSERT INTO sim_messages_new SELECT id, tenant_id, notification_id, channel, route, to_addr,
    subject, title, body, idempotency_key, requests, outcome, transient_first, final_kind,
    final_error, final_unreachable, receipt_delivered, receipt_due_at, receipt_sent, record,
    received_at, hook_id
FROM sim_messages;
UPDATE sim_messages_new SET id = unhex(replace(id, '-', ''))
WHERE length(id) = 36 AND substr(id, 9, 1) = '-' AND substr(id, 14, 1) = '-'
    AND substr(id, 19, 1) = '-' AND substr(id, 24, 1) = '-'
    AND length(replace(id, '-', '')) = 32 AND replace(id, '-', '') NOT GLOB '*[^0-9a-f]*';
UPDATE sim_messages_new SET idempotency_key = unhex(replace(idempotency_key, '-', ''))
WHERE length(idempotency_key) = 36 AND substr(idempotency_key, 9, 1) = '-'
    AND substr(idempotency_key, 14, 1) = '-' AND substr(idempotency_key, 19, 1) = '-'
    AND substr(idempotency_key, 24, 1) = '-'
    AND length(replace(idempotency_key, '-', '')) = 32
    AND replace(idempotency_key, '-', '') NOT GLOB '*[^0-9a-f]*';
UPDATE sim_messages_new SET hook_id = unhex(hook_id)
WHERE length(hook_id) > 0 AND length(hook_id) % 2 = 0 AND hook_id NOT GLOB '*[^0-9a-f]*';
DROP TABLE sim_messages;
ALTER TABLE sim_messages_new RENAME TO sim_messages;
CREATE INDEX sim_messages_due ON sim_messages (receipt_due_at)
    WHERE receipt_sent = 0 AND receipt_due_at IS NOT NULL;
CREATE INDEX sim_messages_outbox ON sim_messages (tenant_id, id) WHERE record = 1;
CREATE INDEX sim_messages_received ON sim_messages (received_at);
