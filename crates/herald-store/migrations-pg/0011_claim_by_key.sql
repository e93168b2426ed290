-- The claim scans each (tenant, channel) with sends left on its own, in
-- due order, so a key at its bound of sends in flight costs nothing
-- however long its backlog: before, its queued rows were read and
-- filtered out one by one on every claim (1,500 blocks a claim under a
-- backlog; BENCHMARKS.md "The claim, key by key"). The keys themselves
-- are found by skipping through this index, one probe per key.
CREATE INDEX attempts_queued_by_key ON attempts (tenant_id, channel, next_try_at)
    WHERE status = 'queued';
