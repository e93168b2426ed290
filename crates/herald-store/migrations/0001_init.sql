-- Herald's SQLite schema. Times are epoch milliseconds (INTEGER); JSON
-- documents are TEXT written by serde_json; enums are their API names.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE tenants (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    api_key_sha256 TEXT NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE integrations (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    channel    TEXT NOT NULL,
    provider   TEXT NOT NULL,
    settings   TEXT NOT NULL,
    confirm    TEXT NOT NULL,
    window_s   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel)
) STRICT;

CREATE TABLE notification_types (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    key        TEXT NOT NULL,
    config     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT;

CREATE TABLE recipients (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
) STRICT;

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    type_key        TEXT NOT NULL,
    audience        TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    data            TEXT NOT NULL,
    -- NULL keys may repeat: SQLite treats NULLs as distinct in UNIQUE.
    idempotency_key TEXT,
    request_sha256  TEXT NOT NULL,
    status          TEXT NOT NULL,
    plan            TEXT NOT NULL,
    rendered        TEXT NOT NULL,
    verdicts        TEXT NOT NULL,
    wake_at         INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
) STRICT;

-- The log, newest first, with and without a status filter.
CREATE INDEX notifications_by_tenant ON notifications (tenant_id, id);
CREATE INDEX notifications_by_tenant_status ON notifications (tenant_id, status, id);
-- wake_due and next_due_at.
CREATE INDEX notifications_wake ON notifications (wake_at) WHERE status = 'pending';

CREATE TABLE attempts (
    id                  TEXT PRIMARY KEY NOT NULL,
    notification_id     TEXT NOT NULL REFERENCES notifications (id),
    tenant_id           TEXT NOT NULL,
    channel_idx         INTEGER NOT NULL,
    channel             TEXT NOT NULL,
    route               TEXT NOT NULL,
    to_addr             TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL UNIQUE,
    provider_message_id TEXT,
    -- queued | sending | accepted | refused | gave_up
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
    subject             TEXT,
    title               TEXT,
    body                TEXT NOT NULL,
    -- No attempt is ever created twice for one channel, route and address
    -- of a notification (also the index for "attempts of a notification").
    UNIQUE (notification_id, channel_idx, route, to_addr)
) STRICT;

CREATE INDEX attempts_by_provider_message ON attempts (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- The claim query: queued and due, or sending with a lapsed lease.
CREATE INDEX attempts_queued ON attempts (next_try_at) WHERE status = 'queued';
CREATE INDEX attempts_sending ON attempts (lease_until) WHERE status = 'sending';

CREATE TABLE receipts (
    attempt_id TEXT NOT NULL REFERENCES attempts (id),
    delivered  INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    late       INTEGER NOT NULL,
    error      TEXT,
    -- The same receipt twice changes nothing.
    PRIMARY KEY (attempt_id, delivered)
) STRICT, WITHOUT ROWID;

CREATE TABLE sim_messages (
    id                TEXT PRIMARY KEY NOT NULL,
    tenant_id         TEXT NOT NULL,
    notification_id   TEXT NOT NULL,
    channel           TEXT NOT NULL,
    route             TEXT NOT NULL,
    to_addr           TEXT NOT NULL,
    subject           TEXT,
    title             TEXT,
    body              TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL UNIQUE,
    requests          INTEGER NOT NULL,
    outcome           TEXT NOT NULL,
    -- The answer rule fixed by the first request: this many transient
    -- errors, then the final answer.
    transient_first   INTEGER NOT NULL,
    final_kind        TEXT NOT NULL,
    final_error       TEXT,
    final_unreachable INTEGER NOT NULL DEFAULT 0,
    -- NULL: no receipt follows; else delivered (1) or failed (0).
    receipt_delivered INTEGER,
    -- Set when a request first gets past the transient errors.
    receipt_due_at    INTEGER,
    receipt_sent      INTEGER NOT NULL DEFAULT 0,
    record            INTEGER NOT NULL,
    received_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX sim_messages_due ON sim_messages (receipt_due_at)
    WHERE receipt_sent = 0 AND receipt_due_at IS NOT NULL;
CREATE INDEX sim_messages_outbox ON sim_messages (tenant_id, id) WHERE record = 1;
