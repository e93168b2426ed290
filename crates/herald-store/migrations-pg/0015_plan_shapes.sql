-- A plan row held the whole plan, addresses included, so `plans` grew a
-- row per recipient of each type instead of one per type and
-- configuration, as 0013 meant, and a node's cache of parsed plans turned
-- over once a platform had a few thousand recipients. New notifications
-- keep their plan's shape in `plans` (every channel's reach emptied; see
-- `reach.rs`) and its reach here: per channel its addresses, or why there
-- are none. Rows from before keep a NULL reach and their whole plan, which
-- reads back as it was.
ALTER TABLE notifications ADD COLUMN reach TEXT;
