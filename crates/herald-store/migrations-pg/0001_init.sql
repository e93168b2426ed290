-- Herald's PostgreSQL schema: the same tables as SQLite's (migrations/
-- 0001 to 0004 folded into one), for many nodes on one database.
-- Times are epoch milliseconds (BIGINT); JSON documents are TEXT written
-- by serde_json, so they come back byte for byte as written (JSONB would
-- reorder keys and cost a parse on every write; nothing here queries
-- inside a document except the people search, which casts). Ids and keys
-- use the "C" collation: byte order, as SQLite compares, whatever the
-- cluster's locale (paging by `id > after` depends on it).

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id             TEXT COLLATE "C" PRIMARY KEY,
    name           TEXT NOT NULL,
    api_key_sha256 TEXT NOT NULL UNIQUE,
    created_at     BIGINT NOT NULL
);

CREATE TABLE integrations (
    tenant_id         TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    channel           TEXT COLLATE "C" NOT NULL,
    provider          TEXT NOT NULL,
    settings          TEXT NOT NULL,
    confirm           TEXT NOT NULL,
    window_s          BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    -- The random id of its receipt webhook (/v1/hooks/{hook_id}).
    hook_id           TEXT COLLATE "C" NOT NULL UNIQUE,
    max_per_second    DOUBLE PRECISION,
    price_per_segment DOUBLE PRECISION,
    PRIMARY KEY (tenant_id, channel)
);

-- The operator's integrations, inherited by tenants without their own.
CREATE TABLE operator_integrations (
    channel           TEXT COLLATE "C" PRIMARY KEY,
    provider          TEXT NOT NULL,
    settings          TEXT NOT NULL,
    confirm           TEXT NOT NULL,
    window_s          BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    hook_id           TEXT COLLATE "C" NOT NULL UNIQUE,
    max_per_second    DOUBLE PRECISION,
    price_per_segment DOUBLE PRECISION
);

CREATE TABLE notification_types (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    key        TEXT COLLATE "C" NOT NULL,
    config     TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE recipients (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    kind       TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    doc        TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
);

CREATE TABLE notifications (
    id              TEXT COLLATE "C" PRIMARY KEY,
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    type_key        TEXT COLLATE "C" NOT NULL,
    audience        TEXT NOT NULL,
    recipient_id    TEXT COLLATE "C" NOT NULL,
    data            TEXT NOT NULL,
    -- NULL keys may repeat (NULLs are distinct in UNIQUE); a taken key is
    -- found by the unique index whichever node inserts it.
    idempotency_key TEXT COLLATE "C",
    request_sha256  TEXT NOT NULL,
    status          TEXT COLLATE "C" NOT NULL,
    plan            TEXT NOT NULL,
    rendered        TEXT NOT NULL,
    verdicts        TEXT NOT NULL,
    wake_at         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
);

-- The log, newest first, with and without a status filter.
CREATE INDEX notifications_by_tenant ON notifications (tenant_id, id);
CREATE INDEX notifications_by_tenant_status ON notifications (tenant_id, status, id);
-- wake_due and next_due_at.
CREATE INDEX notifications_wake ON notifications (wake_at) WHERE status = 'pending';

CREATE TABLE attempts (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    notification_id     TEXT COLLATE "C" NOT NULL REFERENCES notifications (id),
    tenant_id           TEXT COLLATE "C" NOT NULL,
    channel_idx         BIGINT NOT NULL,
    channel             TEXT COLLATE "C" NOT NULL,
    route               TEXT COLLATE "C" NOT NULL,
    to_addr             TEXT COLLATE "C" NOT NULL,
    idempotency_key     TEXT COLLATE "C" NOT NULL UNIQUE,
    provider_message_id TEXT COLLATE "C",
    -- queued | sending | accepted | refused | gave_up
    status              TEXT COLLATE "C" NOT NULL,
    error               TEXT,
    unreachable         BOOLEAN NOT NULL DEFAULT FALSE,
    requests            BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL,
    deadline            BIGINT NOT NULL,
    sent_at             BIGINT,
    answered_at         BIGINT,
    next_try_at         BIGINT NOT NULL,
    lease_until         BIGINT,
    subject             TEXT,
    title               TEXT,
    body                TEXT NOT NULL,
    -- The hook of the integration it went out through: receipts match
    -- only within it.
    via_hook            TEXT COLLATE "C",
    cost_micros         BIGINT,
    -- No attempt is ever created twice for one channel, route and address
    -- of a notification (also the index for "attempts of a notification").
    UNIQUE (notification_id, channel_idx, route, to_addr)
);

CREATE INDEX attempts_by_hook_message ON attempts (via_hook, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- The claim: queued and due, or sending with a lapsed lease.
CREATE INDEX attempts_queued ON attempts (next_try_at, tenant_id, channel)
    WHERE status = 'queued';
CREATE INDEX attempts_sending ON attempts (lease_until) WHERE status = 'sending';

CREATE TABLE receipts (
    attempt_id TEXT COLLATE "C" NOT NULL REFERENCES attempts (id),
    delivered  BOOLEAN NOT NULL,
    at         BIGINT NOT NULL,
    late       BOOLEAN NOT NULL,
    error      TEXT,
    -- The same receipt twice changes nothing, from any node.
    PRIMARY KEY (attempt_id, delivered)
);

CREATE TABLE sim_messages (
    id                TEXT COLLATE "C" PRIMARY KEY,
    tenant_id         TEXT COLLATE "C" NOT NULL,
    notification_id   TEXT COLLATE "C" NOT NULL,
    channel           TEXT COLLATE "C" NOT NULL,
    route             TEXT NOT NULL,
    to_addr           TEXT NOT NULL,
    subject           TEXT,
    title             TEXT,
    body              TEXT NOT NULL,
    -- One message per key across every node: the simulator's no-duplicate
    -- check.
    idempotency_key   TEXT COLLATE "C" NOT NULL UNIQUE,
    requests          BIGINT NOT NULL,
    outcome           TEXT NOT NULL,
    -- The answer rule fixed by the first request: this many transient
    -- errors, then the final answer.
    transient_first   BIGINT NOT NULL,
    final_kind        TEXT NOT NULL,
    final_error       TEXT,
    final_unreachable BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL: no receipt follows; else delivered (true) or failed (false).
    receipt_delivered BOOLEAN,
    -- Set when a request first gets past the transient errors.
    receipt_due_at    BIGINT,
    receipt_sent      BOOLEAN NOT NULL DEFAULT FALSE,
    record            BOOLEAN NOT NULL,
    received_at       BIGINT NOT NULL,
    hook_id           TEXT NOT NULL DEFAULT ''
);

CREATE INDEX sim_messages_due ON sim_messages (receipt_due_at)
    WHERE NOT receipt_sent AND receipt_due_at IS NOT NULL;
CREATE INDEX sim_messages_outbox ON sim_messages (tenant_id, id) WHERE record;
