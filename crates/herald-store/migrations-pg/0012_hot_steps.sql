-- A cascade step rewrites its notification (verdicts, wake time) two or
-- three times before the last one, and none of those versions could be a
-- HOT update (a new version on the same page, no new index entries):
-- `updated_at`, which every step changes, was the key of the retention
-- index. Retention now reads `finished_at`, set only by the step that
-- finishes a notification (and by any later one, as `updated_at` was), so
-- a step that keeps the status, the wake time and the unfinished state
-- touches no indexed column; and pages keep room for the new version
-- (fillfactor), which the old one's on-page pruning frees again.
-- BENCHMARKS.md "PostgreSQL, fourth sitting".
ALTER TABLE notifications ADD COLUMN finished_at BIGINT;
UPDATE notifications SET finished_at = updated_at
    WHERE status IN ('delivered', 'failed', 'cancelled', 'expired');
DROP INDEX notifications_finished;
CREATE INDEX notifications_finished ON notifications (finished_at)
    WHERE finished_at IS NOT NULL;
ALTER TABLE notifications SET (fillfactor = 70);
