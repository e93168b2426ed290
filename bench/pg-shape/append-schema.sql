-- The append-only shape the model compares with Herald's: rows are written
-- once and never updated, except a queue row's lease (a HOT update: no
-- index holds it). A notification's state is its steps and its outcome.
CREATE TABLE tenants (id TEXT COLLATE "C" PRIMARY KEY);
INSERT INTO tenants VALUES ('t1');
CREATE TABLE notifications (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id),
    type_key TEXT COLLATE "C" NOT NULL,
    audience TEXT NOT NULL,
    recipient_id TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL,
    idempotency_key TEXT COLLATE "C",
    request_sha256 TEXT NOT NULL,
    rendered TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    plan_id BIGINT NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX notifications_by_tenant ON notifications (tenant_id, id);
CREATE INDEX notifications_keyed ON notifications (created_at) WHERE idempotency_key IS NOT NULL;
-- An attempt's facts, written once; its key is (notification, channel,
-- route, address), and the idempotency key is derived from its id.
CREATE TABLE attempts (
    id TEXT COLLATE "C" PRIMARY KEY,
    notification_id TEXT COLLATE "C" NOT NULL REFERENCES notifications (id),
    tenant_id TEXT COLLATE "C" NOT NULL,
    channel_idx BIGINT NOT NULL,
    channel TEXT COLLATE "C" NOT NULL,
    route TEXT COLLATE "C" NOT NULL,
    to_addr TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    via_hook TEXT COLLATE "C",
    UNIQUE (notification_id, channel_idx, route, to_addr)
);
-- What is due: a row per attempt waiting to be sent, gone once answered.
CREATE TABLE queue (
    attempt_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    channel TEXT COLLATE "C" NOT NULL,
    due_at BIGINT NOT NULL,
    lease_until BIGINT,
    requests BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
CREATE INDEX queue_by_key ON queue (tenant_id, channel, due_at);
-- Answers and receipts of attempts, appended.
CREATE TABLE answers (
    attempt_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    provider_message_id TEXT COLLATE "C",
    via_hook TEXT COLLATE "C",
    error TEXT,
    cost_micros BIGINT
);
CREATE INDEX answers_of ON answers (attempt_id);
CREATE INDEX answers_by_hook_message ON answers (via_hook, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE TABLE receipts (
    attempt_id TEXT COLLATE "C" NOT NULL,
    delivered BOOLEAN NOT NULL,
    at BIGINT NOT NULL,
    late BOOLEAN NOT NULL,
    error TEXT,
    PRIMARY KEY (attempt_id, delivered)
);
-- A notification's steps (its verdicts after each decision), appended.
CREATE TABLE steps (
    notification_id TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    verdicts TEXT NOT NULL
);
CREATE INDEX steps_of ON steps (notification_id);
-- A notification's outcome, once it has one; no row is pending.
CREATE TABLE outcomes (
    notification_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX outcomes_by_tenant_status ON outcomes (tenant_id, status, notification_id);
CREATE INDEX outcomes_finished ON outcomes (finished_at);
CREATE SEQUENCE shape_batches;
