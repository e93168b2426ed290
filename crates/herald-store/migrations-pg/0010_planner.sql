-- What the planner should know before ANALYZE has seen a busy table.
-- A fresh schema is analyzed first while it is nearly empty; from those
-- statistics a batch lookup of attempts by notification looked like most
-- of the table, and the cached plan scanned `attempts` whole on every
-- cascade step for the rest of the run (herald-bench --database-url,
-- BENCHMARKS.md "PostgreSQL"). Each notification has a few attempts and
-- each attempt at most two receipts: say so, and every ANALYZE keeps it.
ALTER TABLE attempts ALTER COLUMN notification_id SET (n_distinct = -0.4);
ALTER TABLE receipts ALTER COLUMN attempt_id SET (n_distinct = -0.6);
