-- Real providers: every integration has a random hook id for its receipt
-- webhook (/v1/hooks/{hook_id}); the operator keeps integrations that
-- tenants without their own inherit; an attempt remembers the hook of the
-- integration it went out through, so a receipt is matched only within
-- that integration's messages.

ALTER TABLE integrations ADD COLUMN hook_id TEXT;
UPDATE integrations SET hook_id = lower(hex(randomblob(16))) WHERE hook_id IS NULL;
CREATE UNIQUE INDEX integrations_by_hook ON integrations (hook_id);

CREATE TABLE operator_integrations (
    channel    TEXT PRIMARY KEY NOT NULL,
    provider   TEXT NOT NULL,
    settings   TEXT NOT NULL,
    confirm    TEXT NOT NULL,
    window_s   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    hook_id    TEXT NOT NULL UNIQUE
) STRICT;

ALTER TABLE attempts ADD COLUMN via_hook TEXT;
DROP INDEX attempts_by_provider_message;
CREATE INDEX attempts_by_hook_message ON attempts (via_hook, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- The claim scans due attempts in order and skips integrations that have
-- as many sends in flight as they may: covering, so skipping reads no rows.
DROP INDEX attempts_queued;
CREATE INDEX attempts_queued ON attempts (next_try_at, tenant_id, channel) WHERE status = 'queued';

ALTER TABLE sim_messages ADD COLUMN hook_id TEXT NOT NULL DEFAULT '';
