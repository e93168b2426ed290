-- An optional bound on sends per second per integration (the dispatcher
-- spaces its sends to it).
ALTER TABLE integrations ADD COLUMN max_per_second REAL;
ALTER TABLE operator_integrations ADD COLUMN max_per_second REAL;
