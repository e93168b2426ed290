-- A notification's plan is one of few (one per notification type and
-- configuration of a tenant), and was copied into every notification
-- (~300 of its ~770 bytes in herald-bench), so every cascade step wrote
-- it again with the row's new version and parsed it again on load. Plans
-- are now stored once, by the SHA-256 of their JSON text, and nodes keep
-- them parsed (`postgres/plans.rs`). No foreign key: its check would take
-- a share lock on the plan's row for every insert, the same row for every
-- notification of a type; a plan row is never updated or deleted.
CREATE TABLE plans (
    id     BIGSERIAL PRIMARY KEY,
    sha256 TEXT COLLATE "C" NOT NULL UNIQUE,
    plan   TEXT NOT NULL
);
INSERT INTO plans (sha256, plan)
    SELECT DISTINCT encode(sha256(convert_to(plan, 'UTF8')), 'hex'), plan
    FROM notifications;
ALTER TABLE notifications ADD COLUMN plan_id BIGINT;
UPDATE notifications n SET plan_id = p.id FROM plans p
    WHERE p.sha256 = encode(sha256(convert_to(n.plan, 'UTF8')), 'hex');
ALTER TABLE notifications ALTER COLUMN plan_id SET NOT NULL;
ALTER TABLE notifications DROP COLUMN plan;
